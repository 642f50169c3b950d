"""Every Python example in README.md runs as written, against the embedded engine."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def _examples() -> list[tuple[str, str]]:
    """The README's ```python blocks, each named by the heading above it."""
    found: list[tuple[str, str]] = []
    heading = ""
    for part in re.split(
        r"(^#+ [^\n]*$|^```python\n.*?^```$)", README.read_text(), flags=re.M | re.S
    ):
        if part.startswith("#"):
            heading = part.lstrip("# ").strip()
        elif part.startswith("```python"):
            found.append((f"{heading} #{sum(h == heading for h, _ in found) + 1}", part[10:-3]))
    return found


EXAMPLES = [(where, code) for where, code in _examples() if "def test_" not in code]
TEST_EXAMPLES = [(where, code) for where, code in _examples() if "def test_" in code]
pytest_plugins = ["pytester"]


def test_the_readme_has_examples() -> None:
    assert len(EXAMPLES) >= 8
    assert len(TEST_EXAMPLES) >= 1


@pytest.mark.parametrize(("where", "code"), EXAMPLES, ids=[w for w, _ in EXAMPLES])
def test_example_runs(where: str, code: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTLOCK_BASE_URL", "local://readme")
    monkeypatch.delenv("DRIFTLOCK_API_KEY", raising=False)
    exec(compile(code, f"README.md ({where})", "exec"), {"__name__": "readme_example"})


@pytest.mark.parametrize(("where", "code"), TEST_EXAMPLES, ids=[w for w, _ in TEST_EXAMPLES])
def test_example_tests_pass_with_the_plugin(
    where: str, code: str, pytester: pytest.Pytester
) -> None:
    pytester.makepyfile(test_readme_example=code)
    result = pytester.runpytest_subprocess("-q")
    result.assert_outcomes(passed=code.count("def test_"))
