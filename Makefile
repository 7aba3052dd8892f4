# galaxy10: the front door. `make run` and `make test` are all a newcomer needs.
# Both create .venv on first use (from pyproject.toml) and reuse it afterwards.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# IPython's config folder of .venv: every kernel .venv's Python starts reads it
KERNEL_CONFIG := $(VENV)/etc/ipython/ipython_kernel_config.json
PRESET ?= small
SEED   ?= 0

PROFILE ?= quick
LOCK    := requirements-lock.txt
# every extra: `run` (papermill), `app` (Voila, JupyterLab), `dev` (tests, lint, setuptools)
EXTRAS  := run,app,dev,scale

.PHONY: help setup run data data-full test lint mutation gallery app pretrain bench-real bench clean lock

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# exact versions from the lock file (what CI tests), then galaxy10 itself without resolving again
$(STAMP): pyproject.toml $(LOCK)
	@test -n "$(PYTHON)" || { echo "error: Python 3.10+ not found (set PYTHON=...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e '.[$(EXTRAS)]'
	touch $(STAMP)

lock:  ## refresh requirements-lock.txt: a fresh Python 3.11 venv, pip install -e '.[run,app,dev,scale]', pip freeze
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "error: make lock needs Python 3.11 (what CI runs); set PYTHON=")'
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -e '.[$(EXTRAS)]'
	{ echo "# Exact versions of galaxy10's dependencies and dev tools (Python 3.11, Linux x86_64)."; \
	  echo "# Made by \`make lock\` (pip freeze of a fresh venv); \`make setup\` installs from it."; \
	  .lock-venv/bin/python -m pip freeze --all --exclude-editable | grep -v '^pip=='; } > $(LOCK).tmp
	mv $(LOCK).tmp $(LOCK)
	rm -rf .lock-venv

# kernels start without ipykernel's TCP notice, plain `papermill IN OUT` included (the setting
# `run` passes on each kernel's command line); keeps whatever the file already holds
$(KERNEL_CONFIG): | $(STAMP)
	$(BIN)/python -m galaxy10.pipeline.kernels

setup: $(STAMP) $(KERNEL_CONFIG)  ## create .venv and install galaxy10 with its dev tools and quiet kernels

data: setup  ## make the default (synthetic) data set, PRESET=small|medium|full|tiny
	$(BIN)/python -m galaxy10 synth --preset $(PRESET) --seed $(SEED)

data-full: setup  ## the full-size synthetic set (17,736 images, about 3.5 GB)
	$(BIN)/python -m galaxy10 synth --preset full --seed $(SEED) --workers 2

run: setup  ## set up, make the default data, run the notebooks (PROFILE=quick|smoke|faithful)
	$(BIN)/python -m galaxy10 run --profile $(PROFILE) --seed $(SEED)

test: setup  ## run every test
	$(BIN)/python -m pytest

lint: setup  ## ruff
	$(BIN)/ruff check .

mutation: setup  ## mutation testing of the core modules, MODULES="evaluate atomic" for some (slow)
	nice -n 15 $(BIN)/python tools/mutation.py $(MODULES)

gallery: setup  ## real-vs-synthetic example grid (needs ../shared/data/real-sample)
	$(BIN)/python -m galaxy10 gallery

app: setup  ## serve the random-galaxy button page with Voila on 127.0.0.1:8866 (open the printed URL: it has the token)
	$(BIN)/python -m galaxy10 app

pretrain: setup  ## pre-train the modern CNN on the full synthetic set (models/pretrained_synthetic.keras)
	$(BIN)/python -m galaxy10 pretrain

bench-real: setup  ## cross-validate every model on the real images (random and region-held-out folds), and under other sources' shifts
	$(BIN)/python -m galaxy10 bench real

bench: setup  ## memory, inference and button benchmarks (print figures, write reports/benchmarks.json)
	$(BIN)/python -m galaxy10 bench memory
	$(BIN)/python -m galaxy10 bench inference
	$(BIN)/python -m galaxy10 bench button

clean:  ## remove caches (keeps data/, models/ and .venv)
	rm -rf .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
