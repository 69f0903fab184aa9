# make train: set up .venv and train configs/default.toml (GPU when CuPy and a device are there)
# make test:  set up .venv and run the test suite (GPU tests skip without CUDA)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
CONFIG ?= configs/default.toml
# CUDA extra for CuPy, picked from the driver's CUDA version when nvidia-smi answers
CUDA_MAJOR := $(shell nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: *\([0-9]*\).*/\1/p' | head -n 1)
GPU_EXTRA  := $(if $(filter 12,$(CUDA_MAJOR)),cuda12,$(if $(CUDA_MAJOR),cuda13,))

.PHONY: install install-dev train test test-gpu clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev$(if $(GPU_EXTRA),$(comma)$(GPU_EXTRA),)]"
	touch $@

comma := ,

install: $(VENV)/.installed

train: install
	$(PY) scripts/train.py --config $(CONFIG)

test: install
	$(PY) -m pytest -q

test-gpu: install
	@if $(PY) -c "import backends, sys; sys.exit(0 if backends.cuda_available() else 1)"; then \
		$(PY) -m pytest -q -m gpu; \
	else \
		echo "test-gpu: no CUDA here (CuPy or a CUDA device is missing); no GPU test was run."; \
	fi

clean:
	rm -rf $(VENV) .pytest_cache
