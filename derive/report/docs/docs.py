"""Build the documentation files and write them together: the seed's page (with plots and the
numeric cross-check), one page per catalog document, an index page, and the format page
(``format.md`` as it is, and as ``format.html``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from derive.losses.softmax import SoftmaxCrossEntropy
from derive.report.docs import plots
from derive.report.docs.atomic import write_files
from derive.report.docs.html import html_page
from derive.report.docs.markdown import markdown
from derive.report.docs.page import Heading, Image, catalog_page_blocks, index_blocks, page_blocks
from derive.report.docs.prose import markdown_blocks

PAGE = "softmax-cross-entropy"
#: The format of derivation documents, copied as it is and rendered as ``format.html``.
FORMAT = Path(__file__).parents[2] / "document" / "format.md"
TITLE = "Softmax cross-entropy: the gradient, verified"

PLOT_CAPTIONS = {
    plots.FINITE_DIFFERENCE_FILE: (
        "Finite-difference error against step size",
        "Relative error of central and forward differences of one gradient entry against the "
        "exact value, against the step h: truncation error falls as h^2 (central) or h "
        "(forward), rounding error grows as eps/h; the vertical lines are the steps the "
        "cross-check uses.",
    ),
    plots.SOFTMAX_FILE: (
        "Softmax probability and score gradient",
        "p_m and dL/df_m = p_m - 1[m = y] as one score varies, for the true class and for "
        "another class: the true class's gradient is always negative, so gradient descent "
        "pushes its score up; every other class's is positive.",
    ),
    plots.DESCENT_FILE: (
        "Gradient descent on a small problem",
        "A few gradient-descent steps with the verified closed-form gradient on a K = 3 "
        "problem: the loss falls and the true class's score f_y rises.",
    ),
}


def build_docs(d: SoftmaxCrossEntropy, checked: list | None = None) -> dict[str, bytes]:
    """Every documentation file (name -> bytes), rendered in memory, nothing written.

    ``checked``, when given, receives each catalog document's ``(entry, check)``.

    Examples
    --------
    >>> import derive
    >>> files = build_docs(derive.softmax_cross_entropy(classes=2, features=1))
    >>> [name for name in sorted(files) if not name.startswith(("index", "format"))][:5]
    ['finite-difference-error.png', 'focal-loss.html', 'focal-loss.md', 'gradient-descent.png', 'label-smoothing.html']
    >>> {"index.html", "index.md", "format.md", "format.html", "softmax-cross-entropy.html"} <= set(files)
    True
    """
    from derive.catalog import SEED, entry, names

    images: dict[str, bytes] = {}
    plots.write_plots(d, Path(), lambda path, data: images.__setitem__(path.name, data))
    figures = tuple(Image(name, *PLOT_CAPTIONS[name]) for name in images)
    blocks = page_blocks(d, figures)
    files = {
        f"{PAGE}.md": markdown(blocks).encode("utf-8"),
        f"{PAGE}.html": html_page(blocks, TITLE, images).encode("utf-8"),
        **images,
    }
    checked = [] if checked is None else checked
    for name in names():
        found = entry(name)
        if name == SEED:
            checked.append((found, d.route))
            continue
        if d.progress:
            d.progress(f"docs: checking {name}")
        check = _checked(found.text, str(found.path), d.time_limit)
        checked.append((found, check))
        page = catalog_page_blocks(found, check)
        files[f"{name}.md"] = markdown(page).encode("utf-8")
        files[f"{name}.html"] = html_page(page, found.title, {}).encode("utf-8")
    index = index_blocks(checked)
    files["index.md"] = markdown(index).encode("utf-8")
    files["index.html"] = html_page(index, "derive: the catalog", {}).encode("utf-8")
    files["format.md"] = FORMAT.read_bytes()
    files["format.html"] = format_page().encode("utf-8")
    return files


def format_page() -> str:
    """``format.md``, the format of derivation documents, as an HTML page.

    >>> page = format_page()
    >>> "<title>Writing a derivation derive can check</title>" in page and "<table>" in page
    True
    """
    blocks = markdown_blocks(FORMAT.read_text(encoding="utf-8"))
    title = next(block.text for block in blocks if isinstance(block, Heading)).replace("`", "")
    return html_page(blocks, title, {})


@lru_cache(maxsize=32)
def _checked(text: str, path: str, time_limit: float):
    """A catalog document's check, once per process for the same text: its verdicts depend on
    nothing else (every random choice is seeded), and the pages are built from it several times
    in one test run."""
    from derive.document import check_document

    return check_document(text, path=path, time_limit=time_limit)


def write_docs(out: Path, d: SoftmaxCrossEntropy, checked: list | None = None) -> list[Path]:
    """Build the documentation of ``d`` and write it into ``out``, all files or none.

    The derivation's verdicts are computed once and kept on ``d``, so a caller
    that asks ``d.verify()`` afterwards does not verify again.
    """
    return write_files(Path(out), build_docs(d, checked))
