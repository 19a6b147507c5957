"""The documentation (README.md and the docs/ site): the site builds with MkDocs' strict checks, every link
and image resolves, every measured number is its benchmarks/results value and every parameter count its
preset's, every `perceiver-tf` command line parses and every flag and perceiver_tf name exists, the API
reference covers the public API, and the Python examples run as written (e2e). The README's own rules
(its length, its two commands) are in test_readme.py; the page parsing is doc_pages.py."""

import argparse
import importlib
import json
import logging
import re
import shlex

import doc_pages
import pytest
import yaml
from doc_pages import DOCS, ROOT, Page, numbers, pages, without_markers
from harness import PRESET_TASKS

import perceiver_tf as pt
from perceiver_tf.cli import build_parser

pytestmark = pytest.mark.tensorflow_only  # see pyproject.toml
#: Presets small enough to build in the default tier (the others are built in test_models' slow tier).
BUILT = 5_000_000
PAGES = pages()


def test_the_site_builds_strictly(tmp_path, monkeypatch):
    """`mkdocs build --strict`: no warning (broken link or anchor, a page missing from the nav, a
    docstring mkdocstrings cannot read, an API entry that does not resolve)."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("NO_MKDOCS_2_WARNING", "1")
    warnings = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: warnings.append(record.getMessage())
    logging.getLogger("mkdocs").addHandler(handler)
    try:
        build(load_config(str(ROOT / "mkdocs.yml"), site_dir=str(tmp_path / "site"), strict=True))
    finally:
        logging.getLogger("mkdocs").removeHandler(handler)
    assert not warnings, warnings
    assert (tmp_path / "site" / "benchmarks" / "index.html").read_text().count("<table>") >= 10


def test_the_nav_lists_every_page():
    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]
    listed = [next(iter(entry.values())) for entry in nav]
    assert sorted(listed) == sorted(p.name for p in DOCS.glob("*.md")), listed


def test_links_and_images_resolve():
    """Every relative link or image of every page names an existing file, and an anchor that GitHub and
    MkDocs both give one of its headings; the site's pages link only within docs/."""
    broken = []
    for page in PAGES:
        for link in page.links():
            if re.match(r"[a-z]+:", link):
                continue
            target, _, anchor = link.partition("#")
            path = (page.path.parent / target).resolve() if target else page.path
            if not path.exists() or (page.name.startswith("docs/") and DOCS not in path.parents):
                broken.append(f"{page.name}: {link} (no such file in the site)")
            elif anchor and anchor not in Page(str(path.relative_to(ROOT))).anchors():
                broken.append(f"{page.name}: {link} (no heading with that anchor)")
    assert not broken, broken


def test_slugs_follow_github_and_mkdocs():
    """The two anchor rules the link check applies, on headings where they differ."""
    assert doc_pages.github_slug("Audio + video") == "audio--video"
    assert doc_pages.mkdocs_slug("Audio + video") == "audio-video"
    assert doc_pages.github_slug("`perceiver-tf attention`") == doc_pages.mkdocs_slug("`perceiver-tf attention`")
    assert doc_pages.github_slug("AdamW and not the paper's LAMB") == "adamw-and-not-the-papers-lamb"


def test_measured_numbers_are_the_results():
    """Every number marked with its source (doc_pages) is that source's value at the written precision."""
    errors = [f"{page.name}: {error}" for page in PAGES for error in doc_pages.marker_errors(page.text)]
    assert not errors, errors
    assert sum(len(doc_pages.MARKER.findall(page.text)) for page in PAGES) >= 80


def test_measurements_cite_their_source():
    """Outside the pages of experiment records, every measured-looking number carries a marker."""
    unmarked = {page.name: doc_pages.unmarked_measurements(page.text) for page in PAGES
                if page.name not in doc_pages.RECORDS}
    assert not any(unmarked.values()), {name: found for name, found in unmarked.items() if found}


def test_the_number_check_can_fail():
    """A wrong number, a wrong path, a missing file and a bare marker are each reported."""
    row = "rows[config=defaults,seed=0].final_val_accuracy"
    value = doc_pages.evaluate("time_to_accuracy", row)
    assert not doc_pages.marker_errors(f"{value:.3f}<!--r time_to_accuracy {row}-->")
    assert doc_pages.marker_errors(f"{value + 0.003:.3f}<!--r time_to_accuracy {row}-->")
    assert doc_pages.marker_errors(f"{value:.2f}<!--r time_to_accuracy {row}-->") == []  # coarser, still the value
    assert doc_pages.marker_errors("0.97<!--r time_to_accuracy rows[config=nosuch].final_val_accuracy-->")
    assert doc_pages.marker_errors("0.97<!--r no_such_results target-->")
    assert doc_pages.marker_errors("the demo <!--r time_to_accuracy target-->")
    assert doc_pages.marker_errors("517<!--r export tflite[0].bytes / 1000--> KB") == []
    assert doc_pages.marker_errors("518<!--r export tflite[0].bytes / 1000--> KB")
    assert len(doc_pages.unmarked_measurements("reaches 0.972 in 84 s, 97.2% of it, 1.6x faster")) == 4
    assert not doc_pages.unmarked_measurements("TensorFlow 2.21, tensorflow-io 0.37.1, `0.972 in 84 s`, 8x8 digits")


def _preset_named(cell: str) -> str | None:
    """The preset a table cell names: `` `name` `` or `` `build_name()` ``."""
    match = re.fullmatch(r"`(?:build_)?(\w+?)(?:\(\))?`", cell)
    return match.group(1) if match and match.group(1) in pt.PRESETS else None


def _assert_preset_count(name: str, cell: str) -> None:
    """A parameter cell names the preset's `params` first, and no count but `params` and `trainable_params`."""
    spec = pt.PRESETS[name]
    counts = numbers(cell)
    assert counts and set(counts) <= {spec.params, spec.trainable_params}, (name, cell, spec.params)
    assert counts[0] == spec.params or "statistics" in cell, (name, cell, spec.params)


def test_the_presets_table_is_the_presets():
    """Every preset has a row; its latents, blocks, sharing and parameters are the preset's, and the
    presets under 5M parameters, built, have that many."""
    (table,) = [t for page in PAGES for t in page.tables() if t[0][:2] == ["preset", "latents N x D"]]
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
            assert built == numbers(row["parameters"])[0], (name, row["parameters"], built)


def test_every_table_gives_a_presets_own_parameter_count():
    """The other tables (modalities, transformers checkpoints) agree with the presets too."""
    checked = []
    for table in (t for page in PAGES for t in page.tables()):
        if "parameters" not in table[0]:
            continue
        column = table[0].index("parameters")
        for row in table[1:]:
            names = {_preset_named(cell) for cell in row} - {None}
            if names and numbers(row[column]):
                (name,) = names
                _assert_preset_count(name, row[column])
                checked.append(name)
    assert len(checked) >= len(pt.PRESETS) + 10, checked  # the presets table, 6 modality rows, 5 checkpoints


def test_parameter_counts_in_prose_are_the_presets():
    """ "the `tiny` preset (84,620 parameters)", "preset `tiny`, 84,620 parameters", on every page."""
    claims = [(page.name, *claim) for page in PAGES for claim in
              re.findall(r"`(\w+)`(?: preset)?[ ,(]+(\d{1,3}(?:,\d{3})+) parameters", page.prose)]
    assert {"README.md", "docs/deployment.md"} <= {name for name, _, _ in claims}, claims
    for page_name, preset, count in claims:
        assert pt.PRESETS[preset].params == int(count.replace(",", "")), (page_name, preset, count)


def _command_lines() -> list[tuple[str, str]]:
    """`(page, line)` of the `perceiver-tf` command lines of the code blocks, without what comes before
    `perceiver-tf` (`&&` chains, `KERAS_BACKEND=jax`); optional parts in `[...]` kept, brackets dropped."""
    lines = []
    for page in PAGES:
        for language, body in page.blocks:
            for line in body.splitlines() if language != "python" else ():
                for part in line.split("&&"):
                    if re.match(r"\s*(\w+=\S+\s+)*perceiver-tf\b", part):
                        lines.append((page.name, re.sub(r"[\[\]]", "", part[part.index("perceiver-tf"):])))
    return lines


def test_every_command_line_parses():
    """Each `perceiver-tf ...` line of a code block is accepted by the real parser."""
    lines = _command_lines()
    assert len(lines) >= 15, lines
    for page_name, line in lines:
        argv = shlex.split(line, comments=True)[1:]
        try:
            build_parser().parse_args(argv)
        except SystemExit as exit_info:
            pytest.fail(f"{page_name}: `{line}` does not parse (exit {exit_info.code})")


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


def test_every_flag_the_pages_name_exists():
    """Inline `perceiver-tf SUBCOMMAND[/...] --flag ...` mentions name subcommands and their flags, and
    every `--flag` anywhere is a perceiver-tf flag (or one of OTHER_TOOLS_FLAGS)."""
    subcommands = _subcommands()
    known = {flag for parser in (build_parser(), *subcommands.values()) for flag in parser._option_string_actions}
    for page in PAGES:
        for span in re.findall(r"`(perceiver-tf [^`]+)`", page.prose):
            words = span.split()
            names = words[1].split("/") if not words[1].startswith("-") else []
            assert set(names) <= set(subcommands), (page.name, span)
            for flag in (w.split("=")[0] for w in words[2:] if w.startswith("--")):
                assert all(flag in subcommands[n]._option_string_actions for n in names), (page.name, span, flag)
        unknown = (set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", without_markers(page.text)))
                   - known - doc_pages.OTHER_TOOLS_FLAGS)
        assert not unknown, f"{page.name} names flags no perceiver-tf subcommand has: {sorted(unknown)}"


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
    names = set()
    for page in PAGES:
        names |= {f"{module}.{name.strip()}" for module, imported in
                  re.findall(r"^from (perceiver_tf[\w.]*) import ([\w, ]+)", page.text, flags=re.M)
                  for name in imported.split(",")}
        names |= {re.sub(r"^pt\.", "perceiver_tf.", n)
                  for n in re.findall(r"\b(?:perceiver_tf|pt)(?:\.\w+)+", page.text)}
    assert len(names) >= 30, sorted(names)
    missing = []
    for dotted in sorted(names):
        try:
            _resolve(dotted)
        except (ImportError, AttributeError) as error:
            missing.append(f"{dotted} ({error})")
    assert not missing, missing


def test_the_api_reference_covers_the_public_api():
    """docs/api.md has one `::: module.name` entry per public name of perceiver_tf, each the name's own
    module (the strict build checks that mkdocstrings finds them)."""
    entries = re.findall(r"^::: ([\w.]+)$", (DOCS / "api.md").read_text(), flags=re.M)
    public = set(pt.__all__) - {"__version__"}
    assert sorted(entry.rsplit(".", 1)[1] for entry in entries) == sorted(public)
    for entry in entries:
        module, name = entry.rsplit(".", 1)
        assert getattr(importlib.import_module(module), name) is getattr(pt, name), entry


@pytest.mark.e2e
@pytest.mark.parametrize("page", [p for p in PAGES if any(language == "python" for language, _ in p.blocks)],
                         ids=lambda p: p.name)
def test_python_examples_run(page, tmp_path, monkeypatch):
    """Every ```python block runs as written, each in a fresh namespace, in an empty working directory."""
    monkeypatch.chdir(tmp_path)
    for block in (body for language, body in page.blocks if language == "python"):
        exec(compile(block, page.name, "exec"), {})


def test_the_export_benchmark_measured_the_quick_start_model():
    """The Deployment page's numbers are of "the model of the README's quick start": export.json's model is
    the time-to-accuracy run's preset, with its seed-0 accuracy (re-measure both, or neither). The saved model
    holds the best epoch's weights (the recipe's selection window is one epoch), so its accuracy is the best."""
    export, runs = (json.loads((doc_pages.RESULTS / f"{name}.json").read_text())
                    for name in ("export", "time_to_accuracy"))
    quick_start = next(row for row in runs["rows"] if row["config"] == "defaults" and row["seed"] == 0)
    assert f"preset '{export['preset']}' ({export['params']:,} parameters)" in quick_start["first_line"]
    assert round(export["keras_accuracy"], 3) == round(quick_start["best_val_accuracy"], 3)
