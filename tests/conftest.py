"""Test set-up: every test starts on the NumPy backend with seed 0; ``gpu`` tests need CUDA."""
import pytest

import backends
import dlcore


def pytest_collection_modifyitems(config, items):
    if backends.cuda_available():
        return
    skip = pytest.mark.skip(reason="no CUDA: CuPy or a CUDA device is missing")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _numpy_backend_seed_0():
    backends.use("numpy")
    dlcore.manual_seed(0)
    yield
    backends.use("numpy")
