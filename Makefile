# hnn: `make train` (the main job) and `make test` (the tests). Both create .venv from
# requirements.txt when it is missing or older than requirements.txt / pyproject.toml.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HNN := $(VENV)/bin/hnn
STAMP := $(VENV)/.installed

BITS ?= 64
VARIANT ?= canonical
EPOCHS ?= 200

.PHONY: venv train figures test test-all bench clean-cache

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

venv: $(STAMP)

SEEDS ?= 3

## Build the paper zoo, run the paper's Table 2 grid (3 methods x Q x raw/merged x seeds, plus
## leave-one-model-out) and print it; train the paper's HNN-Net hasher (--hasher hnn) and
## calibrate its `hnn check` threshold on the paper zoo. Then build the broad zoo, train the
## default hasher on it and calibrate it and the two WL-SimHashes' thresholds on the broad zoo.
train: $(STAMP)
	$(HNN) grid --seeds $(SEEDS) --epochs $(EPOCHS) --results results
	$(HNN) train --bits $(BITS) --variant $(VARIANT) --epochs $(EPOCHS) --results results/hasher
	$(HNN) index calibrate --bits $(BITS) --hasher hnn
	$(HNN) zoo build
	$(HNN) zoo train
	$(HNN) index calibrate --hasher wl
	$(HNN) index calibrate --hasher wl-sized

## Figures 5-7, a Hamming heatmap and an embedding projection (PNG files in results/).
figures: $(STAMP)
	$(HNN) figures --results results --seeds $(SEEDS) --epochs $(EPOCHS)

## The default test suite (slow tests deselected).
test: $(STAMP)
	$(PY) -m pytest -q

## Every test, the slow ones (large models) included.
test-all: $(STAMP)
	$(PY) -m pytest -q -m ""

## Benchmarks: print timing figures.
bench: $(STAMP)
	$(PY) bench/pipeline.py
	$(PY) bench/search.py
	$(PY) bench/convert.py
	$(PY) bench/export.py
	$(PY) bench/cross_framework.py
	$(PY) bench/hostile.py
	$(PY) bench/zoo.py
	$(PY) bench/handwritten.py
	$(PY) bench/equivalence.py

clean-cache:
	rm -rf $${HNN_CACHE:-$${XDG_CACHE_HOME:-$$HOME/.cache}/hnn}
