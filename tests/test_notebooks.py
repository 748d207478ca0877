"""Run every notebook in `nbs/` as one pytest test, the way `nbdev_test` does, so CI can count them.

Each notebook goes through `tools/build_docs.py`'s `execute_notebook`: nbdev's docs processors plus execution
of every cell in one shell, skipping cells flagged with a settings.ini `tst_flags` flag (`#| slow`) unless the
flag is listed in the environment variable `COCOGOLD_TEST_FLAGS` (space separated), like `nbdev_test --flags slow`.
The executed notebook is cached in `_proc/executed/`, so the docs build that follows executes nothing again."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from build_docs import NBS, NotebookError, execute_notebook, notebooks  # noqa: E402

NOTEBOOKS = notebooks()


def test_notebooks_found():
    "Guard against a wrong path: the project has an index and numbered notebooks."
    assert (NBS / "index.ipynb") in NOTEBOOKS and len(NOTEBOOKS) >= 2, f"no notebooks found in {NBS}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook(notebook):
    try: execute_notebook(notebook)
    except NotebookError as e: pytest.fail(str(e), pytrace=False)
