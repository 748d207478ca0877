"""Time per optimizer step of `cocogold.train.loop.train` next to a bare loop doing the same work, and peak memory.

Both loops train the tiny preset's model on the same synthetic COCO at 64 px with the same effective
batch (4 = 2 micro-batches of 2): VAE encoding of image and target, text embeddings, annealed
multi-resolution noise, UNet forward and backward, gradient clipping, an Adam step. The bare loop is
the least code that does this (a plain DataLoader, one generator); `train` adds Accelerate, keyed
per-sample generators, the loss all-reduce and sample gathering, log.jsonl, TensorBoard and tqdm.
Checkpoints and validation are switched off (they happen every few hundred steps in a real run).

Each loop runs in its own process (so peak RSS is its own); the two alternate `--rounds` times in one
run of this script and the ratio compares the medians of all timed steps. Usage:
    python benchmarks/bench_train.py [--steps 20] [--warmup 3] [--rounds 2] [--threads 1]
"""
import argparse
import json
import multiprocessing as mp
import resource
import statistics
import tempfile
import time
from pathlib import Path

SIZE, BATCH, MICRO = 64, 4, 2


def config(coco: Path, out: Path, steps: int):
    from cocogold.train.config import train_config
    return train_config("tiny", **{"data.root": str(coco), "run.out": str(out), "data.size": SIZE, "optim.batch_size": BATCH,
                                   "optim.micro_batch_size": MICRO, "optim.max_steps": steps, "run.checkpoint_every": 10**9,
                                   "validation.every": 0, "run.log_with": "tensorboard"})


def bare_loop(coco: Path, out: Path, steps: int) -> list:
    "Seconds of each optimizer step of the plainest loop doing the same computation."
    import torch
    import torch.nn.functional as F
    from torch.utils.data import DataLoader
    from cocogold.objectives import multi_res_noise
    from cocogold.train.loop import training_dataset, training_head
    cfg = config(coco, out, steps)
    head = training_head(cfg, "cpu")
    unet, vae, scheduler = head.backbone.denoiser, head.backbone.vae, head.noise.scheduler
    generator = torch.Generator().manual_seed(0)
    loader = DataLoader(training_dataset(cfg, cfg.data.train_split), batch_size=MICRO, shuffle=True, drop_last=True, generator=generator)
    optimizer = torch.optim.Adam(unet.parameters(), lr=cfg.optim.lr)
    from cocogold.backbones.base import encode_images
    times, batches, tick = [], iter(loader), time.perf_counter()
    while len(times) < steps:
        for _ in range(BATCH // MICRO):
            try: batch = next(batches)
            except StopIteration: batches = iter(loader); batch = next(batches)
            with torch.no_grad():
                image, target = encode_images(vae, batch["image"]), encode_images(vae, batch["target"])
                text = head.backbone.encode_prompts(batch["prompt"]).hidden_states
            t = torch.randint(0, scheduler.config.num_train_timesteps, (MICRO,), generator=generator)
            strengths = cfg.objective.diffusion.multires_noise_strength * t.float() / scheduler.config.num_train_timesteps
            noise = torch.stack([multi_res_noise(target.shape[1:], s.item(), generator) for s in strengths])
            prediction = unet(torch.cat([image, scheduler.add_noise(target, noise, t)], 1), t, encoder_hidden_states=text).sample
            (F.mse_loss(prediction, head.noise.training_target(target, noise, t)) / (BATCH // MICRO)).backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), cfg.optim.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        now = time.perf_counter(); times.append(now - tick); tick = now
    return times


def cocogold_loop(coco: Path, out: Path, steps: int) -> list:
    "Seconds of each optimizer step of `train`, as it logs them."
    from cocogold.train.loop import train
    train(config(coco, out, steps))
    return [json.loads(line)["seconds"] for line in (out / "log.jsonl").read_text().splitlines()]


def child(kind: str, coco: str, out: str, steps: int, threads: int, queue) -> None:
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    times = (bare_loop if kind == "bare" else cocogold_loop)(Path(coco), Path(out), steps)
    queue.put((kind, times, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed optimizer steps per round")
    parser.add_argument("--warmup", type=int, default=3, help="untimed first steps per round")
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the two loops")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per loop (1 is steadiest on a shared machine)")
    args = parser.parse_args()
    from cocogold.synth import make_synthetic_coco
    ctx, results = mp.get_context("spawn"), {"bare": ([], []), "train": ([], [])}
    with tempfile.TemporaryDirectory() as tmp:
        coco = make_synthetic_coco(Path(tmp) / "coco", "train", n=32, seed=0, size=(96, 80))
        for r in range(args.rounds):
            for kind in ("bare", "train"):
                queue = ctx.Queue()
                proc = ctx.Process(target=child, args=(kind, str(coco), str(Path(tmp) / f"{kind}{r}"), args.warmup + args.steps, args.threads, queue))
                proc.start(); name, times, peak = queue.get(); proc.join()
                results[name][0].extend(times[args.warmup:]); results[name][1].append(peak)
    bare, loop = (statistics.median(results[k][0]) for k in ("bare", "train"))
    print(f"tiny preset, {SIZE} px, effective batch {BATCH} ({BATCH // MICRO} x {MICRO}), {args.rounds} x {args.steps} timed steps each, "
          f"CPU, {args.threads} thread(s)")
    print(f"bare loop:      {1000 * bare:7.1f} ms/step (median), peak RSS {max(results['bare'][1]):7.1f} MB")
    print(f"cocogold train: {1000 * loop:7.1f} ms/step (median), peak RSS {max(results['train'][1]):7.1f} MB")
    print(f"ratio train / bare: {loop / bare:.3f} (target <= 1.10)")


if __name__ == "__main__":
    main()
