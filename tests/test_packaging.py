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
