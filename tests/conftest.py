"""Test set-up: every test starts on the NumPy backend with seed 0; ``gpu`` tests need CUDA.

Without CUDA, ``--simulated-gpu`` runs the ``gpu`` tests on the host simulation of CuPy
(``tests/simulated_cupy.py``) instead of skipping them, except those marked ``cuda_only``
(cuDNN and NCCL: what the simulation has not got).
"""
import pytest

import backends
import dlcore


def pytest_addoption(parser):
    parser.addoption("--simulated-gpu", action="store_true",
                     help="without CUDA, run the gpu tests on the host simulation of CuPy (tests/simulated_cupy.py); "
                          "those marked cuda_only still skip")


def _simulating(config) -> bool:
    """--simulated-gpu was given, no CUDA device answers, and a C++ compiler can build the fused kernels."""
    if not config.getoption("--simulated-gpu") or backends.cuda_available():
        return False
    from tests.fused_kernels import HostKernels

    return HostKernels.compiler is not None


def pytest_terminal_summary(terminalreporter, config):
    """Say last (also under -q) where the gpu tests ran."""
    if backends.cuda_available():
        where = "on the CUDA device"
    elif _simulating(config):
        where = "on the host simulation of CuPy, not on a GPU (no CUDA here; cuda_only tests skipped)"
    elif config.getoption("--simulated-gpu"):
        where = "skipped (no CUDA here, and no C++ compiler for the simulation's kernels)"
    else:
        where = "skipped (no CUDA here)"
    terminalreporter.write_line(f"gpu tests: {where}")


def pytest_collection_modifyitems(config, items):
    if backends.cuda_available():
        return
    simulating = _simulating(config)
    skip = pytest.mark.skip(reason="no CUDA: CuPy or a CUDA device is missing")
    for item in items:
        if "gpu" in item.keywords and (not simulating or "cuda_only" in item.keywords):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def host_kernel_dir(tmp_path_factory):
    """Where the fused CUDA bodies compiled as C++ are kept for the session (``tests/fused_kernels.py``)."""
    return tmp_path_factory.mktemp("host_kernels")


@pytest.fixture(autouse=True)
def _numpy_backend_seed_0(request):
    backends.use("numpy")
    dlcore.manual_seed(0)
    if "gpu" in request.keywords and _simulating(request.config):
        from tests.simulated_cupy import simulated_gpu

        with simulated_gpu(request.getfixturevalue("host_kernel_dir")):
            yield
    else:
        yield
    backends.use("numpy")
