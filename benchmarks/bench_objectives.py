"""IoU and inference time of the e2e objective (`cocogold.objectives.E2EObjective`) against the diffusion objective, at equal training wall-clock.

The demo's setting (`cocogold.demo`): the bundled tiny base, synthetic COCO splits at 64 px, the demo's learning rate
and batch. `make demo` runs this comparison at its own training budget; this benchmark runs it at any budget:
the e2e objective trains for about `--seconds` of optimizer steps (`cocogold.demo.train_for_seconds`: a 10-step probe
measures the seconds per step), its white threshold is calibrated on the validation split, then
`cocogold.demo.compare_objectives` trains the diffusion objective for the e2e run's optimizer seconds and scores both
on the test split (the diffusion model at each of `DIFFUSION_SETTINGS`), timing inference per image in the same run.
Prints the comparison table (IoU in %).

Usage: `python benchmarks/bench_objectives.py [--seconds 250] [--threads 1] [--n-train 600] [--n-test 120] [--out DIR]`."""
import argparse
import tempfile
from pathlib import Path

import torch

from cocogold.demo import DemoConfig, compare_objectives, make_splits, objectives_markdown, split_dataset, train_for_seconds
from cocogold.diagnostics import calibrate_threshold
from cocogold.pipeline import CocogoldPipeline


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=250, help="optimizer-step seconds of training per objective")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--n-train", type=int, default=DemoConfig.n_train)
    parser.add_argument("--n-test", type=int, default=DemoConfig.n_test)
    parser.add_argument("--out", default=None, help="working folder (default: a temporary one)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = DemoConfig(n_train=args.n_train, n_test=args.n_test)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or tmp)
        root = make_splits(out / "data", config)
        datasets = {split: split_dataset(root, split, config) for split in ("train", "val", "test")}
        e2e = CocogoldPipeline.from_pretrained(train_for_seconds(config, args.seconds, datasets["train"], out / "e2e"))
        e2e.set_progress_bar_config(disable=True)
        e2e.register_to_config(threshold=calibrate_threshold(e2e, datasets["val"], config.n_val, 1, config.seed)[0])
        rows = compare_objectives(config, datasets, e2e, out / "e2e", out / "diffusion")
    print(f"{args.threads} torch thread(s), about {args.seconds:.0f} s of optimizer steps per objective\n")
    print(objectives_markdown(rows))


if __name__ == "__main__":
    main()
