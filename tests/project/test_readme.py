"""The README's two set-up commands stay true: CI runs the test command."""

import re
from pathlib import Path

from conftest import ROOT


def _setup_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_readme_has_exactly_two_setup_commands():
    cmds = _setup_commands()
    assert len(cmds) == 2
    assert "pip install" in cmds[0] and cmds[0].endswith("pvprobe --demo")
    assert "pip install" in cmds[1] and "pytest" in cmds[1]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert _setup_commands()[1] in ci.splitlines()


def test_every_picture_the_readme_shows_exists_and_comes_from_the_script():
    text = (ROOT / "README.md").read_text()
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(pictures) >= 8
    # the demo's pictures, and the pvAccess ones (they need the p4p test server too)
    scripts = [(ROOT / "docs" / n).read_text() for n in ("make_screenshots.py", "make_pva_screenshots.py")]
    for rel in pictures:
        assert (ROOT / rel).is_file(), rel
        assert any(Path(rel).name in script for script in scripts), \
            f"{rel} is not made by docs/make_screenshots.py or docs/make_pva_screenshots.py"


def test_the_fast_subset_the_readme_names_is_registered():
    """README's fast subset uses the markers pyproject.toml registers (strictly)."""
    readme = (ROOT / "README.md").read_text()
    assert 'python -m pytest -m "not live and not slow"' in readme
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert "--strict-markers" in pyproject
    for marker in ("live", "slow"):
        assert re.search(rf'^\s*"{marker}: ', pyproject, re.M), marker
