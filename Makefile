# hnn: `make train` (the main job) and `make test` (the tests). Both create .venv from
# requirements.txt when it is missing or older than requirements.txt / pyproject.toml.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HNN := $(VENV)/bin/hnn
STAMP := $(VENV)/.installed

BITS ?= 64
VARIANT ?= merged
EPOCHS ?= 200

.PHONY: venv train test test-all bench clean-cache

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

venv: $(STAMP)

## Build the zoo, train HNN-Net (Q=64, merged data), save the shipped hasher, print Table 2.
train: $(STAMP)
	$(HNN) train --bits $(BITS) --variant $(VARIANT) --epochs $(EPOCHS) --results results

## The default test suite (slow tests deselected).
test: $(STAMP)
	$(PY) -m pytest -q

## Every test, the slow ones (large models) included.
test-all: $(STAMP)
	$(PY) -m pytest -q -m ""

## Benchmarks: print timing figures.
bench: $(STAMP)
	$(PY) bench/pipeline.py

clean-cache:
	rm -rf $${HNN_CACHE:-$${XDG_CACHE_HOME:-$$HOME/.cache}/hnn}
