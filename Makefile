# a2: `make pdf` builds the report, `make test` runs the test suite.
#
#   make pdf [PROFILE=smoke] [DATA=path|download]
#       dist/a2-writeup.pdf, dist/a2-code.ipynb, dist/site/ (PROFILE=smoke:
#       build/smoke/dist/). Executes only the sections whose notebook,
#       params, profile, data setting or library code changed.
#   make section S=<stem-or-number> [PARAMS=file.yaml]
#       re-runs one section (with other parameters if given), re-renders.
#   make check-visual [PROFILE=full]
#       screenshots of every HTML page (in chromium) and PNGs of every PDF
#       page in $(B)/visual/{html,pdf}/, and what a reader would trip on
#       (failed requests, broken images, text outside the margins, ...).
#       Builds the smoke profile unless PROFILE is given.
#   make test       the pytest suite
#   make venv       .venv with the pinned requirements (done by the above)
#   make clean      removes build/ and dist/ (never .venv or .cache)

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
# the environment; a local path is made absolute (notebooks run elsewhere).
DATA ?= $(if $(A2_DATA),$(A2_DATA),download)
override A2_DATA := $(strip $(if $(filter download,$(DATA)),download,\
                       $(abspath $(DATA))))
export A2_DATA

.PHONY: all pdf section check-visual test venv clean FORCE
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
NOTEBOOKS := $(wildcard report/*.ipynb)
LIB_SOURCES := $(filter-out src/a2/pipeline/%,\
                 $(wildcard src/a2/*.py src/a2/*/*.py))
BUILD_SOURCES := $(wildcard src/a2/pipeline/*.py src/a2/pipeline/filters/* \
                   src/a2/pipeline/templates/*)

# deps.mk: SECTIONS, LIBRARY, and each section's library files.
$(B)/deps.mk: $(NOTEBOOKS) $(LIB_SOURCES) _quarto.yml | $(SETUP)
	@mkdir -p $(@D)
	$(BUILD) deps $@
	@touch $@
ifneq ($(filter all pdf section check-visual,$(or $(MAKECMDGOALS),all)),)
include $(B)/deps.mk
endif

# The data setting as a file whose time changes only with its content.
$(B)/data.stamp: FORCE
	@mkdir -p $(@D)
	@[ "$$(cat $@ 2>/dev/null)" = "$(A2_DATA)" ] || echo "$(A2_DATA)" > $@

# Every params file, and the data setting, are validated before any
# section runs.
$(B)/params.ok: $(NOTEBOOKS) $(wildcard params/*.yaml) $(B)/data.stamp \
                | $(SETUP)
	$(BUILD) check $(PROFILE_ARG)
	@touch $@

# --- executing sections ----------------------------------------------------
EXEC := $(SECTIONS:%=$(B)/exec/%.ipynb)

.SECONDEXPANSION:
$(B)/exec/%.ipynb: report/%.ipynb $$(wildcard params/$$*.yaml) \
                   $(PROFILE_FILE) | $(B)/params.ok $(SETUP)
	$(BUILD) execute $* $(PROFILE_ARG)

section: | $(SETUP) $(B)/params.ok
	@stem=$$($(BUILD) resolve "$(S)") && \
	$(BUILD) execute "$$stem" $(if $(PARAMS),--params $(PARAMS)) \
	  $(PROFILE_ARG) && \
	$(MAKE) --no-print-directory -f $(MAKEFILE) pdf

# --- rendering --------------------------------------------------------------
RENDER_IN := $(EXEC) _quarto.yml $(wildcard report/*.md report/*.bib) \
             $(BUILD_SOURCES)

$(DIST)/a2-writeup.pdf: $(RENDER_IN)
	$(BUILD) render pdf --dist $(DIST)

$(DIST)/a2-code.ipynb: $(EXEC) $(LIBRARY) _quarto.yml \
                       src/a2/pipeline/assemble.py
	$(BUILD) assemble $@

$(DIST)/site/index.html: $(RENDER_IN) $(DIST)/a2-writeup.pdf \
                         $(DIST)/a2-code.ipynb
	$(BUILD) render html --dist $(DIST) \
	  --extra $(DIST)/a2-writeup.pdf --extra $(DIST)/a2-code.ipynb

pdf: $(DIST)/a2-writeup.pdf $(DIST)/a2-code.ipynb $(DIST)/site/index.html
	@echo "outputs in $(DIST)/: a2-writeup.pdf a2-code.ipynb site/"

# --- looking at the outputs -----------------------------------------------
check-visual: pdf
	$(PY) -m a2.pipeline.visual $(DIST) $(B)/visual

# --- tests and housekeeping -------------------------------------------------
test: | $(SETUP)
	$(PY) -m pytest

clean:
	rm -rf build dist
