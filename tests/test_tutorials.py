"""The course tutorials (docs/tutorials/NN_*.md) run: each page's ```python blocks are executed in
order in one namespace, in a temporary folder; the ``assert`` lines in them check the results
the text states. A page whose data set is not installed skips, naming it."""
import re
from pathlib import Path

import pytest

from dlcore.data import DatasetNotFoundError

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted((ROOT / "docs" / "tutorials").glob("[0-9][0-9]_*.md"))
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
SCRIPT = re.compile(r"(?:scripts/[\w/]+\.py|configs/\w+\.toml)")


def blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text(encoding="utf-8"))


def test_there_are_tutorials_for_the_course():
    assert len(PAGES) >= 6, [p.name for p in PAGES]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_tutorial_names_the_script_or_config_that_draws_its_pictures(page):
    named = SCRIPT.findall(page.read_text(encoding="utf-8"))
    assert named, f"{page.name} names no script of scripts/ or config of configs/"
    for path in named:
        assert (ROOT / path).is_file(), f"{page.name} names {path}, which is not in the source tree"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_tutorial_runs(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = blocks(page)
    assert code, f"{page.name} has no python block"
    namespace = {"__name__": f"tutorial_{page.stem}"}
    for i, block in enumerate(code, 1):
        try:
            exec(compile(block, f"{page.name}, python block {i}", "exec"), namespace)
        except DatasetNotFoundError as error:
            pytest.skip(f"{page.name}: a data set is not installed ({error})")
