# The two commands a newcomer needs: `make demo` and `make test`. Each sets itself up first.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
# The CPU build of torch used for development and CI (the library itself requires any torch>=2.1).
DEV_TORCH := torch==2.13.0
export HF_HUB_OFFLINE := 1
export MPLBACKEND := Agg
export TOKENIZERS_PARALLELISM := false

.PHONY: setup browser demo test sync docs readme check-readme wheel clean

setup: $(STAMP)

$(STAMP): settings.ini setup.py pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(DEV_TORCH)
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }

demo: setup
	$(BIN)/cocogold_demo --out demo_out

sync: setup
	$(BIN)/nbdev_export
	$(BIN)/nbdev_clean
	@changed=$$(git status --porcelain --untracked-files=no); \
	if [ -n "$$changed" ]; then \
	  echo "Notebooks and generated code are out of sync (or notebooks not clean); changed files:"; \
	  echo "$$changed"; exit 1; fi

docs: setup
	$(PY) tools/build_docs.py

readme: setup
	$(PY) tools/build_docs.py --readme

check-readme: setup
	$(PY) tools/build_docs.py --check-readme

test: setup browser sync docs check-readme
	$(BIN)/pytest tests

clean:
	rm -rf _docs _proc build dist *.egg-info demo_out
