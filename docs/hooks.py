"""MkDocs hooks (mkdocs.yml `hooks:`): the Benchmark results page shows benchmarks/RESULTS.md.

The report lives beside the benchmarks that write it, outside `docs/`. `results_page(markdown)` puts it
where the page's `<!-- benchmarks/RESULTS.md -->` line stands (without its own title), its plots'
`results/NAME.png` links pointing at copies that `on_files` adds to the site.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "benchmarks" / "RESULTS.md"
PLACEHOLDER = "<!-- benchmarks/RESULTS.md -->"
#: Where the report's plots go in the site (their links are rewritten to match).
PLOTS = "benchmark-plots"


def results_page(markdown: str) -> str:
    """`markdown` with RESULTS.md, less its first (title) line, in place of PLACEHOLDER."""
    body = REPORT.read_text().split("\n", 1)[1].replace("](results/", f"]({PLOTS}/")
    return markdown.replace(PLACEHOLDER, body.strip())


def on_files(files, config):
    """Add the report's PNG plots to the site as `benchmark-plots/NAME.png`."""
    for plot in sorted((REPORT.parent / "results").glob("*.png")):
        files.append(File.generated(config, f"{PLOTS}/{plot.name}", abs_src_path=str(plot)))
    return files


def on_page_markdown(markdown, page, config, files):
    """The Benchmark results page gets the report; every other page is left as it is."""
    return results_page(markdown) if PLACEHOLDER in markdown else markdown
