"""pyproject.toml promises what the code needs."""
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_requires_python_admits_no_version_without_tomllib():
    """dlcore imports tomllib (the standard library's since Python 3.11) with no fallback, so
    requires-python must not admit 3.10 or older."""
    users = [p.relative_to(ROOT) for d in ("dlcore", "backends") for p in (ROOT / d).rglob("*.py")
             if re.search(r"^\s*import tomllib", p.read_text(), re.M)]
    assert users, "no module imports tomllib any more: this test can go"
    spec = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    major, minor = map(int, re.fullmatch(r">=\s*(\d+)\.(\d+)", spec.strip()).groups())
    assert (major, minor) >= (3, 11), f"requires-python {spec!r}, but {users} import tomllib (3.11+)"


def test_the_cupy_extras_require_a_pool_that_keeps_its_memory_alive():
    """Before CuPy 14.1 a dropped memory pool frees memory that arrays from it still use, and
    ``dlcore.cuda_graph`` drops a captured step's private pool at every recapture."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    minimums = {r: tuple(map(int, re.fullmatch(r"cupy-cuda\d+x>=([\d.]+)", r).group(1).split(".")))
                for reqs in extras.values() for r in reqs if r.startswith("cupy")}
    assert minimums and all(version >= (14, 1) for version in minimums.values()), minimums
