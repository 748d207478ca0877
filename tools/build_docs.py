"""Build cocogold's documentation site into `_docs/` without Quarto, and README.md from `nbs/index.ipynb`.

Every notebook in `nbs/` goes through nbdev's own docs processors (frontmatter title and description,
`show_doc` entries added after exported definitions, `#| hide` cells dropped, `#| export` cells shown as
folded "Exported source" after their entry), is executed the way `nbdev_test` runs it (cells flagged with a
settings.ini `tst_flags` flag skipped, `HF_HUB_OFFLINE=1`, `MPLBACKEND=Agg`), and is rendered with nbconvert
into one page with a navigation bar listing every page. Figures are embedded as base64 images.

Executed notebooks are cached in `_proc/executed/`, keyed by a hash of the notebook, the library, settings.ini
and this file, so a second build (or a build after `tests/test_notebooks.py` called `execute_notebook`)
executes nothing.

The build then checks the site and exits non-zero naming what is wrong:
- every name in a module's `__all__` has an entry (an element whose id is the lower-cased name, the anchor
  Quarto and nbdev's doc links use) on a page built from that module's notebooks;
- every figure a notebook produced is embedded in its page.

Usage (from the project root):
    python tools/build_docs.py                 # build _docs/ and check it
    python tools/build_docs.py --readme        # ... and write README.md
    python tools/build_docs.py --check-readme  # ... and fail when README.md is stale
    python tools/build_docs.py --no-exec       # run only imports, exports and show_doc (fast, no figures)
"""
import argparse
import ast
import difflib
import hashlib
import html
import json
import os
import re
import shutil
import sys
import time
import traceback
from pathlib import Path

import nbformat
from execnb.nbio import read_nb, nb2str
from execnb.shell import CaptureShell
from fastcore.xtras import working_directory
from jinja2 import DictLoader
from nbconvert import HTMLExporter, MarkdownExporter
from nbconvert.preprocessors import TagRemovePreprocessor
from nbdev.config import get_config
from nbdev.doclinks import _nbpath2html
from nbdev.process import NBProcessor, Processor
from nbdev.processors import FilterDefaults, exec_show_docs, filter_stream_, strip_ansi
from pygments.formatters import HtmlFormatter

ROOT = Path(__file__).resolve().parents[1]
NBS, DOCS, LIB = ROOT / "nbs", ROOT / "_docs", ROOT / "cocogold"
CACHE = ROOT / "_proc" / "executed"
RESULTS = NBS / "results"
BENCH_RESULTS = ROOT / "benchmarks" / "results"  # the benchmarks' rows the Hardware page renders
README = ROOT / "README.md"
README_IMAGES = NBS / "images" / "readme"
NB_ENV = {"HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg", "TOKENIZERS_PARALLELISM": "false", "IN_TEST": "1"}
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/svg+xml")


class NotebookError(Exception):
    "A notebook cell raised while the docs build executed it."


def notebooks():
    "The notebooks that make the site: `index.ipynb` first, then the others in file-name order."
    found = sorted(p for p in NBS.glob("*.ipynb") if not p.name.startswith(("_", ".")))
    return sorted(found, key=lambda p: p.name != "index.ipynb")


def page_name(nb_path):
    "The HTML file a notebook becomes, as Quarto names it: `00_core.ipynb` -> `core.html`."
    return _nbpath2html(Path(nb_path)).name


def skip_flags():
    "settings.ini `tst_flags` minus those forced on by `COCOGOLD_TEST_FLAGS` (as in tests/test_notebooks.py)."
    forced = set(os.environ.get("COCOGOLD_TEST_FLAGS", "").split())
    return set(get_config(path=ROOT).tst_flags.split()) - forced


# ---------------------------------------------------------------- nbdev processing and execution

def show_exported_source(cell):
    "Treat `#| export` like nbdev's `#| exports`: the entry first, then the source folded under 'Exported source'."
    if "export" in cell.directives_: cell.directives_["exports"] = cell.directives_.pop("export")


def should_run(cell, flags):
    "Whether `nbdev_test` would run `cell`: code, not `#| eval: false`, not flagged with one of `flags`."
    if cell.cell_type != "code" or "nbdev_export(" in cell.source: return False
    if cell.directives_.get("eval:", [""])[0].lower() == "false": return False
    return not (flags & cell.directives_.keys())


class execute_cells(Processor):
    "Run every runnable cell in one `CaptureShell`, storing outputs; raise `NotebookError` naming the cell."
    def __init__(self, nb, flags):
        super().__init__(nb)
        self.flags = flags

    def begin(self):
        fm = getattr(self.nb, "frontmatter_", {})
        self.shell = None if str(fm.get("skip_exec", "")).lower() == "true" else CaptureShell(self.nb.path_)
        if self.shell: self.shell.run_cell("from nbdev.showdoc import show_doc")  # for the show_doc cells nbdev adds

    def cell(self, cell):
        if self.shell is None or not should_run(cell, self.flags): return
        self.shell.cell(cell)
        if self.shell.exc:
            tb = "".join(traceback.format_exception(self.shell.exc))
            raise NotebookError(f"{Path(self.nb.path_).name}: this cell raised:\n{cell.source}\n\n{tb}")


_re_quarto_opt = re.compile(r"^#\|\s*([\w-]+)\s*:\s*(.*?)\s*$")


def quarto_options(cell):
    "Apply the Quarto cell options nbdev leaves in the source (`echo`, `output`, `include`, `code-fold`) as tags."
    lines = cell.source.splitlines()
    opts = {}
    while lines and (m := _re_quarto_opt.match(lines[0])):
        opts[m[1]] = m[2].strip("\"'").lower()
        lines.pop(0)
    cell.source = "\n".join(lines)
    tags = {"echo": "remove_input", "output": "remove_output", "include": "remove_cell"}
    new = [tag for opt, tag in tags.items() if opts.get(opt) == "false"] + ["code-fold"] * ("code-fold" in opts)
    if new: cell.metadata["tags"] = list(cell.metadata.get("tags", [])) + new


_re_progress = re.compile(r"^(.*?)\s*\d+%\|")


def last_progress(cell):
    "Keep only the final state of each tqdm progress bar in a cell's stderr (one line per bar, not one per update)."
    for out in cell.get("outputs", []):
        if out.get("name") != "stderr": continue
        lines = [line for line in "".join(out["text"]).splitlines() if line.strip()]
        bars = [m[1] if (m := _re_progress.match(line)) else None for line in lines]
        out["text"] = [line + "\n" for i, line in enumerate(lines) if bars[i] is None or bars[i] not in bars[i + 1:]]


def doc_processors(nb, execute):
    "nbdev's docs processors with execution of every cell (or only what `show_doc` needs) at `exec_show_docs`."
    late = [strip_ansi, filter_stream_, last_progress]  # they act on outputs, so they must follow execution
    procs = [p for p in FilterDefaults().procs() if p not in late]
    i = procs.index(exec_show_docs)
    procs[i:i + 1] = [execute_cells(nb, skip_flags()) if execute else exec_show_docs, *late]
    return [show_exported_source, *procs, quarto_options]


def cache_key(path, execute):
    "A hash of everything a processed notebook depends on: itself, the library, the result files (of nbs/ and benchmarks/), settings and this file."
    h = hashlib.sha256(f"{execute} {sorted(skip_flags())}".encode())
    library = sorted(p for p in LIB.rglob("*") if p.is_file() and "__pycache__" not in p.parts)  # code and bundled weights
    results = sorted(RESULTS.glob("*")) + sorted(BENCH_RESULTS.glob("*"))  # result files (and figures) hidden cells quote
    for p in [Path(path), ROOT / "settings.ini", Path(__file__), *library, *results]: h.update(p.read_bytes())
    return h.hexdigest()


def execute_notebook(path, execute=True):
    """Process (and execute) the notebook at `path` with nbdev's docs processors; return it as an nbformat node.

    Raises `NotebookError` with the cell and traceback when a cell raises. The result is cached in
    `_proc/executed/`, so tests/test_notebooks.py can call this and the docs build reuses its work."""
    path = Path(path).resolve()
    key = cache_key(path, execute)
    cached = CACHE / f"{path.stem}{'' if execute else '.noexec'}.ipynb"
    if cached.exists():
        nb = nbformat.read(cached, as_version=4)
        if nb.metadata.get("docs", {}).get("key") == key: return nb
    saved = {k: os.environ.get(k) for k in NB_ENV}
    os.environ.update(NB_ENV)
    try:
        with working_directory(NBS):
            nb = read_nb(path)
            try: NBProcessor(nb=nb, procs=doc_processors(nb, execute), process=True)
            except NotebookError: raise
            except Exception as e:  # nbdev's exec_show_docs (--no-exec) raises a bare Exception from the cell's error
                cause = "".join(traceback.format_exception(e.__cause__)) if e.__cause__ else ""
                msg = f"{path.name}: nbdev's docs processing failed (nbdev_docs would too): {e}\n{cause}"
                raise NotebookError(msg) from e
    finally:
        for k, v in saved.items():
            if v is None: os.environ.pop(k, None)
            else: os.environ[k] = v
    fm = getattr(nb, "frontmatter_", {})
    nb.cells = [c for c in nb.cells if not (c.cell_type == "raw" and c.source.startswith("---"))]
    for cell in nb.cells: cell.pop("has_sd", None)  # nbdev's marker, not part of the notebook format
    nb.metadata["docs"] = {"key": key, "title": fm.get("title", path.stem), "description": fm.get("description", "")}
    CACHE.mkdir(parents=True, exist_ok=True)
    cached.write_text(nb2str(nb), encoding="utf-8")
    return nbformat.reads(nb2str(nb), as_version=4)


# ---------------------------------------------------------------- rendering

_re_doc_heading = re.compile(r"^(#{1,6})\s+(\S+)\s*$", re.MULTILINE)
_re_attr_link = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)\{[^}]*\}")


def anchor_entries(nb):
    "Give each `show_doc` heading the id nbdev's links use (the lower-cased name) and fix Quarto-only link syntax."
    def heading(m):
        level, name = len(m[1]), m[2]
        return f'\n\n<h{level} id="{html.escape(name.lower())}" class="doc-entry">{html.escape(name)}</h{level}>\n\n'

    def link(m):
        return f'\n\n<p class="source-link"><a href="{m[2].replace("#LNone", "")}" target="_blank">{m[1]}</a></p>\n\n'

    for cell in nb.cells:
        if cell.cell_type != "code" or "show_doc" not in cell.source: continue
        for out in cell.get("outputs", []):
            md = out.get("data", {}).get("text/markdown")
            if md: out["data"]["text/markdown"] = _re_attr_link.sub(link, _re_doc_heading.sub(heading, md, count=1))


TEMPLATE = """{%- extends 'classic/base.html.j2' -%}
{% block input_group -%}
{%- if 'code-fold' in cell.metadata.get('tags', []) -%}
<details class="code-fold"><summary>Exported source</summary>{{ super() }}</details>
{%- else -%}{{ super() }}{%- endif -%}
{%- endblock input_group %}
"""


def quarto_tag_remover():
    "nbconvert preprocessor dropping what the tags of `quarto_options` hide: inputs, outputs or whole cells."
    return TagRemovePreprocessor(remove_input_tags={"remove_input"}, remove_all_outputs_tags={"remove_output"},
                                 remove_cell_tags={"remove_cell"})


def html_exporter():
    "nbconvert's HTML exporter for page bodies: no prompts, images embedded, Quarto options honoured."
    ex = HTMLExporter(template_name="basic", extra_loaders=[DictLoader({"page.html.j2": TEMPLATE})],
                      template_file="page.html.j2", exclude_input_prompt=True, exclude_output_prompt=True,
                      embed_images=True)
    ex.register_preprocessor(quarto_tag_remover(), enabled=True)
    return ex


def nav_html(pages, current):
    "The navigation bar: one link per page, the current one marked."
    active = ' class="active" aria-current="page"'
    items = "\n".join(f'<li><a href="{p["file"]}"{active * (p["file"] == current)}>{html.escape(p["title"])}</a></li>'
                      for p in pages)
    return f'<nav class="site-nav" aria-label="Pages"><ul>\n{items}\n</ul></nav>'


PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} – {site}</title>
<meta name="description" content="{description}">
<link rel="icon" href="data:,">
<link rel="stylesheet" href="site.css">
<link rel="stylesheet" href="styles.css">
<script>window.MathJax = {{tex: {{inlineMath: [["$", "$"], ["\\\\(", "\\\\)"]]}}}};</script>
<script async src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script>
</head>
<body>
<header class="site-header"><a href="index.html">{site}</a></header>
<div class="layout">
{nav}
<main>
<h1 class="title">{title}</h1>
<div class="description">{description}</div>
{body}
</main>
</div>
</body>
</html>
"""

SITE_CSS = """
body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; line-height: 1.5; color: #212529; }
.site-header { background: #2780e3; padding: .6rem 1.2rem; }
.site-header a { color: white; font-weight: 600; font-size: 1.25rem; text-decoration: none; }
.layout { display: flex; align-items: flex-start; }
.site-nav { flex: 0 0 14rem; position: sticky; top: 0; padding: 1rem; }
.site-nav ul { list-style: none; margin: 0; padding: 0; }
.site-nav li { margin: .15rem 0; }
.site-nav a { color: #343a40; text-decoration: none; display: block; padding: .15rem .5rem; border-radius: .25rem; }
.site-nav a:hover { background: #e9ecef; }
.site-nav a.active { background: #2780e3; color: white; }
main { flex: 1; min-width: 0; max-width: 60rem; padding: 1rem 2rem 4rem; }
h1.title { margin-bottom: .2rem; }
a { color: #2780e3; }
a.anchor-link { display: none; }
pre { overflow-x: auto; }
.highlight pre { margin: 0; }
.input_area .highlight, .rendered_html pre { background: #f8f9fa; border-radius: .25rem; padding: .5rem .75rem; }
.output_area pre { margin: .3rem 0 0 .8rem; padding-left: .5rem; border-left: 2px solid lightsalmon; }
.output_stderr { color: #6c757d; font-size: .85em; }
.output_area img { max-width: 100%; height: auto; }
.code-fold summary { cursor: pointer; color: #6c757d; font-size: .9em; }
h2.doc-entry, h3.doc-entry, h4.doc-entry { font-family: monospace; margin-top: .5rem; }
.source-link { float: right; font-size: smaller; margin: 0; }
table { border-collapse: collapse; } td, th { border: 1px solid #dee2e6; padding: .2rem .5rem; }
@media (max-width: 800px) { .layout { display: block; } .site-nav { position: static; } }
"""


def site_url():
    "The published site's URL prefix (doc_host + doc_baseurl), which nbdev's doc links start with."
    cfg = get_config(path=ROOT)
    return f"{cfg.doc_host.rstrip('/')}/{cfg.doc_baseurl.strip('/')}/".replace(":///", "://")


def localise_links(body):
    "Point nbdev's links to the published site and links to notebooks at the local pages."
    body = body.replace(f'href="{site_url()}', 'href="')
    return re.sub(r'href="([^":#]+)\.ipynb(#[^"]*)?"', lambda m: f'href="{page_name(m[1] + ".ipynb")}{m[2] or ""}"', body)


def render_page(nb, pages, file, exporter):
    "The complete HTML page for a processed notebook."
    anchor_entries(nb)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"path": str(NBS)}})
    meta = nb.metadata["docs"]
    return PAGE.format(title=html.escape(meta["title"]), description=html.escape(meta["description"]),
                       site=html.escape(get_config(path=ROOT).title), nav=nav_html(pages, file), body=localise_links(body))


_re_code_link = re.compile(r'<a href="([\w.-]+\.html)#([^"]+)">(<code>[^<]*</code>)</a>')


def unlink_undocumented(text, ids_by_page):
    "Drop nbdev's automatic links to names that have no entry (private helpers), keeping the `code`."
    def unlink(m): return m[0] if m[2].lower() in ids_by_page.get(m[1], set()) else m[3]
    return _re_code_link.sub(unlink, text)


def count_figures(nb):
    "How many image outputs the processed notebook holds."
    return sum(any(t in out.get("data", {}) for t in IMAGE_TYPES)
               for c in nb.cells if c.cell_type == "code" for out in c.get("outputs", []))


def readme_markdown(nb):
    "README.md text: the processed index notebook as markdown with its title and description, no stderr."
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    for c in nb.cells:
        if c.cell_type == "code": c.outputs = [o for o in c.outputs if o.get("name") != "stderr"]
    exporter = MarkdownExporter()
    exporter.register_preprocessor(quarto_tag_remover(), enabled=True)
    body, res = exporter.from_notebook_node(nb, resources={"output_files_dir": README_IMAGES.relative_to(ROOT).as_posix()})
    outputs = res.get("outputs", {})
    for stale in README_IMAGES.glob("*"):  # figures of an earlier README (cell numbers shift when cells are added)
        if stale.relative_to(ROOT).as_posix() not in outputs: stale.unlink()
    for name, data in outputs.items():
        (ROOT / name).parent.mkdir(parents=True, exist_ok=True)
        (ROOT / name).write_bytes(data)
    meta = nb.metadata["docs"]
    head = f"# {meta['title']}\n\n" + (f"> {meta['description']}\n\n" if meta["description"] else "")
    return head + re.sub(r"\n{3,}", "\n\n", body).strip() + "\n"


# ---------------------------------------------------------------- checks

def page_ids(html_text):
    "The lower-cased ids of all elements of a page."
    return {m.lower() for m in re.findall(r'\bid="([^"]+)"', html_text)}


def module_notebooks(module_file):
    "The notebooks a module is exported from, read from its `# %% ../nbs/X.ipynb` markers."
    return sorted(set(re.findall(r"^# %% (?:\.\./)+nbs/(\S+?\.ipynb)", module_file.read_text(), re.MULTILINE)))


def public_names(module_file):
    "The names in a module's `__all__` (read without importing it), each with how to give it a docs entry."
    body = ast.parse(module_file.read_text()).body
    defs = {n.name for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    for node in body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in node.targets):
            return {n: f"show_doc({n})" if n in defs else f'show_doc({n}, name="{n}")' for n in ast.literal_eval(node.value)}
    return {}


def missing_api_entries(ids_by_page):
    "A message for every `__all__` name without an anchor on a page of its module's notebooks."
    missing = []
    for mod in sorted(LIB.rglob("*.py")):
        nbs, name = module_notebooks(mod), ".".join(mod.relative_to(LIB).with_suffix("").parts)
        ids = set().union(*(ids_by_page.get(page_name(n), set()) for n in nbs))
        missing += [f"cocogold.{name}.{n} has no docs entry: add {fix} to {' or '.join(nbs)}, or make it private"
                    for n, fix in public_names(mod).items() if n.lower() not in ids]
    return missing


def mixed_import_cells(path):
    """Cells nbdev_docs (Quarto, on GitHub) would fail on or run needlessly: outside `#| export`, nbdev executes
    every cell with an import to render `show_doc`, without the cells before it; so imports get their own cell."""
    problems = []
    for cell in NBProcessor(path).nb.cells:
        if cell.cell_type != "code" or cell.directives_.keys() & {"export", "exports", "exporti", "exec_doc"}: continue
        if cell.directives_.get("eval:", [""])[0].lower() == "false": continue
        nodes = [n for tree in (cell.parsed_() or []) for n in ast.walk(tree)]
        if any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in nodes) and \
           any(isinstance(n, (ast.Expr, ast.Assign)) for n in nodes):
            problems.append(f"{path.name}: move the imports of this cell to the imports cell (nbdev_docs runs imports "
                            f"out of context): {cell.source.splitlines()[0]!r}")
    return problems


def embedded_figures(html_text):
    "How many images are embedded in a page (data-URI `<img>` and inline `<svg>`)."
    return len(re.findall(r'<img[^>]+src="data:image/', html_text)) + len(re.findall(r"<svg\b", html_text))


# ---------------------------------------------------------------- the build

def build_site(execute=True):
    "Process, execute and render every notebook into `_docs/`; return page records, processed notebooks, failures."
    nbs, pages, failures = {}, [], []
    for path in notebooks():
        start = time.time()
        try: nbs[path] = execute_notebook(path, execute)
        except NotebookError as e:
            failures.append(str(e))
            print(f"{path.name:<32} FAILED", flush=True)
            continue
        meta = nbs[path].metadata["docs"]
        pages.append({"file": page_name(path), "notebook": path.name, "title": meta["title"],
                      "figures": count_figures(nbs[path])})
        print(f"{path.name:<32} {time.time() - start:6.1f} s", flush=True)
    if DOCS.exists(): shutil.rmtree(DOCS)
    DOCS.mkdir()
    (DOCS / "site.css").write_text(SITE_CSS + HtmlFormatter().get_style_defs(".highlight"))
    shutil.copy(NBS / "styles.css", DOCS / "styles.css")
    exporter = html_exporter()
    texts = {page["file"]: render_page(nb, pages, page["file"], exporter) for nb, page in zip(nbs.values(), pages)}
    ids = {file: page_ids(text) for file, text in texts.items()}
    for file, text in texts.items(): (DOCS / file).write_text(unlink_undocumented(text, ids), encoding="utf-8")
    (DOCS / "pages.json").write_text(json.dumps({"executed": execute, "pages": pages}, indent=1))
    return pages, nbs, failures


def site_problems(pages, execute):
    "What is wrong with the built site: API names without an entry, figures not embedded."
    texts = {p["file"]: (DOCS / p["file"]).read_text(encoding="utf-8") for p in pages}
    problems = missing_api_entries({f: page_ids(t) for f, t in texts.items()})
    if execute:
        problems += [f"{p['file']}: {p['figures']} figure(s) produced but {embedded_figures(texts[p['file']])} embedded"
                     for p in pages if embedded_figures(texts[p["file"]]) < p["figures"]]
    return problems


def build_and_check(execute=True, readme=False, check_readme=False):
    "Build the site, write README.md if `readme`; return the list of problems (empty when all is well)."
    start = time.time()
    pages, nbs, failures = build_site(execute)
    problems = failures + site_problems(pages, execute)
    problems += [p for path in notebooks() for p in mixed_import_cells(path)]
    if (readme or check_readme) and NBS / "index.ipynb" in nbs:
        text = readme_markdown(nbs[NBS / "index.ipynb"])
        if readme: README.write_text(text, encoding="utf-8")
        old = README.read_text(encoding="utf-8") if README.exists() else ""
        if check_readme and old != text:
            diff = "".join(list(difflib.unified_diff(old.splitlines(True), text.splitlines(True),
                                                     "README.md", "from nbs/index.ipynb"))[:40])
            problems.append(f"README.md is stale: run `make readme` (python tools/build_docs.py --readme).\n{diff}")
    print(f"built {len(pages)} pages into {DOCS.relative_to(ROOT)}/ in {time.time() - start:.1f} s"
          + ("" if execute else " (not executed)"))
    return problems


def main(argv=None):
    "Build the docs site into _docs/ without Quarto, check it, and write or check README.md."
    cli = argparse.ArgumentParser(description=main.__doc__)
    cli.add_argument("--no-exec", action="store_true", help="run only imports, exports and show_doc (fast, no figures)")
    cli.add_argument("--readme", action="store_true", help="also write README.md from nbs/index.ipynb")
    cli.add_argument("--check-readme", action="store_true", help="also fail when README.md is stale")
    args = cli.parse_args(argv)
    problems = build_and_check(not args.no_exec, args.readme, args.check_readme)
    if problems: sys.exit("docs check failed:\n- " + "\n- ".join(problems))


if __name__ == "__main__": main()
