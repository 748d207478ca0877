import os
import shutil

import pytest
from selenium import webdriver

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

RUN_ORDER = ("test_notebooks.py", "test_docs_site.py")  # the docs build renders the notebooks the first one ran


def pytest_collection_modifyitems(items):
    "Run the notebooks first, then the docs site built from them, then everything else."
    def rank(item):
        name = item.path.name
        return RUN_ORDER.index(name) if name in RUN_ORDER else len(RUN_ORDER)
    items.sort(key=rank)


@pytest.fixture(scope="module")
def browser():
    "Headless Chromium driven by chromedriver, with the browser console log enabled."
    chromium = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    driver_bin = shutil.which("chromedriver")
    assert chromium and driver_bin, "install Debian packages chromium and chromium-driver (make test does)"
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=webdriver.ChromeService(executable_path=driver_bin))
    driver.set_page_load_timeout(90)
    yield driver
    driver.quit()
