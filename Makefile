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

.PHONY: setup browser demo results backbone-results readout-results test sync docs readme clean

setup: $(STAMP)

$(STAMP): settings.ini setup.py pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	@echo "installing $(DEV_TORCH) and cocogold[dev] into $(VENV) (log: $(VENV)/install.log)"
	@{ $(PY) -m pip install --upgrade pip && $(PY) -m pip install $(DEV_TORCH) && \
	   $(PY) -m pip install -e ".[dev]"; } > $(VENV)/install.log 2>&1 || { tail -30 $(VENV)/install.log; exit 1; }
	touch $(STAMP)

browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }

demo: setup
	$(BIN)/cocogold_demo --out demo_out

# Re-measure the figures the docs quote: the demo with its defaults, its metrics.json and examples.png
# copied to nbs/results/, then README.md rewritten from them.
results: setup
	$(BIN)/cocogold_demo --out demo_out
	$(PY) tools/refresh_results.py demo_out
	$(PY) tools/build_docs.py --readme

# The backbone comparison the demo's docs quote: SD2 and SD3 bases fine-tuned for equal time -> nbs/results/backbones.json.
backbone-results: setup
	$(BIN)/cocogold_demo --out demo_backbones --compare-backbones --skip-comparison
	$(PY) tools/refresh_results.py --backbones demo_backbones

# The latent read-out the distillation docs quote: distilled for the bundled demo model on the demo's splits (train
# 600 images; scored on test, 120 images of seen and unseen categories) -> nbs/results/readout.json.
readout-results: DEMO_CATEGORIES = $(shell $(PY) -c "from cocogold.demo import DemoConfig as c; print(','.join(c.seen + c.unseen))")
readout-results: setup
	$(PY) -c "from cocogold.demo import DemoConfig, make_splits; make_splits('demo_readout/data', DemoConfig())"
	$(BIN)/cocogold_distill_readout --model cocogold/assets/demo_model --data-root demo_readout/data --size 64 --min-side 64 \
	  --samples 600 --val-split test --val-samples 120 --out demo_readout/model \
	  --val-categories "$(DEMO_CATEGORIES)"
	cp demo_readout/model/readout/distillation.json nbs/results/readout.json

sync: setup
	@before=$$(git status --porcelain); \
	$(BIN)/nbdev_export && $(BIN)/nbdev_clean || exit 1; \
	after=$$(git status --porcelain); \
	if [ "$$before" != "$$after" ]; then \
	  echo "nbdev_export / nbdev_clean changed files: notebooks and generated code were out of sync:"; \
	  diff <(echo "$$before") <(echo "$$after") | sed -n 's/^> /  /p'; exit 1; fi

docs: setup
	$(PY) tools/build_docs.py

readme: setup
	$(PY) tools/build_docs.py --readme

# Notebooks run first (one test each, filling the executed-notebook cache), then the docs site is built from
# them and checked in a browser (README.md freshness included), then the CLI, training and wheel tests.
test: setup browser sync
	rm -rf _proc/executed
	$(BIN)/pytest tests

clean:
	rm -rf _docs _proc build dist *.egg-info demo_out demo_backbones
