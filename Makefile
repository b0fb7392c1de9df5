# a2: `make pdf` builds the report, `make test` runs the test suite.
#
#   make pdf [PROFILE=smoke] [DATA=path|download] [RENDERER=auto|quarto|
#            embedded] [QUARTO=path/to/quarto]
#       dist/a2-writeup.pdf, dist/a2-code.ipynb, dist/site/ (PROFILE=smoke:
#       build/smoke/dist/). Executes only the sections whose source,
#       params, profile, data setting or library code changed; renders
#       with Quarto when one is found, else with the embedded renderer.
#   make section S=<stem-or-number> [PARAMS=file.yaml]
#       re-runs one section (with other parameters if given), re-renders.
#   make params [S=<stem-or-number>]
#       every parameter of a section: default, meaning, valid values.
#   make check-visual [PROFILE=full]
#       screenshots of every HTML page (in chromium) and PNGs of every PDF
#       page in $(B)/visual/{html,pdf}/, and what a reader would trip on.
#       Builds the smoke profile unless PROFILE is given.
#   make test       the pytest suite
#   make lint       ruff over src, tests, bench and the sections' chunks
#   make format     the same, rewriting what ruff would change
#   make venv       .venv with the pinned requirements (done by the above)
#   make clean      removes build/ and dist/ (never .venv or .cache)
#
# What users pass (S, PARAMS, DATA, QUARTO) reaches the build through the
# environment, never through the shell's parser: a value with spaces or
# `;` is one argument, not a command.

SHELL := /bin/bash
MAKEFILE := $(abspath $(firstword $(MAKEFILE_LIST)))
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Installing the venv is a prerequisite of every step; tests that drive this
# Makefile against a scratch copy set SETUP= to use the existing venv.
SETUP ?= $(VENV)/.a2-installed

# check-visual looks at the smoke build unless told otherwise.
ifeq ($(origin PROFILE)$(MAKECMDGOALS),undefinedcheck-visual)
  PROFILE := smoke
endif
PROFILE ?= full
ifneq ($(shell [[ '$(subst ','',$(PROFILE))' =~ ^[A-Za-z0-9_-]+$$ ]] \
                 && echo ok),ok)
  $(error PROFILE must be a name such as full or smoke (letters, digits, \
    - and _), e.g. make pdf PROFILE=smoke)
endif
B ?= build/$(PROFILE)
ifeq ($(PROFILE),full)
  DIST ?= dist
  PROFILE_FILE :=
else
  DIST ?= $(B)/dist
  PROFILE_FILE := params/$(PROFILE).yaml
endif
BUILD := $(PY) -m a2.pipeline --build $(B)
PROFILE_ARG := $(if $(PROFILE_FILE),--profile $(PROFILE_FILE))

# The data source, one setting: DATA=... on the command line or A2_DATA in
# the environment (the build makes a relative path absolute).
export A2_DATA := $(or $(DATA),$(A2_DATA),download)
# The renderer: auto (Quarto when found: QUARTO=path or `quarto` on PATH),
# quarto or embedded.
export A2_RENDERER := $(or $(RENDERER),$(A2_RENDERER),auto)
export QUARTO
export S PARAMS

.PHONY: all pdf section params check-visual test lint format venv quarto \
        clean FORCE
all: pdf

# --- the virtual environment ----------------------------------------------
venv: $(VENV)/.a2-installed
$(VENV)/.a2-installed: requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -r requirements.txt
	$(PY) -m pip install --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name a2 \
	  --display-name "Python (a2)"
	cp requirements.txt $@

# --- which sections exist and what each depends on -------------------------
SOURCES := $(wildcard report/*.qmd)
LIB_SOURCES := $(filter-out src/a2/pipeline/%,\
                 $(wildcard src/a2/*.py src/a2/*/*.py))
BUILD_SOURCES := $(wildcard src/a2/pipeline/*.py src/a2/pipeline/filters/* \
                   src/a2/pipeline/templates/*)

# deps.mk: SECTIONS, LIBRARY, and each section's library files.
$(B)/deps.mk: $(SOURCES) $(LIB_SOURCES) _quarto.yml | $(SETUP)
	@mkdir -p $(@D)
	$(BUILD) deps $@
	@touch $@
ifneq ($(A2_LOCKED),)
include $(B)/deps.mk
endif

# Settings as files whose time changes only with their content.
$(B)/data.stamp $(B)/renderer.stamp: FORCE
	@mkdir -p $(@D)
	@v=$$( [ $(@F) = data.stamp ] && printf '%s' "$$A2_DATA" \
	       || printf '%s %s' "$$A2_RENDERER" "$$QUARTO"); \
	[ "$$(cat $@ 2>/dev/null)" = "$$v" ] || printf '%s' "$$v" > $@

# Every params file, and the data setting, are validated before any
# section runs.
$(B)/params.ok: $(SOURCES) $(wildcard params/*.yaml) $(B)/data.stamp \
                src/a2/params.py | $(SETUP)
	$(BUILD) check $(PROFILE_ARG)
	@touch $@

# --- training, then executing sections --------------------------------------
# Every run the sections will load, trained side by side (a2.schedule);
# the sections that train (deps.mk) then load them from the cache.
$(B)/trained.stamp: $(B)/params.ok $(LIBRARY) $(PROFILE_FILE) | $(SETUP)
	$(BUILD) train $(PROFILE_ARG)
	@touch $@

EXEC := $(SECTIONS:%=$(B)/exec/%.ipynb)

.SECONDEXPANSION:
$(B)/exec/%.ipynb: report/%.qmd $$(wildcard params/$$*.yaml) \
                   $(PROFILE_FILE) | $(B)/params.ok $(SETUP)
	$(BUILD) execute $* $(PROFILE_ARG)

ifneq ($(A2_LOCKED),)
section: | $(SETUP) $(B)/params.ok
	@stem=$$($(BUILD) resolve "$$S") && \
	$(BUILD) train "$$stem" $${PARAMS:+--params "$$PARAMS"} \
	  $(PROFILE_ARG) && \
	$(BUILD) execute "$$stem" $${PARAMS:+--params "$$PARAMS"} \
	  $(PROFILE_ARG) && \
	$(MAKE) --no-print-directory -f $(MAKEFILE) pdf
endif

params: | $(SETUP)
	@$(BUILD) params "$$S"

# --- rendering --------------------------------------------------------------
RENDER_IN := $(EXEC) _quarto.yml index.md $(wildcard report/*.bib \
             report/*.lua report/*.css) $(BUILD_SOURCES) $(B)/renderer.stamp

$(DIST)/a2-code.ipynb: $(EXEC) $(LIBRARY) _quarto.yml \
                       src/a2/pipeline/assemble.py
	$(BUILD) assemble $@

# One render writes the PDF and the site (the site offers the PDF and the
# code notebook for download).
$(DIST)/a2-writeup.pdf $(DIST)/site/index.html &: $(RENDER_IN) \
                                                  $(DIST)/a2-code.ipynb
	$(BUILD) render --dist $(DIST) --extra $(DIST)/a2-code.ipynb

ifneq ($(A2_LOCKED),)
pdf: $(DIST)/a2-writeup.pdf $(DIST)/a2-code.ipynb $(DIST)/site/index.html
	@echo "outputs in $(DIST)/: a2-writeup.pdf a2-code.ipynb site/"

check-visual: pdf
	$(PY) tests/tools/visual.py $(DIST) $(B)/visual
else
# One build per tree: these run again under build/.lock (a second build
# waits for the first).
pdf section check-visual: | $(SETUP)
	@$(PY) -m a2.pipeline.lock "$(CURDIR)" $(MAKE) --no-print-directory \
	  -f $(MAKEFILE) A2_LOCKED=1 $@
endif

# --- Quarto where only the package registries are reachable ----------------
# ../shared/quarto/setup.sh sets up the real Quarto CLI from source into
# .tools/quarto, where the build finds it. Elsewhere install Quarto the
# usual way (README).
quarto:
	@if [ -x ../shared/quarto/setup.sh ]; then \
	  ../shared/quarto/setup.sh "$(CURDIR)/.tools/quarto"; \
	else \
	  echo "no ../shared/quarto here: install Quarto from quarto.org," \
	       "conda-forge (environment.yml) or pip install quarto-cli," \
	       "or pass QUARTO=path/to/quarto"; exit 1; \
	fi

# --- tests and housekeeping -------------------------------------------------
test: | $(SETUP)
	$(PY) -m pytest

# Ruff (pyproject.toml) over the code and the sections' chunks; `format`
# rewrites, `lint` only reports (the test suite runs it too).
lint: | $(SETUP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(PY) -m a2.pipeline.lint

format: | $(SETUP)
	$(VENV)/bin/ruff format src tests bench
	$(VENV)/bin/ruff check --fix src tests bench
	$(PY) -m a2.pipeline.lint --fix

clean:
	rm -rf build dist
