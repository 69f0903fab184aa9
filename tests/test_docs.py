"""The documentation: one version everywhere, a README within its length, a config page that lists
every key, API pages for the public modules, and a site that builds strictly (when MkDocs is
installed: the ``docs`` extra, which ``make install`` installs)."""
import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import dlcore
from dlcore.training import runconfig

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PUBLIC_MODULES = ["dlcore", "dlcore.nn", "dlcore.functional", "dlcore.losses", "dlcore.optim", "dlcore.init",
                  "dlcore.metrics", "dlcore.data", "dlcore.training", "dlcore.io", "dlcore.onnx", "dlcore.models",
                  "dlcore.unsupervised"]


GUIDE_PAGES = sorted([DOCS / "index.md", *(DOCS / "guide").glob("*.md")])
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


@pytest.mark.parametrize("page", GUIDE_PAGES, ids=lambda p: str(p.relative_to(DOCS)))  # not "gpu": a marker name
def test_the_python_blocks_of_a_guide_page_run(page, tmp_path, monkeypatch):
    """Each ```python block of the page, in order, in one namespace, in a temporary folder (their
    asserts check what the text says); ```py (illustrations that need a GPU or a file), ```text and ```sh
    blocks are not run."""
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": f"docs_{page.stem}"}
    for i, block in enumerate(BLOCK.findall(page.read_text(encoding="utf-8")), 1):
        exec(compile(block, f"{page.name}, python block {i}", "exec"), namespace)


def _hook():
    spec = importlib.util.spec_from_file_location("config_keys", DOCS / "hooks" / "config_keys.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_version_is_written_once_and_the_changelog_names_it():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "dlcore.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", dlcore.__version__)
    newest = re.search(r"^## (\S+)", (ROOT / "CHANGELOG.md").read_text(encoding="utf-8"), re.M).group(1)
    assert newest == dlcore.__version__


def test_the_installed_distribution_reports_the_package_version():
    try:
        installed = importlib.metadata.version("dlcore")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("dlcore is not installed (only imported from the source tree)")
    assert installed == dlcore.__version__, "reinstall: pip install -e . (make install does it when pyproject changes)"


def test_readme_is_at_most_160_lines_and_its_links_exist():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 160
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", readme):
        assert (ROOT / target).exists(), f"README links {target}, which does not exist"


def test_the_config_page_lists_and_explains_every_key_of_the_schema():
    hook = _hook()
    table = hook.table()
    keys = [f"{section}.{key}" for section, entries in runconfig.SCHEMA.items() for key in entries]
    assert not [k for k in keys if k not in hook.MEANING], "add a line for each key to MEANING in docs/hooks/config_keys.py"
    assert not [k for k in hook.MEANING if k not in keys], "MEANING in docs/hooks/config_keys.py names keys the schema lacks"
    for key in keys:
        assert f"| `{key}` |" in table, key
    assert "<!-- config-keys -->" in (DOCS / "guide" / "configs.md").read_text(encoding="utf-8")


def test_the_guide_tables_name_every_loss_and_optimizer():
    from dlcore import losses, optim

    for page, names in (("losses.md", losses.LOSSES), ("optimizers.md", optim.OPTIMIZERS)):
        text = (DOCS / "guide" / page).read_text(encoding="utf-8")
        missing = [name for name in names if f"| `{name}` |" not in text]
        assert not missing, f"docs/guide/{page} has no row for {missing}"


def test_the_modules_guide_names_every_layer():
    from dlcore import nn

    text = (DOCS / "guide" / "modules.md").read_text(encoding="utf-8")
    layers = [name for name in nn.__all__ if isinstance(getattr(nn, name), type)]
    missing = [name for name in layers if not re.search(rf"\b{name}\b", text)]
    assert not missing, f"docs/guide/modules.md does not name {missing}"


def test_every_public_module_has_an_api_page_and_no_page_names_a_renamed_module():
    for module in PUBLIC_MODULES:
        page = DOCS / "api" / f"{module}.md"
        assert page.is_file() and f"::: {module}\n" in page.read_text(encoding="utf-8"), module
    for page in DOCS.rglob("*.md"):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"dlcore\.functions\b|dlcore\.config\b", text), f"{page} names a renamed module"


def test_every_docs_page_is_in_the_navigation():
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in DOCS.rglob("*.md"):
        assert str(page.relative_to(DOCS)) in nav, f"{page.relative_to(DOCS)} is not in mkdocs.yml's nav"


@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None, reason="MkDocs is not installed (the docs extra)")
def test_the_site_builds_strictly(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir",
                             str(tmp_path / "site")], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
