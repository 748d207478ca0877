"""README.md quotes the figures of the committed result files (nbs/results/), not figures typed by hand.

The home page (nbs/index.ipynb, from which `python tools/build_docs.py --readme` writes README.md) renders its
figures from nbs/results/demo.json in hidden cells (`cocogold.results.figures_markdown`). These tests fail
when README.md was not rewritten after the result file changed, or when someone edits a figure by hand."""
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from build_docs import NBS, README, execute_notebook  # noqa: E402

DEMO = json.loads((NBS / "results" / "demo.json").read_text())


def quoted(pattern: str) -> str:
    "The one figure README.md quotes where `pattern` (a regex with one group) matches."
    found = re.findall(pattern, " ".join(README.read_text().split()))
    assert len(found) == 1, f"README.md should quote one figure matching {pattern!r}, found {found}"
    return found[0]


def test_readme_headline_is_the_demo_result():
    "The headline test mIoU on seen and unseen categories, read from README.md's text with its own pattern."
    assert quoted(r"test mean IoU \*\*([\d.]+)\*\* on the categories it was fine-tuned on") == f"{DEMO['seen']['miou']:.2f}"
    assert quoted(r"\*\*([\d.]+)\*\* on two categories it never saw") == f"{DEMO['unseen']['miou']:.2f}"


def test_readme_holds_every_rendered_figure():
    "Each Markdown output of the home page's hidden cells, rendered from the result files now, is in README.md."
    nb = execute_notebook(NBS / "index.ipynb", execute=False)  # runs imports and `#| exec_doc` cells only
    hidden = [cell for cell in nb.cells if "remove_input" in cell.metadata.get("tags", [])]  # `#| echo: false`
    rendered = [out["data"]["text/markdown"] for cell in hidden for out in cell.get("outputs", []) if "text/markdown" in out.get("data", {})]
    assert rendered, "nbs/index.ipynb renders no figures from a result file"
    readme = " ".join(README.read_text().split())
    stale = [text for text in rendered if " ".join(text.split()) not in readme]
    assert not stale, "README.md is stale (run `make readme`); it lacks:\n" + "\n".join(stale)
