"""The README is the front door: at most 300 lines, its first two commands are the main job and the test
command CI runs, the five first tasks have one command each, one install route, short table cells, and a
link to every page of the docs site. What its numbers, commands, flags and names claim is checked with the
docs pages' in test_docs.py."""

import re

import pytest
from doc_pages import DOCS, ROOT, Page, without_markers

pytestmark = pytest.mark.tensorflow_only  # see pyproject.toml

README = Page("README.md")
#: The longest table cell a reader has to take in (as rendered: markers do not count).
MAX_CELL = 200


def test_the_readme_is_short():
    assert len(README.text.splitlines()) <= 300


def test_ci_runs_the_readme_test_command():
    commands = re.findall(r"```bash\n(.*?)\n```", README.text, flags=re.S)
    ci = (ROOT / ".ci" / "run").read_text()
    assert len(commands) >= 2 and commands[1] in ci
    assert commands[0].endswith("perceiver-tf train")


def test_one_install_route():
    """The package is installed by the main command only (the test command installs the dev extras)."""
    installs = re.findall(r"pip install [^`\n&]*-e \S*", README.text)
    assert installs == ["pip install -r requirements.txt -e .", "pip install -r requirements-dev.txt -e ."], installs


def test_five_first_tasks_with_one_command_each():
    section = README.text.split("## Five first tasks", 1)[1].split("\n## ", 1)[0]
    tasks = re.split(r"^### ", section, flags=re.M)[1:]
    assert len(tasks) == 5, [task.splitlines()[0] for task in tasks]
    for task in tasks:
        assert len(re.findall(r"^```\w+$", task, flags=re.M)) == 1, task.splitlines()[0]


def test_table_cells_are_short():
    cells = [cell for table in README.tables() for row in table for cell in row]
    assert cells and max(len(without_markers(cell)) for cell in cells) <= MAX_CELL


def test_every_docs_page_is_linked():
    linked = {link.partition("#")[0] for link in README.links()}
    assert {f"docs/{p.name}" for p in DOCS.glob("*.md")} <= linked, sorted(linked)


def test_no_history_in_the_quick_start():
    """The quick start says what happens now: no earlier defaults or optimizer comparisons."""
    quick_start = README.text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert not re.search(r"\b(LAMB|before|earlier|used to)\b", quick_start), quick_start
