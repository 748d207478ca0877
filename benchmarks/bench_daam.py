"""DAAM (training-free) on the demo's synthetic splits with the bundled tiny base: the threshold calibrated on the
validation split, then seen / unseen mIoU on the test split at the default threshold (0.4) and at the calibrated one.

Writes the figures `nbs/15b_daam.ipynb` quotes. Usage (a few minutes on 2 cores):
`nice -n 10 python benchmarks/bench_daam.py --data /tmp/daam_data --out nbs/results/daam.json [--threads 1]`"""
import argparse
import json
import os
import time
from datetime import date
from pathlib import Path

import torch

from cocogold.daam import DAAM_THRESHOLDS, DAAMConfig, daam_method
from cocogold.demo import DemoConfig, make_splits, split_dataset
from cocogold.diagnostics import calibrate_threshold
from cocogold.evaluate import evaluate_pipeline
from cocogold.tiny_base import tiny_base_path


def test_scores(pipe, test, config: DemoConfig) -> dict:
    "Seen / unseen / harmonic mIoU, P@t and the wall-clock ms per image of `pipe` on the test split."
    start = time.perf_counter()
    s = evaluate_pipeline(pipe, test, seen_categories=config.seen, batch_size=32, seed=config.seed, progress=False)
    return dict(threshold=pipe.config.threshold, seen=s["seen"]["miou"], unseen=s["unseen"]["miou"], harmonic=s["harmonic"],
                miou=s["miou"], precision_at=s["precision_at"], per_class={c: v["iou"] for c, v in s["per_class"].items()},
                ms_per_image=1000 * (time.perf_counter() - start) / s["n_samples"])


def main(data: Path, out: Path) -> dict:
    config = DemoConfig(n_train=8)  # the demo's val and test splits (each split has its own seed); no training here
    make_splits(data, config)
    val, test = split_dataset(data, "val", config), split_dataset(data, "test", config)
    pipe = daam_method(tiny_base_path())
    default = test_scores(pipe, test, config)
    start = time.perf_counter()
    best, by_threshold = calibrate_threshold(pipe, val, len(val), None, seed=config.seed, thresholds=DAAM_THRESHOLDS)
    calibration_seconds = time.perf_counter() - start
    pipe.config.threshold = best
    results = dict(date=str(date.today()), cpus=os.cpu_count(), threads=torch.get_num_threads(), base="bundled tiny base",
                   config={k: v for k, v in vars(DAAMConfig()).items()}, n_val=len(val), n_test=len(test),
                   calibration=dict(best=best, val_miou=by_threshold, seconds=calibration_seconds),
                   default=default, calibrated=test_scores(pipe, test, config),
                   command="nice -n 10 python benchmarks/bench_daam.py --data DIR --out nbs/results/daam.json --threads 1")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, default=list) + "\n")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder for the synthetic splits (rewritten)")
    parser.add_argument("--out", type=Path, default=Path("nbs/results/daam.json"))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    r = main(args.data, args.out)
    print(f"threshold {r['calibration']['best']} (val); test seen {100 * r['calibrated']['seen']:.1f}, unseen "
          f"{100 * r['calibrated']['unseen']:.1f} (at 0.4: {100 * r['default']['seen']:.1f} / {100 * r['default']['unseen']:.1f})")
