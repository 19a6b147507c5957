"""`perceiver-tf --help` needs no TensorFlow, and every flag explains itself with its default."""

import argparse
import subprocess
import sys

import pytest

from perceiver_tf.cli import build_parser

# The console script's process: `perceiver_tf` defers its API (see perceiver_tf/__init__.py).
HELP_IN_CONSOLE_SCRIPT = """
import sys
sys.argv[0] = "/venv/bin/perceiver-tf"
from perceiver_tf.cli import main
for argv in (["--help"], *([name, "--help"] for name in sys.argv[1:])):
    try:
        main(argv)
    except SystemExit as exit:
        assert exit.code == 0, (argv, exit.code)
print("imported:", sorted(m for m in ("tensorflow", "keras", "numpy") if m in sys.modules))
"""


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.e2e
def test_help_of_every_subcommand_imports_no_tensorflow():
    result = subprocess.run([sys.executable, "-c", HELP_IN_CONSOLE_SCRIPT, *_subcommands()], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "imported: []"
    assert result.stderr == ""


@pytest.mark.parametrize("name", sorted(_subcommands()))
def test_every_flag_has_help_and_shows_its_default_once(name):
    parser = _subcommands()[name]
    text = parser.format_help()
    for action in parser._actions:
        if action.help is argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
            continue
        assert action.help, f"{name} {action.option_strings or action.dest} has no help text"
        flag_help = parser._get_formatter()._expand_help(action)
        assert not ("Default:" in flag_help and "(default:" in flag_help), flag_help  # said once
        if action.option_strings and action.default not in (None, False, [], argparse.SUPPRESS):
            assert str(action.default) in flag_help, (name, action.option_strings, flag_help)
    assert "(default: None)" not in text


@pytest.mark.e2e
def test_a_console_script_subcommand_loads_the_api():
    script = ("import sys\nsys.argv[0] = 'perceiver-tf'\nfrom perceiver_tf.cli import main\n"
              "assert main(['presets']) == 0\nimport perceiver_tf\nassert 'PerceiverClassifier' in perceiver_tf.__all__\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "tiny" in result.stdout and "modelnet40" in result.stdout
