"""The README: its Python examples run as written (e2e), its two commands are the ones CI uses, and what
its tables, code blocks and prose claim holds, each checked without training: the presets' sizes and
shapes, every `perceiver-tf` command line and flag, every perceiver_tf name."""

import argparse
import importlib
import re
import shlex
from pathlib import Path

import pytest
from harness import PRESET_TASKS

import perceiver_tf as pt
from perceiver_tf.cli import build_parser

pytestmark = pytest.mark.tensorflow_only  # see pyproject.toml

README = (Path(__file__).parent.parent / "README.md").read_text()
#: `(language, body)` of every fenced code block.
BLOCKS = re.findall(r"```(\w*)\n(.*?)```", README, flags=re.S)
#: The README without its code blocks: prose, tables and inline code.
PROSE = re.sub(r"```.*?```", "", README, flags=re.S)
#: Flags the README gives to other tools: pip, saved_model_cli, docker, benchmarks.bench_tasks.
OTHER_TOOLS_FLAGS = {"--no-deps", "--ignore-requires-python", "--all", "--dir", "--rm", "--tasks"}
#: Presets small enough to build in the default tier (the others are built in test_models' slow tier).
BUILT = 5_000_000


def _numbers(text: str) -> list[int]:
    """The counts written with thousands separators in `text` ("**44,912,254** (paper: 44.9M)" -> [44912254])."""
    return [int(n.replace(",", "")) for n in re.findall(r"\d{1,3}(?:,\d{3})+", text)]


def _tables() -> list[list[list[str]]]:
    """Every Markdown table of the README (outside code blocks): its rows, header first, as lists of cells."""
    tables, rows = [], []
    for line in PROSE.splitlines() + [""]:
        if line.startswith("|"):
            if not re.fullmatch(r"[|\s:-]+", line):  # not the |---|---| line
                rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif rows:
            tables.append(rows)
            rows = []
    return tables


def _preset_named(cell: str) -> str | None:
    """The preset a table cell names: `` `name` `` or `` `build_name()` ``."""
    match = re.fullmatch(r"`(?:build_)?(\w+?)(?:\(\))?`", cell)
    return match.group(1) if match and match.group(1) in pt.PRESETS else None


def _assert_preset_count(name: str, cell: str) -> None:
    """A parameter cell names the preset's `params` first, and no count but `params` and `trainable_params`."""
    spec = pt.PRESETS[name]
    counts = _numbers(cell)
    assert counts and set(counts) <= {spec.params, spec.trainable_params}, (name, cell, spec.params)
    assert counts[0] == spec.params or "statistics" in cell, (name, cell, spec.params)


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


@pytest.mark.e2e
def test_python_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = [body for language, body in BLOCKS if language == "python"]
    assert blocks
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})


def test_ci_runs_the_readme_test_command():
    commands = re.findall(r"```bash\n(.*?)\n```", README, flags=re.S)
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text()
    assert len(commands) >= 2 and commands[1] in ci
    assert commands[0].endswith("perceiver-tf train")


def test_the_presets_table_is_the_presets():
    """Every preset has a row; its latents, blocks, sharing and parameters are the preset's, and the
    presets under 5M parameters, built, have that many."""
    (table,) = [t for t in _tables() if t[0][:2] == ["preset", "latents N x D"]]
    header, rows = table[0], {row[0].strip("`"): dict(zip(table[0], row)) for row in table[1:]}
    assert header[-1] == "parameters" and sorted(rows) == sorted(pt.PRESETS), set(rows) ^ set(pt.PRESETS)
    for name, row in rows.items():
        spec, backbone = pt.PRESETS[name], pt.PRESETS[name].backbone
        assert row["latents N x D"] == f"{backbone['num_latents']} x {backbone['latent_dim']}", name
        blocks = "{num_blocks} ({num_cross_attends}) x {num_self_attends_per_block}".format(**backbone)
        assert row["blocks (cross-attends) x self-attends"].split(",")[0] == blocks, name
        shared = (backbone.get("share_cross_attention", True), backbone.get("share_latent_transformer", True))
        assert (row["sharing"] == "none") == (shared == (False, False)), name
        _assert_preset_count(name, row["parameters"])
        if spec.params < BUILT:
            built = PRESET_TASKS[spec.task].from_preset(name).count_params()
            assert built == _numbers(row["parameters"])[0], (name, row["parameters"], built)


def test_every_table_gives_a_presets_own_parameter_count():
    """The other tables (modalities, transformers checkpoints) agree with the presets too."""
    checked = []
    for table in _tables():
        if "parameters" not in table[0]:
            continue
        column = table[0].index("parameters")
        for row in table[1:]:
            names = {_preset_named(cell) for cell in row} - {None}
            if names and _numbers(row[column]):
                (name,) = names
                _assert_preset_count(name, row[column])
                checked.append(name)
    assert len(checked) >= len(pt.PRESETS) + 10, checked  # the presets table, 6 modality rows, 5 checkpoints


def test_parameter_counts_in_prose_are_the_presets():
    """ "the `tiny` preset (84,620 parameters)", "preset `tiny`, 84,620 parameters"."""
    claims = re.findall(r"`(\w+)`(?: preset)?[ ,(]+(\d{1,3}(?:,\d{3})+) parameters", PROSE)
    assert len(claims) >= 2
    for name, count in claims:
        assert pt.PRESETS[name].params == int(count.replace(",", "")), (name, count)


def _command_lines() -> list[str]:
    """The `perceiver-tf` command lines of the code blocks, without what comes before `perceiver-tf`
    (`&&` chains, `KERAS_BACKEND=jax`); optional parts in `[...]` kept, brackets dropped."""
    lines = []
    for language, body in BLOCKS:
        for line in body.splitlines() if language != "python" else ():
            for part in line.split("&&"):
                if re.match(r"\s*(\w+=\S+\s+)*perceiver-tf\b", part):
                    lines.append(re.sub(r"[\[\]]", "", part[part.index("perceiver-tf"):]))
    return lines


def test_every_command_line_parses():
    """Each `perceiver-tf ...` line of a code block is accepted by the real parser."""
    lines = _command_lines()
    assert len(lines) >= 10, lines
    for line in lines:
        argv = shlex.split(line, comments=True)[1:]
        try:
            build_parser().parse_args(argv)
        except SystemExit as exit_info:
            pytest.fail(f"README.md: `{line}` does not parse (exit {exit_info.code})")


def test_every_flag_the_readme_names_exists():
    """Inline `perceiver-tf SUBCOMMAND[/...] --flag ...` mentions name subcommands and their flags, and
    every `--flag` anywhere is a perceiver-tf flag (or one of OTHER_TOOLS_FLAGS)."""
    subcommands = _subcommands()
    for span in re.findall(r"`(perceiver-tf [^`]+)`", PROSE):
        words = span.split()
        names = words[1].split("/") if not words[1].startswith("-") else []
        assert set(names) <= set(subcommands), span
        for flag in (w.split("=")[0] for w in words[2:] if w.startswith("--")):
            assert all(flag in subcommands[n]._option_string_actions for n in names), (span, flag)
    known = {flag for parser in (build_parser(), *subcommands.values()) for flag in parser._option_string_actions}
    unknown = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", README)) - known - OTHER_TOOLS_FLAGS
    assert not unknown, f"README.md names flags no perceiver-tf subcommand has: {sorted(unknown)}"


def _resolve(dotted: str):
    """`perceiver_tf.a.b.name`: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:end]))
        except ImportError:
            continue
        for attribute in parts[end:]:
            found = getattr(found, attribute)
        return found
    raise ImportError(dotted)


def test_every_perceiver_tf_name_exists():
    """`from perceiver_tf... import a, b` lines, and `perceiver_tf.x.y` / `pt.x` in code or prose."""
    names = {f"{module}.{name.strip()}" for module, imported in
             re.findall(r"^from (perceiver_tf[\w.]*) import ([\w, ]+)", README, flags=re.M)
             for name in imported.split(",")}
    names |= {re.sub(r"^pt\.", "perceiver_tf.", n) for n in re.findall(r"\b(?:perceiver_tf|pt)(?:\.\w+)+", README)}
    assert len(names) >= 30, sorted(names)
    missing = []
    for dotted in sorted(names):
        try:
            _resolve(dotted)
        except (ImportError, AttributeError) as error:
            missing.append(f"{dotted} ({error})")
    assert not missing, missing
