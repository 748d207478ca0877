import os

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
