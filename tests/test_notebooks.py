"""Run every notebook in `nbs/` as one pytest test, the way `nbdev_test` does, so CI can count them.

Cells marked with a test flag from settings.ini (`#| slow`) are skipped unless the flag is listed in the
environment variable `COCOGOLD_TEST_FLAGS` (space separated), like `nbdev_test --flags slow`."""
import os
from pathlib import Path

import pytest
from nbdev.config import get_config
from nbdev.test import test_nb as run_notebook

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / "nbs"
NOTEBOOKS = sorted(p for p in NBS.glob("*.ipynb") if not p.name.startswith(("_", ".")))


def test_notebooks_found():
    "Guard against a wrong path: the project has an index and numbered notebooks."
    assert (NBS / "index.ipynb") in NOTEBOOKS and len(NOTEBOOKS) >= 2, f"no notebooks found in {NBS}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook(notebook, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    forced = os.environ.get("COCOGOLD_TEST_FLAGS", "").split()
    skip = get_config(path=ROOT).tst_flags.split()
    ok, seconds = run_notebook(notebook, skip_flags=skip, force_flags=forced, showerr=True)
    assert ok, f"{notebook.name} raised; the failing cell and its traceback are printed above (stderr)"
