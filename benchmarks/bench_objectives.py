"""IoU and inference time of the e2e objective (`cocogold.e2e`) against the diffusion objective, at equal training wall-clock.

The demo's setting (`cocogold.demo`): the bundled tiny base, synthetic COCO splits at 64 px, the demo's learning
rate and batch. Training time is the sum of the optimizer steps' seconds in `log.jsonl` (set-up, data splits and
checkpoints excluded). Each objective first trains `--calibration-steps` steps to estimate its seconds per step;
then it trains from the base for as many steps as fit in `--seconds` (no validation), resuming for more steps
while the summed step times fall short by more than a step; steps and seconds are printed.

Evaluation on the test split (`evaluate_pipeline`, same batch size for all): the e2e model in its single-step mode;
the diffusion model with every combination of steps {1, 4} and ensemble size {1, 3}, the best by test mIoU marked
(chosen on the test split itself: optimistic for the diffusion baseline). For each, the white read-back threshold
is first calibrated on the val split as the demo does. Seconds per image are wall-clock of the evaluation call
divided by the number of test images, measured in this same run.

Needs the e2e objective registered in `cocogold.train.OBJECTIVES` (/tmp/e2e_train_patch.md).
Usage: `python benchmarks/bench_objectives.py [--seconds 300] [--n-train 600] [--n-test 120] [--out DIR]`."""
import argparse
import dataclasses
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from cocogold.demo import DemoConfig, calibrate_threshold, demo_train_config, make_splits, split_dataset
from cocogold.evaluate import evaluate_pipeline
from cocogold.pipeline import CocogoldPipeline
from cocogold.train import OBJECTIVES, train

DIFFUSION_SETTINGS = [(steps, ensemble) for steps in (1, 4) for ensemble in (1, 3)]


def step_seconds(run: Path) -> list:
    "Seconds of each optimizer step of the run in `run`, from its `log.jsonl`."
    return [json.loads(line)["seconds"] for line in (run / "log.jsonl").read_text().splitlines()]


def train_for(config: DemoConfig, objective: str, steps: int, datasets: dict, run: Path, seconds: float = 0) -> Path:
    """Train `objective` from the base into `run` for `steps` optimizer steps, then, while the summed step times of
    `log.jsonl` fall short of `seconds` by more than a step, resume for the steps that fit. Returns the model folder."""
    demo = dataclasses.replace(config, objective=objective, max_steps=steps)
    train_config = dataclasses.replace(demo_train_config(demo, run), validate_every=0, checkpoint_every=steps)
    model = train(train_config, train_dataset=datasets["train"])
    for _ in range(3):
        done = step_seconds(run)
        more = int((seconds - sum(done)) / statistics.median(done))
        if more < 1: break
        train_config = dataclasses.replace(train_config, max_steps=train_config.max_steps + more)
        model = train(train_config, resume=True, train_dataset=datasets["train"])
    return model


def evaluate(model: Path, datasets: dict, config: DemoConfig, steps: int, ensemble: int, batch_size: int) -> dict:
    "Test-split scores of `model` with `steps` and `ensemble`, after calibrating the threshold on val; adds seconds per image."
    pipe = CocogoldPipeline.from_pretrained(model)
    pipe.set_progress_bar_config(disable=True)
    threshold, _ = calibrate_threshold(pipe, datasets["val"], config.n_val, steps, config.seed)
    pipe.register_to_config(threshold=threshold)
    start = time.perf_counter()
    summary = evaluate_pipeline(pipe, datasets["test"], config.n_test, seen_categories=config.seen, num_inference_steps=steps,
                                ensemble_size=ensemble, batch_size=batch_size, seed=config.seed, progress=False)
    seconds_per_image = (time.perf_counter() - start) / config.n_test
    return dict(mode=pipe.config.prediction_mode, steps=steps, ensemble=ensemble, threshold=threshold, miou=summary["miou"],
                oiou=summary["oiou"], seconds_per_image=seconds_per_image)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300, help="training wall-clock per objective")
    parser.add_argument("--calibration-steps", type=int, default=10)
    parser.add_argument("--n-train", type=int, default=DemoConfig.n_train)
    parser.add_argument("--n-val", type=int, default=DemoConfig.n_val)
    parser.add_argument("--n-test", type=int, default=DemoConfig.n_test)
    parser.add_argument("--batch-size", type=int, default=DemoConfig.batch_size, help="training batch")
    parser.add_argument("--eval-batch-size", type=int, default=8)
    parser.add_argument("--out", default=None, help="working folder (default: a temporary one)")
    args = parser.parse_args()
    if "e2e" not in OBJECTIVES: raise SystemExit("cocogold.train.OBJECTIVES has no 'e2e': apply the e2e training patch first")
    torch.set_num_threads(1)
    config = DemoConfig(n_train=args.n_train, n_val=args.n_val, n_test=args.n_test, batch_size=args.batch_size)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or tmp)
        root = make_splits(out / "data", config)
        datasets = {split: split_dataset(root, split, config) for split in ("train", "val", "test")}
        rows, trained = [], {}
        for objective in ("diffusion", "e2e"):
            train_for(config, objective, args.calibration_steps, datasets, out / f"calibrate-{objective}")
            estimate = statistics.median(step_seconds(out / f"calibrate-{objective}")[2:])
            trained[objective] = train_for(config, objective, max(1, int(args.seconds / estimate)), datasets, out / objective, args.seconds)
            times = step_seconds(out / objective)
            print(f"{objective:9s}: {len(times)} steps, {sum(times):.1f} s of optimizer steps (median {statistics.median(times):.3f} s/step), "
                  f"final loss {json.loads((out / objective / 'log.jsonl').read_text().splitlines()[-1])['loss']:.4f}")
        rows.append(dict(objective="e2e", **evaluate(trained["e2e"], datasets, config, 1, 1, args.eval_batch_size)))
        for steps, ensemble in DIFFUSION_SETTINGS:
            rows.append(dict(objective="diffusion", **evaluate(trained["diffusion"], datasets, config, steps, ensemble, args.eval_batch_size)))
    best = max((r for r in rows if r["objective"] == "diffusion"), key=lambda r: r["miou"])
    print(f"\n{'objective':9s} {'mode':11s} {'steps':>5s} {'ens':>3s} {'thr':>4s} {'mIoU':>6s} {'oIoU':>6s} {'s/image':>8s}")
    for r in rows:
        mark = "  <- best diffusion" if r is best else ""
        print(f"{r['objective']:9s} {r['mode']:11s} {r['steps']:5d} {r['ensemble']:3d} {r['threshold']:4.1f} "
              f"{100 * r['miou']:6.1f} {100 * r['oiou']:6.1f} {r['seconds_per_image']:8.4f}{mark}")
    e2e = rows[0]
    print(f"\ne2e / best diffusion: mIoU {e2e['miou']:.3f} vs {best['miou']:.3f}; "
          f"time per image ratio {e2e['seconds_per_image'] / best['seconds_per_image']:.2f}")


if __name__ == "__main__":
    main()
