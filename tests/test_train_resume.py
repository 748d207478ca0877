"""Kill-and-resume: a training run killed with SIGKILL in the middle and resumed from its last checkpoint
gives, on CPU, exactly the per-step losses of an uninterrupted run; the lock file the killed run left does not
block the resume, and a second training into a folder in use is refused.

Each run is a separate `python -m cocogold.train.loop` process (the `cocogold_train` command), so nothing
survives the kill but what the run wrote to disk."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cocogold.synth import make_synthetic_coco

STEPS, CHECKPOINT_EVERY, KILL_AFTER = 6, 2, 3  # 4 optimizer steps per epoch: the resumed run crosses an epoch
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg"}


def train_command(coco: Path, out: Path, *extra) -> list:
    return [sys.executable, "-m", "cocogold.train.loop", "--config", "tiny", "--coco_root", str(coco), "--out", str(out),
            "--max_steps", str(STEPS), "--size", "32", "--checkpoint_every", str(CHECKPOINT_EVERY),
            "--validate_every", "0", "--log_with", "none", "--ema", *extra]


def read_log(run: Path) -> list:
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def logged_steps(run: Path) -> int:
    log = run / "log.jsonl"
    return len(log.read_text().splitlines()) if log.exists() else 0


@pytest.fixture(scope="module")
def coco(tmp_path_factory) -> Path:
    return make_synthetic_coco(tmp_path_factory.mktemp("coco"), "train", n=16, seed=0, size=(96, 80))


def test_sigkill_then_resume_gives_the_same_losses(coco, tmp_path):
    subprocess.run(train_command(coco, tmp_path / "straight"), env=ENV, check=True, capture_output=True)
    straight = read_log(tmp_path / "straight")
    assert [r["step"] for r in straight] == list(range(1, STEPS + 1))

    killed = tmp_path / "killed"
    proc = subprocess.Popen(train_command(coco, killed), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while logged_steps(killed) < KILL_AFTER and proc.poll() is None and time.monotonic() < deadline: time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert not (killed / "model").exists()
    assert json.loads((killed / "train.lock").read_text())["pid"] == proc.pid, "the killed run's lock is left behind"
    complete = sorted(p.name for p in (killed / "checkpoints").glob("step-*"))
    assert complete and complete[-1] < f"step-{STEPS:07d}", complete
    # A save interrupted at the worst moment leaves only a partial folder, which resume must ignore.
    (killed / "checkpoints" / f".partial-step-{STEPS - 1:07d}").mkdir()

    resumed_from = int(complete[-1].split("-")[1])
    result = subprocess.run(train_command(coco, killed, "--resume"), env=ENV, check=True, capture_output=True, text=True)
    assert f"taking over the lock of a training that no longer runs (pid {proc.pid}" in result.stderr
    assert not (killed / "train.lock").exists()
    resumed = read_log(killed)
    assert [r["step"] for r in resumed] == list(range(1, STEPS + 1)), "each step is logged once"
    assert 0 < resumed_from < STEPS
    for before, after in zip(straight, resumed):  # steps after `resumed_from` were run again by the resumed process
        assert (after["step"], after["loss"], after["lr"], after["samples"]) == (before["step"], before["loss"], before["lr"], before["samples"])
    assert (killed / "model" / "model_index.json").exists()


def test_resume_with_another_configuration_fails_before_training(coco, tmp_path):
    subprocess.run(train_command(coco, tmp_path / "run", "--max_steps", "2"), env=ENV, check=True, capture_output=True)
    result = subprocess.run(train_command(coco, tmp_path / "run", "--resume", "--lr", "0.1"), env=ENV, capture_output=True, text=True)
    assert result.returncode != 0 and "another configuration" in result.stderr and "lr" in result.stderr
    assert [r["step"] for r in read_log(tmp_path / "run")] == [1, 2]


def test_a_second_training_into_a_folder_in_use_is_refused(coco, tmp_path):
    run = tmp_path / "run"
    first = subprocess.Popen(train_command(coco, run), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while logged_steps(run) < 1 and first.poll() is None and time.monotonic() < deadline: time.sleep(0.02)
    first.send_signal(signal.SIGSTOP)  # still running (stopped) while the second one starts
    try: second = subprocess.run(train_command(coco, run, "--resume"), env=ENV, capture_output=True, text=True)
    finally: first.send_signal(signal.SIGCONT)
    assert first.wait(timeout=120) == 0
    assert second.returncode != 0
    assert f"{run} is in use by another training (pid {first.pid} on " in second.stderr.strip().splitlines()[-1]
    assert [r["step"] for r in read_log(run)] == list(range(1, STEPS + 1)), "each step is logged once, by the first run"
    assert not (run / "train.lock").exists()


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux's /sys, where nobody can create a folder")
def test_an_unwritable_run_folder_is_refused_before_anything_is_loaded():
    from cocogold.train.config import train_config
    from cocogold.train.loop import train
    with pytest.raises(PermissionError, match="^cannot create the run folder /sys/cocogold-run: "):
        train(train_config("tiny", **{"run.out": "/sys/cocogold-run", "data.root": "/no/such/coco"}))
    with pytest.raises(PermissionError, match="^cannot write in the run folder /sys/kernel: "):
        train(train_config("tiny", **{"run.out": "/sys/kernel", "data.root": "/no/such/coco"}))
