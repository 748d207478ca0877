"""Benchmark the cocogold data layer against the original cocogold's methods, measured in the same run.

1. Samples per second at 512 px from 640x480 JPEGs (synthetic COCO written to a temporary folder):
   `SegmentationDataset` on the panoptic files, in one process and with 2 DataLoader workers, next to the
   original cocogold's sample path: pycocotools `COCO` over the instances file, a LANCZOS-resized crop and
   polygons rasterised by drawing them on a pyplot figure (same crops, chosen by `cocogold.crops`).
   The two single-process rates are timed in alternating slices, so that load from other processes on
   the machine affects both alike. Target: >= 5x per process.
2. Index build for a COCO-train-sized annotation file generated without images (118k images, ~820k
   segments by default): `read_panoptic_json` + the dataset's image filtering, next to pycocotools `COCO`
   over the matching instances file + per-image filtering by category and size. Each runs in a fresh
   process; time and peak RSS are reported. Target: <= 0.5x both. Also reported: cocogold's instances
   reader on the same instances file, and the private memory of 2 DataLoader workers holding the index.

Usage: `python benchmarks/bench_data.py [--samples 200] [--images 118000] [--part all|samples|index]`."""
import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

BLOG = ["car", "dining table", "chair", "train", "airplane", "giraffe", "clock", "toilet", "bed", "bird", "truck",
        "cat", "horse", "dog"]


# ---------------------------------------------------------------- 1. sample throughput

def matplotlib_polygon_mask(polygons: list, size: int) -> np.ndarray:
    """The original cocogold's mask path: a `size` x `size` pyplot figure showing a black image, each polygon
    (Kx2 output-pixel coordinates) added as a filled, non-antialiased patch, the canvas read back as a mask."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MplPath
    dpi = 72
    fig, ax = plt.subplots(1, figsize=[size / dpi, size / dpi], tight_layout={"pad": 0})
    fig.set_dpi(dpi)
    ax.imshow(np.zeros((size, size, 3)))
    for poly in polygons:
        codes = [MplPath.MOVETO] + [MplPath.LINETO] * (len(poly) - 1) + [MplPath.CLOSEPOLY]
        ax.add_patch(PathPatch(MplPath(np.vstack([poly, poly[:1]]), codes), facecolor="white", edgecolor="white", lw=4, antialiased=False))
    ax.axis("off")
    fig.canvas.draw()
    buffer, (w, h) = fig.canvas.print_to_buffer()
    plt.close(fig)
    return np.frombuffer(buffer, np.uint8).reshape(h, w, 4)[..., 0] > 127


class MatplotlibBaseline(torch.utils.data.Dataset):
    """The original cocogold's sample path, for comparison: a pycocotools `COCO` index with per-image filtering,
    each crop attempt cropped and resized with LANCZOS, masks drawn with matplotlib. Crop rules as in cocogold.crops."""
    def __init__(self, root, split, size=512, categories=BLOG, min_side=300, seed=0):
        from pycocotools.coco import COCO
        with contextlib.redirect_stdout(io.StringIO()): self.coco = COCO(str(Path(root)/f"annotations/instances_{split}2017.json"))
        self.root, self.split, self.size, self.seed = Path(root), split, size, seed
        self.cat_ids = self.coco.getCatIds(catNms=list(categories))
        self.image_ids = [i for i in sorted(self.coco.getImgIds()) if min(self.coco.imgs[i]["width"], self.coco.imgs[i]["height"]) >= min_side
                          and self.coco.getAnnIds(imgIds=i, catIds=self.cat_ids, iscrowd=False)]

    def __len__(self): return len(self.image_ids)

    def __getitem__(self, i):
        from PIL import Image
        from cocogold.crops import choose_crop, usable_instances
        from cocogold.targets import paint_target
        rng = np.random.default_rng([self.seed, 0, i])
        info = self.coco.imgs[self.image_ids[i]]
        anns = self.coco.loadAnns(self.coco.getAnnIds(imgIds=info["id"]))
        choice = choose_crop([a["bbox"] for a in anns], [a["area"] for a in anns], [a["iscrowd"] for a in anns],
                             [a["category_id"] in self.cat_ids for a in anns], info["width"], info["height"], rng)
        mask_instances = [k for k in choice.usable if anns[k]["category_id"] == anns[choice.instance]["category_id"]]
        pil = Image.open(self.root/f"images/{self.split}2017"/info["file_name"])
        crop = pil.crop(choice.box).resize((self.size, self.size), resample=Image.LANCZOS)
        scale = self.size / (choice.box[2] - choice.box[0])
        polygons = [(np.asarray(p).reshape(-1, 2) - choice.box[:2]) * scale for k in mask_instances
                    if isinstance(anns[k]["segmentation"], list) for p in anns[k]["segmentation"]]
        mask = torch.from_numpy(matplotlib_polygon_mask(polygons, self.size))
        pixels = torch.tensor(np.array(crop.convert("RGB"), dtype=np.float32).transpose(2, 0, 1) / 255.0)
        return dict(image=pixels * 2 - 1, target=paint_target(pixels, mask) * 2 - 1, mask=mask, image_id=info["id"], crop_box=choice.box)


def interleaved_samples_per_second(datasets: list, counts: list, rounds: int = 10) -> list:
    """Samples per second of each map-style dataset, timed in `rounds` alternating slices of `counts[k] / rounds`
    samples each, so that a change in the machine's load affects all of them alike (after a 3-sample warm-up)."""
    for ds in datasets:
        for i in range(3): ds[i % len(ds)]
    seconds, done = [0.0] * len(datasets), [0] * len(datasets)
    for _ in range(rounds):
        for k, ds in enumerate(datasets):
            start = time.perf_counter()
            for _ in range(counts[k] // rounds):
                ds[done[k] % len(ds)]; done[k] += 1
            seconds[k] += time.perf_counter() - start
    return [n / t for n, t in zip(done, seconds)]


def loader_samples_per_second(dataset, n: int, workers: int) -> tuple:
    "Samples per second through a DataLoader with `workers` workers (batch 8): overall, and after the first batch."
    loader = torch.utils.data.DataLoader(dataset, batch_size=8, num_workers=workers, sampler=[i % len(dataset) for i in range(n)])
    start = time.perf_counter()
    batches = iter(loader)
    first = len(next(batches)["image_id"])
    warm = time.perf_counter()
    rest = sum(len(b["image_id"]) for b in batches)
    end = time.perf_counter()
    return (first + rest) / (end - start), rest / (end - warm)


def bench_samples(n: int, images: int):
    from cocogold.dataset import SegmentationDataset
    from cocogold.sources.coco import open_coco
    from cocogold.synth import make_synthetic_coco
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as d:
        start = time.perf_counter()
        root = make_synthetic_coco(d, "train", n=images, seed=0, size=(640, 480), max_objects=6)
        print(f"[samples] wrote {images} synthetic 640x480 images in {time.perf_counter() - start:.1f} s")
        ours = SegmentationDataset(open_coco(root, "train"), size=512, min_side=300)
        base = MatplotlibBaseline(root, "train", size=512)
        one, ref = interleaved_samples_per_second([ours, base], [n, max(n // 4, 20)])
        two, two_warm = loader_samples_per_second(ours, 2 * n, workers=2)
        print(f"[samples] cocogold SegmentationDataset, 512 px, 1 process: {one:.1f} samples/s (timed interleaved with the baseline)")
        print(f"[samples] baseline (pycocotools + matplotlib polygons), 1 process: {ref:.1f} samples/s")
        print(f"[samples] speed-up per process: {one / ref:.1f}x (target >= 5x: {'PASS' if one / ref >= 5 else 'FAIL'})")
        print(f"[samples] cocogold with 2 DataLoader workers (batch 8): {two:.1f} samples/s with start-up, "
              f"{two_warm:.1f} samples/s after the first batch (machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})")



# ---------------------------------------------------------------- 2. index build

THING_NAMES = BLOG + ["person", "elephant", "zebra"] + [f"thing {k}" for k in range(63)]  # 80 thing categories


def _polygon_pool(rng, n: int) -> list:
    "`n` (json text, bbox, area) polygons of 10-40 vertices inside 240x240 (so inside every image), 2-decimal coordinates like COCO's."
    pool = []
    for _ in range(n):
        k = int(rng.integers(10, 41))
        cx, cy, r = rng.uniform(60, 180), rng.uniform(60, 180), rng.uniform(8, 55)
        t = np.sort(rng.uniform(0, 2 * np.pi, k))
        xy = np.round(np.stack([cx + r * np.cos(t), cy + r * np.sin(t) * rng.uniform(0.5, 1)], 1), 2)
        x0, y0 = xy.min(0); x1, y1 = xy.max(0)
        pool.append((json.dumps(xy.reshape(-1).tolist()), [round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)],
                     round(float((x1 - x0) * (y1 - y0) * 0.6), 2)))
    return pool


def write_coco_sized_files(folder: Path, n_images: int, seed: int = 0) -> tuple:
    """Write `instances.json` and `panoptic.json` for `n_images` images (sizes 640x480, 480x640, some under
    300 px) and ~7 segments per image, without image files. Returns (paths, number of segments)."""
    rng = np.random.default_rng(seed)
    pool = _polygon_pool(rng, 4000)
    cats = [dict(supercategory="thing", id=k + 1, name=n) for k, n in enumerate(THING_NAMES)]
    sizes = [(640, 480), (480, 640), (640, 427), (500, 375), (640, 240)]
    inst, pan = open(folder/"instances.json", "w"), open(folder/"panoptic.json", "w")
    head = '{"info": {"description": "bench"}, "licenses": [], "images": ['
    inst.write(head); pan.write(head)
    counts = rng.poisson(6.0, n_images) + 1
    for i in range(n_images):
        w, h = sizes[int(rng.integers(0, len(sizes)))]
        text = (f'{"," if i else ""}{{"license": 3, "file_name": "{i + 1:012d}.jpg", "coco_url": "http://images.cocodataset.org/train2017/{i + 1:012d}.jpg", '
                f'"height": {h}, "width": {w}, "date_captured": "2013-11-14 11:18:45", "flickr_url": "http://farm9.staticflickr.com/8186/{i:010d}_d2a3d0bb5b_z.jpg", "id": {i + 1}}}')
        inst.write(text); pan.write(text)
    inst.write('], "annotations": ['); pan.write('], "annotations": [')
    ann_id = 0
    for i in range(n_images):
        infos = []
        for _ in range(counts[i]):
            ann_id += 1
            poly, bbox, area = pool[int(rng.integers(0, len(pool)))]
            cat = int(rng.integers(1, 81))
            crowd = int(rng.random() < 0.01)
            segm = ('{"counts": [' + ", ".join(str(int(v)) for v in rng.integers(0, 400, 60)) + '], "size": [480, 640]}') if crowd else f"[{poly}]"
            inst.write(f'{"," if ann_id > 1 else ""}{{"segmentation": {segm}, "area": {area}, "iscrowd": {crowd}, "image_id": {i + 1}, '
                       f'"bbox": {json.dumps(bbox)}, "category_id": {cat}, "id": {ann_id}}}')
            infos.append(f'{{"id": {int(rng.integers(1, 2**24))}, "category_id": {cat}, "iscrowd": {crowd}, '
                         f'"bbox": [{int(bbox[0])}, {int(bbox[1])}, {int(bbox[2]) + 1}, {int(bbox[3]) + 1}], "area": {int(area)}}}')
        pan.write(f'{"," if i else ""}{{"segments_info": [{", ".join(infos)}], "file_name": "{i + 1:012d}.png", "image_id": {i + 1}}}')
    tail = '], "categories": ' + json.dumps(cats) + "}"
    inst.write(tail); pan.write(tail); inst.close(); pan.close()
    return folder/"instances.json", folder/"panoptic.json", ann_id


def _private_kb() -> int:
    "This process's private (unshared) memory in kB, from /proc/self/smaps_rollup."
    fields = dict(line.split(":") for line in Path("/proc/self/smaps_rollup").read_text().splitlines()[1:])
    return sum(int(fields[k].split()[0]) for k in ("Private_Clean", "Private_Dirty"))


class _IndexTouch(torch.utils.data.Dataset):
    "Reads the records of a SegmentationDataset's images (index only, no pixels) and reports the worker's private memory."
    def __init__(self, ds): self.ds = ds
    def __len__(self): return len(self.ds)
    def __getitem__(self, i):
        rec = self.ds.source.record(int(self.ds.rows[i]))
        return len(rec), (_private_kb() if i % 1000 == 999 else 0)


def _peak_rss_mb() -> float:
    "Peak resident memory of this process in MB (VmHWM: unlike ru_maxrss, not inherited from the parent at fork)."
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def measure(method: str, path: str, extra: str = "") -> dict:
    "Run one index-building method on `path` in this process; time and memory figures as a dict."
    usage = _peak_rss_mb
    if method == "pycocotools":
        from pycocotools.coco import COCO
        before = usage(); start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()): coco = COCO(path)
        cat_ids = coco.getCatIds(catNms=BLOG)
        kept = [i for i in coco.getImgIds() if min(coco.imgs[i]["width"], coco.imgs[i]["height"]) >= 300
                and coco.getAnnIds(imgIds=i, catIds=cat_ids, iscrowd=False)]
        return dict(seconds=time.perf_counter() - start, peak_mb=usage(), import_mb=before, images=len(kept))
    from cocogold.dataset import SegmentationDataset
    from cocogold.sources.coco import PanopticSource, InstancesSource
    before = usage(); start = time.perf_counter()
    source = PanopticSource(path, "png", "images") if method == "panoptic" else InstancesSource(path, "images")
    ds = SegmentationDataset(source, categories=BLOG, min_side=300)
    out = dict(seconds=time.perf_counter() - start, peak_mb=usage(), import_mb=before, images=len(ds),
               index_mb=source.index.nbytes / 2**20, segments=len(source.index.seg_ids))
    if method == "panoptic" and extra == "workers":
        loader = torch.utils.data.DataLoader(_IndexTouch(ds), batch_size=1000, num_workers=2)
        private = [int(b[1].max()) for b in loader]
        out.update(parent_private_mb=_private_kb() / 1024, worker_private_mb=max(private) / 1024)
    return out


def run_measure(method: str, path: Path, extra: str = "") -> dict:
    "`measure` in a fresh Python process, so that peak RSS belongs to that method alone."
    res = subprocess.run([sys.executable, __file__, "--measure", method, str(path), extra], capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def bench_index(n_images: int):
    with tempfile.TemporaryDirectory() as d:
        start = time.perf_counter()
        inst, pan, n_segments = write_coco_sized_files(Path(d), n_images)
        print(f"[index] wrote {n_images} images / {n_segments} segments: instances {inst.stat().st_size / 2**20:.0f} MB, "
              f"panoptic {pan.stat().st_size / 2**20:.0f} MB ({time.perf_counter() - start:.0f} s)")
        ref = run_measure("pycocotools", inst)
        ours = run_measure("panoptic", pan, "workers")
        ours_inst = run_measure("instances", inst)
    line = lambda name, r: (f"[index] {name}: {r['seconds']:.1f} s, peak RSS {r['peak_mb']:.0f} MB "
                            f"({r['peak_mb'] - r['import_mb']:.0f} MB above the {r['import_mb']:.0f} MB after imports), {r['images']} images kept")
    print(line("pycocotools COCO(instances) + per-image filtering (original)", ref))
    print(line("cocogold PanopticSource(panoptic) + SegmentationDataset filtering", ours))
    print(line("cocogold InstancesSource(instances) + SegmentationDataset filtering", ours_inst))
    t, m = ours["seconds"] / ref["seconds"], ours["peak_mb"] / ref["peak_mb"]
    print(f"[index] panoptic vs original: time {t:.2f}x, peak RSS {m:.2f}x (target <= 0.5x both: {'PASS' if t <= 0.5 and m <= 0.5 else 'FAIL'})")
    print(f"[index] instances reader vs original: time {ours_inst['seconds'] / ref['seconds']:.2f}x, peak RSS {ours_inst['peak_mb'] / ref['peak_mb']:.2f}x")
    print(f"[index] index arrays: {ours['index_mb']:.1f} MB for {ours['segments']} segments; after reading every record, "
          f"each of 2 DataLoader workers holds {ours['worker_private_mb']:.0f} MB of private memory (parent: {ours['parent_private_mb']:.0f} MB)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["all", "samples", "index"], default="all")
    parser.add_argument("--samples", type=int, default=200, help="samples timed per process (the baseline: a quarter)")
    parser.add_argument("--sample-images", type=int, default=24, help="synthetic 640x480 images for the sample benchmark")
    parser.add_argument("--images", type=int, default=118_000, help="images in the generated COCO-train-sized file")
    parser.add_argument("--measure", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return
    if args.part in ("all", "samples"): bench_samples(args.samples, args.sample_images)
    if args.part in ("all", "index"): bench_index(args.images)


if __name__ == "__main__":
    main()
