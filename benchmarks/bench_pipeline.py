"""Benchmark `CocogoldPipeline` against diffusers' Marigold pipelines on the same tiny components, in one run.

Both pipelines get the same UNet, VAE, text encoder, tokenizer and trailing DDIM scheduler, the same
image, processing resolution, number of steps and ensemble size, and run all ensemble members of an
image in one UNet batch (Marigold with `batch_size=ensemble_size`). Marigold conditions on the empty
prompt (2 tokens); to give both UNets the same work, its cached empty-prompt embedding is replaced by
cocogold's 77-token prompt embedding. Calls alternate between the two pipelines; the figures are the
ratios of median wall times and of median CPU times (the process's CPU seconds, steadier than wall time
on a shared machine; torch runs on one thread by default). Target: cocogold / Marigold <= 1.05.

With `--ensemble-size` > 1 the comparison uses `MarigoldDepthPipeline` when scipy (its affine
ensembling) is installed, else `MarigoldNormalsPipeline` (the same loop, ensembling without scipy).

Usage: `python benchmarks/bench_pipeline.py [--steps 4] [--ensemble-sizes 1 4] [--resolution 128] [--repeats 10]`."""
import argparse
import importlib.util
import statistics
import time

import numpy as np
import torch
from diffusers import MarigoldDepthPipeline, MarigoldNormalsPipeline
from PIL import Image

from cocogold.backbones.tiny import tiny_components
from cocogold.pipeline import CocogoldPipeline

PROMPT = "a dog"


def marigold_for(ensemble_size: int, pipe: CocogoldPipeline):
    "The diffusers Marigold pipeline to compare with, on `pipe`'s components, conditioned like `pipe`."
    components = dict(unet=pipe.unet, vae=pipe.vae, scheduler=pipe.scheduler, text_encoder=pipe.text_encoder,
                      tokenizer=pipe.tokenizer)
    if ensemble_size == 1 or importlib.util.find_spec("scipy"):
        marigold, kwargs = MarigoldDepthPipeline(**components, prediction_type="depth"), {}
    else: marigold, kwargs = MarigoldNormalsPipeline(**components), {"ensembling_kwargs": {"reduction": "mean"}}
    marigold.empty_text_embedding = pipe.backbone.encode_prompts([PROMPT]).hidden_states
    marigold.set_progress_bar_config(disable=True)
    return marigold, kwargs


def time_call(fn) -> tuple:
    "Wall and CPU seconds of one call of `fn`."
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def summary(name: str, times: list) -> str:
    wall, cpu = zip(*times)
    return f"{name} {statistics.median(wall) * 1000:.1f} ms wall (min {min(wall) * 1000:.1f}), {statistics.median(cpu) * 1000:.1f} ms CPU"


def compare(pipe: CocogoldPipeline, image: Image.Image, steps: int, ensemble_size: int, resolution: int, repeats: int):
    "Print median seconds per call of both pipelines and their ratio."
    marigold, extra = marigold_for(ensemble_size, pipe)
    common = dict(num_inference_steps=steps, ensemble_size=ensemble_size, processing_resolution=resolution,
                  batch_size=1, generator=None)
    run_cocogold = lambda: pipe(image, PROMPT, **common)
    run_marigold = lambda: marigold(image, **{**common, "batch_size": ensemble_size}, **extra)
    for fn in (run_cocogold, run_marigold): fn()
    ours, theirs = [], []
    for _ in range(repeats):
        ours.append(time_call(run_cocogold))
        theirs.append(time_call(run_marigold))
    ratios = [statistics.median(t[i] for t in ours) / statistics.median(t[i] for t in theirs) for i in (0, 1)]
    print(f"ensemble {ensemble_size}, {steps} steps, {resolution} px: {summary('cocogold', ours)}; "
          f"{summary(type(marigold).__name__, theirs)}; ratio wall {ratios[0]:.3f}, CPU {ratios[1]:.3f} (target <= 1.05)")
    return ratios


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--ensemble-sizes", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 keeps a shared machine's noise down)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pipe = CocogoldPipeline.from_components(tiny_components(seed=0))
    pipe.set_progress_bar_config(disable=True)
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (args.resolution * 3 // 4, args.resolution, 3),
                                                              dtype=np.uint8))
    print(f"torch {torch.__version__}, {args.threads} thread(s), image {image.size[0]}x{image.size[1]}, {args.repeats} repeats")
    for ensemble_size in args.ensemble_sizes:
        compare(pipe, image, args.steps, ensemble_size, args.resolution, args.repeats)


if __name__ == "__main__":
    main()
