"""Two CPU processes under `accelerate launch` train like one process with the same effective batch.

`accelerate launch --cpu` starts a single process unless an MPI hostfile is given (accelerate 1.15's
simple launcher), so the two processes are started through torchrun with `--multi_gpu` and
`ACCELERATE_USE_CPU=true`, which makes Accelerate use gloo on CPU (DistributedType.MULTI_CPU).

Tolerance: the per-step losses agree to 1e-5 relative. The samples and every random draw are the
same in both runs; what differs is the order of float reductions (DDP's all-reduce of two
micro-batch gradients vs. accumulation of the same two in one process), about 1e-7 per step."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from cocogold.synth import make_synthetic_coco

STEPS, RTOL = 3, 1e-5
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg"}
ACCELERATE = str(Path(sys.executable).parent / "accelerate")


def train_args(coco: Path, out: Path) -> list:
    return ["-m", "cocogold.train.loop", "--config", "tiny", "--coco_root", str(coco), "--out", str(out), "--max_steps", str(STEPS),
            "--size", "32", "--batch_size", "4", "--micro_batch_size", "2", "--checkpoint_every", str(STEPS),
            "--validate_every", "0", "--log_with", "tensorboard"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_log(run: Path) -> list:
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def files(run: Path) -> list:
    "Files of the run folder, with TensorBoard's timestamped names reduced to their kind."
    return sorted(p.name if "tfevents" not in p.name else "tfevents" for p in run.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple:
    tmp = tmp_path_factory.mktemp("distributed")
    coco = make_synthetic_coco(tmp / "coco", "train", n=12, seed=0, size=(96, 80))
    subprocess.run([sys.executable, *train_args(coco, tmp / "one")], env=ENV, check=True, capture_output=True)
    launch = [ACCELERATE, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
              "--dynamo_backend", "no", "--main_process_port", str(free_port())]
    subprocess.run([*launch, *train_args(coco, tmp / "two")], env={**ENV, "ACCELERATE_USE_CPU": "true"}, check=True, capture_output=True)
    return tmp / "one", tmp / "two"


def test_two_processes_train_on_different_halves_of_the_same_batches(runs):
    one, two = read_log(runs[0]), read_log(runs[1])
    assert [r["samples"] for r in two] == [r["samples"] for r in one]
    for r in two:
        first, second = r["samples"][:2], r["samples"][2:]  # gathered in process order: process 0, then 1
        assert not set(first) & set(second)
    checkpoint = runs[1] / "checkpoints" / f"step-{STEPS:07d}"
    assert (checkpoint / "random_states_1.pkl").exists(), "the run did not have two processes"


def test_losses_match_one_process_with_the_same_effective_batch(runs):
    one, two = read_log(runs[0]), read_log(runs[1])
    assert [r["step"] for r in two] == list(range(1, STEPS + 1))
    assert [r["loss"] for r in two] == pytest.approx([r["loss"] for r in one], rel=RTOL)
    assert [r["lr"] for r in two] == [r["lr"] for r in one]


def test_only_the_main_process_writes(runs):
    "Same files as the one-process run (one log, one set of TensorBoard files), plus process 1's RNG state in checkpoints."
    assert files(runs[1]) == sorted(files(runs[0]) + ["random_states_1.pkl"])
