"""The house rules of the package, checked on the generated modules (no import of the package needed):

- backbone-specific names (SD2's classes, its UNet's attribute names, its scheduler's internals) appear only in the
  backbone, noise-family and tiny-model modules, so a new backbone is a new module, not `if` branches elsewhere;
- no module imports a module exported from a later notebook (notebooks are in dependency order), so there are no
  import cycles either;
- no module is over ~450 lines."""
import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "cocogold"
BACKBONE_NAMES = re.compile(r"UNet2DConditionModel|conv_in|attn2|CLIPTextModel\b|alphas_cumprod"
                            r"|SD3Transformer2DModel|CLIPTextModelWithProjection|T5EncoderModel|pos_embed|FlowMatchEuler")
ALLOWED = re.compile(r"backbones/|noise\.py|tiny_base\.py")
MAX_LINES = 450


def modules() -> dict:
    "Module name -> file, for every generated module of the package."
    found = {}
    for path in LIB.rglob("*.py"):
        if path.name in ("__init__.py", "_modidx.py"): continue
        found[".".join(path.relative_to(ROOT).with_suffix("").parts)] = path
    return found


def notebook_of(path: Path) -> str:
    "The notebook a module is exported from (its first `# %% ../nbs/X.ipynb` marker)."
    return re.search(r"^# %% (?:\.\./)+nbs/(\S+?\.ipynb)", path.read_text(), re.MULTILINE)[1]


def imported(path: Path, known: dict) -> set:
    "The package modules `path` imports."
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            base = node.module if node.level == 0 else ".".join(["cocogold", *path.relative_to(LIB).parent.parts, node.module])
            names.add(base)
        elif isinstance(node, ast.Import): names.update(a.name for a in node.names)
    return {n for n in names if n in known}


def test_backbone_names_stay_in_backbone_modules():
    leaks = {str(p.relative_to(ROOT)): sorted(set(BACKBONE_NAMES.findall(p.read_text())))
             for p in modules().values() if not ALLOWED.search(p.as_posix()) and BACKBONE_NAMES.search(p.read_text())}
    assert not leaks, f"backbone-specific names outside the backbone / noise / tiny modules: {leaks}"


def test_no_module_imports_a_later_notebook():
    known = modules()
    upward = [f"{name} ({notebook_of(path)}) imports {other} ({notebook_of(known[other])})"
              for name, path in known.items() for other in imported(path, known) if notebook_of(known[other]) > notebook_of(path)]
    assert not upward, "imports of later notebooks (a lower layer reaching up):\n" + "\n".join(upward)


def test_modules_stay_small():
    big = {name: n for name, path in modules().items()
           if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not big, f"modules over {MAX_LINES} lines: {big}"


def test_the_scan_can_fail():
    "The rules catch what they are meant to: an SD2 name in a general module, and only there."
    assert BACKBONE_NAMES.search("unet.conv_in.weight") and BACKBONE_NAMES.search("blocks.0.attn2.to_k")
    assert BACKBONE_NAMES.search("transformer.pos_embed.proj") and BACKBONE_NAMES.search("T5EncoderModel")
    assert not ALLOWED.search("cocogold/pipeline.py") and ALLOWED.search("cocogold/backbones/sd2.py")
    assert notebook_of(LIB / "pipeline.py") < notebook_of(LIB / "heads.py")
