"""The documentation as data for its tests (test_readme.py, test_docs.py): README.md and docs/*.md, each a
`Page` with its code blocks, prose, tables, links and headings, and the measured numbers the pages cite from
benchmarks/results.

A measured number cites its source with an HTML comment right after it, which neither GitHub nor MkDocs
shows: `0.972<!--r time_to_accuracy rows[config=defaults,seed=0].final_val_accuracy-->` is the
`final_val_accuracy` of the row of `benchmarks/results/time_to_accuracy.json` whose `config` is
"defaults" and `seed` 0. The expression after the file name is one path or several joined by ` * ` / ` / `
(numbers allowed): `tflite[3].bytes / 1000` (kB), `keras_accuracy * 100` (%), `a.x / b.x` (a ratio). A
path is dotted keys, `[N]` list indices, `["key with spaces"]`, and `[key=value,key=value]` selecting the
one list item whose fields are those values. The number as written must be the value rounded to the
number's own precision. MEASUREMENT says which other numbers count as measurements: on a page outside
RECORDS each of them must carry a marker.
"""

from __future__ import annotations

import importlib.util
import json
import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
RESULTS = ROOT / "benchmarks" / "results"
#: A number and the `<!--r FILE EXPRESSION-->` marker that follows it.
MARKER = re.compile(r"(\d[\d,]*(?:\.\d+)?(?:e-?\d+)?)<!--r (\w+) (.+?)-->")
#: Numbers that state a measurement: a percentage, a ratio (`1.6x`), a time or a size with its unit, or a
#: score written with two or more decimals (`0.97`). A measured number on a checked page carries a marker.
MEASUREMENT = re.compile(r"(?<![\w.\-])(\d+(?:\.\d+)?(?=%|x\b| ?(?:s|ms|seconds|KB|MB|GB)\b)|0\.\d{2,}\b(?!\.\d))")
#: Pages whose numbers are records of past experiments, test outcomes or the notebooks' outputs rather
#: than current benchmark results (their measured numbers are not checked against benchmarks/results).
RECORDS = {"docs/design.md", "docs/changelog.md", "docs/models.md", "docs/attention.md"}
#: Flags the pages give to other tools: pip, saved_model_cli, docker, benchmarks.bench_tasks / bench_time_to_accuracy, mkdocs, git.
OTHER_TOOLS_FLAGS = {"--no-deps", "--ignore-requires-python", "--all", "--dir", "--rm", "--tasks", "--configs", "--strict", "--oneline"}


def _load_hooks():
    """docs/hooks.py, the MkDocs hooks that put benchmarks/RESULTS.md into docs/benchmarks.md."""
    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Page:
    """One Markdown page, `name` relative to the repository root ("README.md", "docs/recipes.md")."""

    name: str

    @property
    def path(self) -> Path:
        return ROOT / self.name

    @cached_property
    def text(self) -> str:
        """The page as written."""
        return self.path.read_text()

    @cached_property
    def rendered(self) -> str:
        """The page as the site shows it: docs/benchmarks.md with benchmarks/RESULTS.md inserted."""
        return _load_hooks().results_page(self.text) if self.name == "docs/benchmarks.md" else self.text

    @cached_property
    def blocks(self) -> list[tuple[str, str]]:
        """`(language, body)` of every fenced code block."""
        return re.findall(r"```(\w*)\n(.*?)```", self.text, flags=re.S)

    @cached_property
    def prose(self) -> str:
        """The page without its code blocks: prose, tables and inline code."""
        return re.sub(r"```.*?```", "", self.text, flags=re.S)

    def tables(self) -> list[list[list[str]]]:
        """Every Markdown table outside code blocks: its rows, header first, as lists of cells (markers and
        all, as written)."""
        tables, rows = [], []
        for line in self.prose.splitlines() + [""]:
            if line.startswith("|"):
                if not re.fullmatch(r"[|\s:-]+", line):  # not the |---|---| line
                    rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
            elif rows:
                tables.append(rows)
                rows = []
        return tables

    def links(self) -> list[str]:
        """The targets of the links and images in the prose (not in code), as written."""
        prose = re.sub(r"`[^`\n]*`", "", self.prose)
        return re.findall(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", prose)

    def anchors(self) -> set[str]:
        """The heading anchors that both GitHub and MkDocs give this page (a link should work in both)."""
        headings = re.findall(r"^#{1,6} +(.+?) *$", re.sub(r"```.*?```", "", self.rendered, flags=re.S), flags=re.M)
        return {github_slug(h) for h in headings} & {mkdocs_slug(h) for h in headings}


def github_slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation but `-` and `_` dropped, each space a `-`."""
    text = re.sub(r"[`*]", "", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def mkdocs_slug(heading: str) -> str:
    """Python-Markdown's (MkDocs') anchor: ASCII, punctuation dropped, runs of spaces and `-` one `-`."""
    text = unicodedata.normalize("NFKD", re.sub(r"[`*]", "", heading)).encode("ascii", "ignore").decode()
    return re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "", text).strip().lower())


def pages() -> list[Page]:
    """README.md and every docs/*.md page."""
    return [Page("README.md")] + [Page(f"docs/{p.name}") for p in sorted(DOCS.glob("*.md"))]


def numbers(text: str) -> list[int]:
    """The counts written with thousands separators in `text` ("**44,912,254** (paper: 44.9M)" -> [44912254])."""
    return [int(n.replace(",", "")) for n in re.findall(r"\d{1,3}(?:,\d{3})+", text)]


def without_markers(text: str) -> str:
    """`text` as a reader sees it: the `<!--r ...-->` markers removed."""
    return re.sub(r"<!--r .+?-->", "", text)


# --- measured numbers -------------------------------------------------------------------------------------

_PATH_PART = re.compile(r'\.?(\w+)|\[(\d+)\]|\["([^"]+)"\]|\[([^\]"]+)\]')


def _select(items: list, selector: str, path: str):
    """The one item of `items` whose fields equal `selector`'s `key=value` pairs."""
    wanted = dict(pair.strip().split("=", 1) for pair in re.split(r",(?=\s*\w+=)", selector))
    found = [item for item in items if all(str(item.get(k)) == v for k, v in wanted.items())]
    if len(found) != 1:
        raise LookupError(f"{path}: [{selector}] matches {len(found)} items, not 1")
    return found[0]


def resolve(data, path: str):
    """The value at `path` (module docstring) in the JSON `data`."""
    value, position = data, 0
    while position < len(path):
        match = _PATH_PART.match(path, position)
        if not match:
            raise LookupError(f"cannot read {path!r} from {path[position:]!r}")
        key, index, quoted, selector = match.groups()
        if key is not None or quoted is not None:
            value = value[key if key is not None else quoted]
        elif index is not None:
            value = value[int(index)]
        else:
            value = _select(value, selector, path)
        position = match.end()
    return value


def evaluate(source: str, expression: str) -> float:
    """`expression` (paths and numbers joined by ` * ` and ` / `, left to right) on results/`source`.json."""
    data = json.loads((RESULTS / f"{source}.json").read_text())
    terms = re.split(r"\s+([*/])\s+", expression.strip())
    term = lambda t: float(t) if re.fullmatch(r"[\d.]+(?:e-?\d+)?", t) else float(resolve(data, t))  # noqa: E731
    value = term(terms[0])
    for operator, operand in zip(terms[1::2], terms[2::2]):
        value = value * term(operand) if operator == "*" else value / term(operand)
    return value


def agrees(written: str, value: float) -> bool:
    """Whether `written` ("0.972", "1,048,576", "9.1e-6") is `value` rounded to the written precision."""
    mantissa, _, exponent = written.replace(",", "").partition("e")
    decimals = len(mantissa.partition(".")[2])
    tolerance = 0.5 * 10.0 ** (int(exponent or 0) - decimals)
    return abs(float(written.replace(",", "")) - value) <= tolerance * (1 + 1e-9)


def marker_errors(text: str) -> list[str]:
    """What is wrong with the measured numbers of `text`: a marker without a number before it, a source or
    path that does not resolve, or a number that is not its source's value."""
    cited = {match.end() for match in MARKER.finditer(text)}
    errors = [f"a marker without a number before it: ...{text[max(0, m.start() - 30):m.end()]}"
              for m in re.finditer(r"<!--r .+?-->", text) if m.end() not in cited]
    for written, source, expression in MARKER.findall(text):
        try:
            value = evaluate(source, expression)
        except (OSError, LookupError, KeyError, IndexError, TypeError, ValueError) as error:
            errors.append(f"{written} <- {source} {expression}: {error!r}")
            continue
        if not agrees(written, value):
            errors.append(f"{written} <- {source} {expression}: the results say {value:.6g}")
    return errors


def unmarked_measurements(text: str) -> list[str]:
    """Measured-looking numbers (MEASUREMENT) of `text`'s prose that carry no marker, with some context.
    Code spans, code blocks, link targets and marked numbers are not prose."""
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    prose = MARKER.sub("", prose)
    prose = re.sub(r"`[^`\n]*`", "", prose)
    prose = re.sub(r"\]\([^)]*\)", "]", prose)
    return [prose[max(0, m.start() - 40):m.end() + 10].replace("\n", " ") for m in MEASUREMENT.finditer(prose)]
