"""Copy what a finished `cocogold_demo` run measured into the repository, where the docs quote it from.

- `OUT/metrics.json` -> `nbs/results/demo.json`, with `measured` added: the date the run finished (the file's
  modification time, UTC) and the CPU count of this machine (run it where the demo ran, as `make results` does);
- `OUT/examples.png` -> `nbs/results/demo_examples.png`, the figure of the home page and README, as a
  256-colour PNG (a third of the size, no visible difference on these flat synthetic scenes).

With `--backbones`, OUT is a run of `cocogold_demo --compare-backbones --skip-comparison` (otherwise default
settings) and its metrics.json goes to `nbs/results/backbones.json` instead (`make backbone-results`).

The run must use the demo's default settings (`cocogold_demo --out OUT`, no other option): the figures the
docs quote are those of `make demo`, and nbs/18_demo.ipynb checks the file's `config` against `DemoConfig()`.
Then rewrite README.md (`python tools/build_docs.py --readme`); `make results` does all three steps.

Usage (from the project root):
    python tools/refresh_results.py demo_out
    python tools/refresh_results.py --backbones demo_backbones
"""
import argparse
import datetime
import json
import os
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DEMO_RESULTS = ROOT / "nbs" / "results" / "demo.json"
DEMO_FIGURE = ROOT / "nbs" / "results" / "demo_examples.png"
BACKBONE_RESULTS = ROOT / "nbs" / "results" / "backbones.json"


def demo_results(out) -> dict:
    "The metrics of the demo run in the folder `out`, with `measured`: {date (YYYY-MM-DD, UTC), cpus}."
    metrics_file = Path(out) / "metrics.json"
    if not metrics_file.is_file(): raise SystemExit(f"{metrics_file} not found: run `cocogold_demo --out {out}` first")
    finished = datetime.datetime.fromtimestamp(metrics_file.stat().st_mtime, datetime.timezone.utc)
    return {**json.loads(metrics_file.read_text()),
            "measured": {"date": finished.date().isoformat(), "cpus": len(os.sched_getaffinity(0))}}


def main(argv=None):
    "Copy a demo run's metrics.json and examples.png into nbs/results/ (demo.json and demo_examples.png)."
    cli = argparse.ArgumentParser(description=main.__doc__)
    cli.add_argument("out", help="the demo's output folder (cocogold_demo --out OUT)")
    cli.add_argument("--backbones", action="store_true", help="OUT compared the backbones: write nbs/results/backbones.json only")
    args = cli.parse_args(argv)
    results = demo_results(args.out)
    if args.backbones:
        if "backbones" not in results: raise SystemExit(f"{args.out}/metrics.json has no backbones: run `cocogold_demo --compare-backbones`")
        BACKBONE_RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        return print(f"wrote {BACKBONE_RESULTS.relative_to(ROOT)}")
    DEMO_RESULTS.parent.mkdir(parents=True, exist_ok=True)
    DEMO_RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    Image.open(Path(args.out) / "examples.png").convert("RGB").quantize(256).save(DEMO_FIGURE, optimize=True)
    print(f"wrote {DEMO_RESULTS.relative_to(ROOT)} and {DEMO_FIGURE.relative_to(ROOT)}; now `python tools/build_docs.py --readme`")


if __name__ == "__main__": main()
