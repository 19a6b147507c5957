"""The README's Python examples run as written, and its two commands are the ones CI uses."""

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.tensorflow_only  # see pyproject.toml

README = (Path(__file__).parent.parent / "README.md").read_text()


@pytest.mark.e2e
def test_python_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})


def test_ci_runs_the_readme_test_command():
    commands = re.findall(r"```bash\n(.*?)\n```", README, flags=re.S)
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text()
    assert len(commands) >= 2 and commands[1] in ci
    assert commands[0].endswith("perceiver-tf train")
