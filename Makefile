# a2: `make pdf` builds the report, `make test` runs the test suite.
#
#   make pdf [PROFILE=smoke] [DATA=path|download] [QUARTO=path] [V=1]
#            [TIMEOUT=1h] [CHECKPOINTS=a2-checkpoints.tar]
#       dist/a2-writeup.pdf, dist/a2-code.ipynb, dist/site/ (PROFILE=smoke:
#       build/smoke/dist/). Executes only the sections whose code,
#       parameters, data, library code or runs changed, then renders with
#       Quarto (installed into .venv when none is found). TIMEOUT: each
#       section's time limit (seconds, or 30m, 2h; 0 for none; 1h).
#       CHECKPOINTS: first import the runs of a pack that fit (make
#       checkpoints).
#   make train [PROFILE=smoke] [DATA=...] [CHECKPOINTS=...]
#       trains every run the sections' plans declare into the cache (on
#       CUDA when present), as make pdf would; no Quarto needed.
#   make checkpoints [PROFILE=smoke] [DATA=...]
#       make train, then packs the runs the report loads into
#       dist/a2-checkpoints.tar (PROFILE=smoke: build/smoke/dist/).
#   make section S=<stem-or-number> [PARAMS=file.yaml]
#       re-runs one section (with other parameters if given), re-renders.
#   make preview S=<stem-or-number> [PARAMS=file.yaml] [PROFILE=smoke]
#       Quarto's live preview of one chapter, executed by Quarto with the
#       project's Python; it re-renders on every save (Ctrl-C stops it).
#   make params [S=<stem-or-number>]
#       every parameter of a section: default, meaning, valid values.
#   make check-visual [PROFILE=full]
#       screenshots of every HTML page and PNGs of every PDF page in
#       build/<profile>/visual/, and what a reader would trip on
#       (the smoke profile unless PROFILE is given).
#   make test       the pytest suite
#   make lint       ruff over src, tests, bench and the sections' chunks
#   make format     the same, rewriting what ruff would change
#   make venv       .venv holding exactly the lock, requirements.txt (done
#                   by the above)
#   make lock       requirements.txt anew: the newest versions that
#                   pyproject.toml allows, and all they need
#   make quarto     Quarto from ../shared/quarto into .tools/quarto (offline)
#   make clean      removes build/ and dist/ (never .venv or .cache)

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Every target first makes the venv; tests that drive this Makefile on a
# scratch book pass SETUP= to use the project's.
SETUP ?= venv

# What users pass reaches the build byte for byte, through the
# environment: make never expands it ($, quotes, backticks, newlines).
USER_VARS := S PARAMS DATA PROFILE QUARTO V TIMEOUT CHECKPOINTS
$(foreach v,$(USER_VARS),$(eval override $(v) := $$(value $(v))))
export $(USER_VARS)

BUILD := $(PY) -m a2.pipeline --profile "$$PROFILE"

.PHONY: all pdf section preview params train checkpoints check-visual \
        test lint format venv lock quarto clean
all: pdf

venv: $(VENV)/.a2-installed
# The lock is whole (pip check fails otherwise), so nothing is resolved
# here: pip first installs the lock's own pip, then every pinned package
# without its dependencies, and removes what the lock no longer holds.
# `norm` writes package names one way (PyYAML, pyyaml).
norm = sed 's/==.*//' | tr 'A-Z_.' 'a-z--'
$(VENV)/.a2-installed: requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --no-deps "$$(grep '^pip==' requirements.txt)"
	$(PY) -m pip install -q --no-deps -r requirements.txt
	$(PY) -m pip freeze --all --exclude-editable | $(norm) \
	  | grep -vxF -f <(grep '^[A-Za-z0-9]' requirements.txt | $(norm)) \
	  | xargs -r $(PY) -m pip uninstall -q -y
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	$(PY) -m ipykernel install --sys-prefix --name a2 \
	  --display-name "Python (a2)" > /dev/null
	cp requirements.txt $@

# A fresh venv takes what pyproject.toml asks for (and the dev extra),
# the newest that fits, from the same registries; its packages are the
# lock. Then `make venv` brings .venv to it, and `make test` checks it.
LOCK_VENV := build/lock-venv
lock:
	rm -rf $(LOCK_VENV) && $(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install -q --upgrade pip
	$(LOCK_VENV)/bin/python -m pip install -q -e '.[dev]'
	{ sed '/^[A-Za-z0-9]/Q' requirements.txt; \
	  $(LOCK_VENV)/bin/python -m pip freeze --all --exclude-editable; \
	} > requirements.txt.new
	mv requirements.txt.new requirements.txt && rm -rf $(LOCK_VENV)

pdf: $(SETUP)
	@$(BUILD) pdf

section: $(SETUP)
	@$(BUILD) section "$$S" --params "$$PARAMS"

preview: $(SETUP)
	@$(BUILD) preview "$$S" --params "$$PARAMS"

params: $(SETUP)
	@$(BUILD) params "$$S"

train: $(SETUP)
	@$(BUILD) train

checkpoints: $(SETUP)
	@$(BUILD) checkpoints

check-visual: $(SETUP)
	@PROFILE="$${PROFILE:-smoke}" && $(BUILD) pdf && \
	  $(PY) tests/tools/visual.py "$$PROFILE"

quarto:
	@if [ -x ../shared/quarto/setup.sh ]; then \
	  ../shared/quarto/setup.sh "$(CURDIR)/.tools/quarto"; \
	else \
	  echo "no ../shared/quarto here: make pdf installs Quarto into" \
	       ".venv, or pass QUARTO=path/to/quarto"; exit 1; \
	fi

test: $(SETUP)
	$(PY) -m pytest

lint: $(SETUP)
	$(VENV)/bin/ruff check src tests bench report
	$(VENV)/bin/ruff format --check src tests bench report
	$(PY) tests/tools/chunk_lint.py

format: $(SETUP)
	$(VENV)/bin/ruff format src tests bench report
	$(VENV)/bin/ruff check --fix src tests bench report
	$(PY) tests/tools/chunk_lint.py --fix

clean:
	rm -rf build dist
