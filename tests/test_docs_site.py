"""Build the docs site into `_docs/` (as `python tools/build_docs.py` does), check it, and open it in headless Chromium.

The site is served on 127.0.0.1 by `http.server`. From the home page the test follows every link of the
navigation bar and fails on a missing page, a broken local link (file or `#anchor`), an image that does not
load, fewer embedded figures than the build recorded in `_docs/pages.json`, or a browser console error.
Failures to fetch remote resources (MathJax from its CDN, when offline) are not errors of the site and are
ignored. A screenshot of the home page is saved to `_docs/screenshot.png`."""
import http.server
import json
import re
import sys
import threading
import urllib.error
import urllib.request
from functools import lru_cache, partial
from pathlib import Path
from urllib.parse import urldefrag, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "_docs"
sys.path.insert(0, str(ROOT / "tools"))
from build_docs import build_and_check  # noqa: E402


@pytest.fixture(scope="module")
def build_problems():
    """Build the site into `_docs/` (executed notebooks come from the cache `tests/test_notebooks.py` filled,
    which conftest.py runs first) and check it, README.md included."""
    return build_and_check(execute=True, check_readme=True)


def test_site_builds_and_checks(build_problems):
    "Every notebook renders, every public name has an entry, figures are embedded, README.md is fresh."
    assert not build_problems, "docs check failed:\n- " + "\n- ".join(build_problems)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args): pass


@pytest.fixture(scope="module")
def site(build_problems):
    "The base URL of `_docs/` served on a free local port."
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(DOCS)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


@lru_cache(maxsize=None)
def fetch(url):
    "HTTP status and text of a local URL."
    try:
        with urllib.request.urlopen(url) as r: return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e: return e.code, ""


def is_local(url, site): return url.startswith(site)


def console_errors(driver, site):
    "SEVERE browser console entries, except failures to load remote (non-local) resources."
    errors = []
    for entry in driver.get_log("browser"):
        if entry["level"] != "SEVERE": continue
        remote = re.match(r"(https?://\S+)", entry["message"])
        if entry.get("source") == "network" and remote and not is_local(remote[1], site): continue
        errors.append(entry["message"])
    return errors


def link_problems(driver, site):
    "Broken local links (missing file or `#anchor`) and images that did not load on the current page."
    problems = []
    hrefs = driver.execute_script("return [...document.querySelectorAll('a[href]')].map(a => a.href)")
    for href in sorted(set(hrefs)):
        if not is_local(href, site): continue
        target, anchor = urldefrag(href)
        status, text = fetch(target)
        if status != 200: problems.append(f"link to {href}: HTTP {status}")
        elif anchor and f'id="{anchor}"' not in text: problems.append(f"link to {href}: no element with id {anchor!r}")
    broken = driver.execute_script(
        "return [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src.slice(0, 80))")
    return problems + [f"image did not load: {src}" for src in broken]


def expected_pages():
    "The page each notebook in nbs/ should have, named as the docs build (and Quarto) names it."
    return [{"notebook": p.name, "file": re.sub(r"^\d+[a-zA-Z0-9]*_", "", p.name.lower())[:-len(".ipynb")] + ".html"}
            for p in sorted((ROOT / "nbs").glob("*.ipynb")) if not p.name.startswith(("_", "."))]


def nav_links(driver):
    return driver.execute_script("return [...document.querySelectorAll('nav.site-nav a')].map(a => a.href)")


def test_home_page_screenshot(browser, site):
    "The home page opens with a title, the navigation bar and content; save its screenshot."
    browser.get(site + "index.html")
    assert browser.find_elements("css selector", "main h1"), "the home page has no title"
    assert nav_links(browser), "the home page has no navigation bar links"
    browser.save_screenshot(str(DOCS / "screenshot.png"))
    assert (DOCS / "screenshot.png").stat().st_size > 0


def test_every_nav_page(browser, site):
    "Every page in the navigation bar exists, has the full navigation, working local links and images, and no JS error."
    manifest = json.loads((DOCS / "pages.json").read_text())
    figures = {p["file"]: p["figures"] for p in manifest["pages"]}
    browser.get(site + "index.html")
    home_nav = nav_links(browser)
    assert sorted(urlparse(u).path.lstrip("/") for u in home_nav) == sorted(figures), \
        "the navigation bar does not list exactly the pages in _docs/pages.json"
    problems = [f"no page for {p['notebook']} ({p['file']}): rebuild the docs (make docs)"
                for p in expected_pages() if p["file"] not in figures]
    for url in home_nav:
        page = urlparse(url).path.lstrip("/")
        status, _ = fetch(url)
        if status != 200:
            problems.append(f"{page}: missing page (HTTP {status})")
            continue
        browser.get(url)
        if nav_links(browser) != home_nav: problems.append(f"{page}: navigation bar differs from the home page's")
        problems += [f"{page}: {p}" for p in link_problems(browser, site)]
        problems += [f"{page}: console error: {e}" for e in console_errors(browser, site)]
        shown = browser.execute_script(
            "return document.querySelectorAll('main img[src^=\"data:image\"], main svg').length")
        if shown < figures[page]: problems.append(f"{page}: {figures[page]} figure(s) expected, {shown} shown")
    assert not problems, "docs site problems:\n" + "\n".join(problems)
