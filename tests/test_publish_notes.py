"""`derive docs FILE.md... --out DIR`: a user's own documents published as the catalog's are
(each step with its verdict, the prose, offline MathML), or as standalone LaTeX; format.html;
long display equations that scroll on screen and wrap in print (in the real browser).

The LaTeX is compiled by tests/test_latex_compile.py.
"""

import contextlib
import io
import re
from pathlib import Path

import pytest

from derive.cli import run
from derive.document import check_document
from derive.report.docs.docs import format_page
from derive.report.docs.html import html_page
from derive.report.docs.markdown import markdown
from derive.report.docs.notes import build_notes, page_names
from derive.report.docs.page import Code, Heading, Items, Paragraph, Table, index_blocks, note_title
from derive.report.docs.prose import markdown_blocks

ROOT = Path(__file__).resolve().parent.parent
HOMEWORK = ROOT / "examples" / "softmax-homework.md"

PROVEN = """---
title: Squares & cubes, 100% checked
---

# Derivatives of powers

Let $x \\in \\mathbb{R}$. A list:

- first the square,
- then the cube.

$$ \\frac{d}{dx} x^2 = 2 x $$

$$ \\frac{d}{dx} x^3 = 3 x^2 $$
"""
UNPROVEN = "Let $x \\in \\mathbb{R}$.\n\n$$ x^2 \\le x^2 + 1 $$\n"
UNREADABLE = "# Broken\n\n$$ \\frac{d}{dx} x^2 = 2 \\foo x $$\n"
#: Prose a page must print, never read as markup: HTML and LaTeX special characters, a script.
HOSTILE = """# Notes <script>alert(1)</script>

Costs 50% & more: a_b #1 \\input{x} \\end{document} ~ ^ {braces} | <b>bold?</b>
[a link](javascript:alert(1)) `\\end{verbatim}` $x^2$.

$$ \\frac{d}{dx} x^2 = 2 x $$
"""
#: A step whose right side, a sum of 40 terms, is about twice as wide as the page.
LONG = ("Let $x \\in \\mathbb{R}$.\n\n$$ f = " + " + ".join(f"x^{{{k}}}" for k in range(1, 41))
        + " $$\n\n$$ \\frac{d f}{dx} = 1 + " + " + ".join(f"{k} x^{{{k - 1}}}" for k in range(2, 41))
        + " $$\n")


def call(args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = run(args)
    return status, out.getvalue(), err.getvalue()


def write(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


def html_text(page: str) -> str:
    """The page's visible words, roughly: tags and MathML removed."""
    return " ".join(re.sub(r"<math.*?</math>|<[^>]+>", " ", page, flags=re.DOTALL).split())


# --- the command ------------------------------------------------------------------------------


def test_proven_documents_get_a_page_each_and_an_index(tmp_path):
    first = write(tmp_path, "notes/powers.md", PROVEN)
    second = write(tmp_path, "more/square.md", "$$ \\frac{d}{dx} x^2 = 2 x $$\n")
    status, out, err = call(["docs", first, second, "--out", str(tmp_path / "site")])
    assert (status, err) == (0, "")
    site = tmp_path / "site"
    names = {"powers.md", "powers.html", "square.md", "square.html", "index.md", "index.html"}
    assert {Path(line).name for line in out.splitlines()} == names
    assert {path.name for path in site.iterdir()} == names
    page = (site / "powers.html").read_text()
    assert "<title>Squares &amp; cubes, 100% checked</title>" in page
    assert "<script" not in page and page.count('display="block"') == 2
    words = html_text(page)
    assert "Verdict: proven (2 proven" in words
    assert "Line 12: proven" in words and "Line 14: proven" in words
    assert "<li>first the square,</li>" in page  # the prose's list, as a list
    index = (site / "index.html").read_text()
    assert '<a href="powers.html">Squares &amp; cubes, 100% checked</a>' in index
    assert '<a href="square.html">square</a>' in index  # no title, no heading: the file's name
    assert "[Squares & cubes, 100% checked](powers.md)" in (site / "index.md").read_text()


def test_a_refuted_document_shows_the_first_wrong_step_and_exits_1(tmp_path):
    status, out, err = call(["docs", str(HOMEWORK), "--out", str(tmp_path)])
    assert (status, err) == (1, "")
    words = html_text((tmp_path / "softmax-homework.html").read_text())
    assert "Verdict: refuted (3 proven, 2 refuted" in words
    assert "Line 16: refuted at D = 1, K = 2, y = 1, m = 1, where" in words
    assert "true value -0.49416726460072167, claimed 0.50583273539927833" in words
    assert "(the indicator is missing)" in words
    assert "| [Homework 3, problem 2 (with a mistake)](softmax-homework.md) |" in (
        tmp_path / "index.md").read_text()


def test_an_unproven_step_exits_1_with_its_reason(tmp_path):
    status, _, _ = call(["docs", write(tmp_path, "bound.md", UNPROVEN), "--out", str(tmp_path / "o")])
    assert status == 1
    markdown_page = (tmp_path / "o" / "bound.md").read_text()
    assert "Verdict: **unproven**" in markdown_page and "Line 3: **unproven**: " in markdown_page


def test_an_unreadable_document_is_exit_2_at_its_line_and_nothing_is_written(tmp_path):
    good = write(tmp_path, "good.md", PROVEN)
    bad = write(tmp_path, "bad.md", UNREADABLE)
    status, out, err = call(["docs", good, bad, "--out", str(tmp_path / "site")])
    assert (status, out) == (2, "")
    assert err.startswith(f"derive docs: error: {bad}:3:25: unknown command `\\foo` (nothing written)\n")
    assert not (tmp_path / "site").exists()


@pytest.mark.parametrize("names, message", [
    (["a/p.md", "b/p.md"], "two documents would both be written as p: "),
    (["index.md"], "a document cannot be named 'index'"),
])
def test_pages_that_would_collide_are_exit_2(tmp_path, names, message):
    paths = [write(tmp_path, name, PROVEN) for name in names]
    status, out, err = call(["docs", *paths, "--out", str(tmp_path / "site")])
    assert (status, out) == (2, "") and message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "site").exists()


@pytest.mark.parametrize("args, message", [
    (["--classes", "4"], "--classes, --features and --label size the seed's page"),
    (["--format", "pdf"], "invalid choice: 'pdf'"),
])
def test_options_that_do_not_apply_are_exit_2(tmp_path, args, message):
    status, _, err = call(["docs", write(tmp_path, "p.md", PROVEN), *args, "--out", str(tmp_path / "o")])
    assert status == 2 and message in err


def test_bad_inputs_are_exit_2(tmp_path):
    prose = write(tmp_path, "readme.md", "Just prose, no display math.\n")
    status, _, err = call(["docs", prose, "--out", str(tmp_path / "o")])
    assert status == 2 and "no derivation (no display equations): no page to write" in err
    status, _, err = call(["docs", str(tmp_path / "missing.md"), "--out", str(tmp_path / "o")])
    assert status == 2 and "missing.md" in err
    status, _, err = call(["docs", "--format", "latex", "--out", str(tmp_path / "o")])
    assert status == 2 and "--format latex writes the pages of your own documents" in err
    assert not (tmp_path / "o").exists()


def test_a_folder_is_every_document_under_it(tmp_path):
    write(tmp_path, "notes/a.md", PROVEN)
    write(tmp_path, "notes/deep/b.md", "$$ \\frac{d}{dx} x^2 = 2 x $$\n")
    status, out, _ = call(["docs", str(tmp_path / "notes"), "--out", str(tmp_path / "site")])
    assert status == 0 and {Path(line).name for line in out.splitlines()} >= {"a.html", "b.html"}


def test_an_unwritable_folder_is_exit_3_and_changes_nothing(tmp_path):
    blocker = tmp_path / "site"
    blocker.write_text("a file, not a folder")
    status, out, err = call(["docs", write(tmp_path, "p.md", PROVEN), "--out", str(blocker)])
    assert (status, out) == (3, "") and err.startswith(f"derive docs: error: nothing written to {blocker}")
    assert blocker.read_text() == "a file, not a folder"


# --- the pages --------------------------------------------------------------------------------


def test_hostile_prose_is_printed_never_read_as_markup():
    check = check_document(HOSTILE, path="hostile.md")
    page = build_notes([check])["hostile.html"].decode()
    body = page[page.index("<body>"):]
    assert "<script" not in body and "<b>" not in body and "javascript:" not in body.replace(
        "[a link](javascript:", "")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "&lt;b&gt;bold?&lt;/b&gt;" in body
    tex = build_notes([check], "latex")["hostile.tex"].decode()
    document = tex[tex.index(r"\begin{document}"):]
    # Only derive's own commands: every user backslash is printed as $\backslash$.
    assert r"\input" not in document.replace(r"$\backslash$input", "")
    assert r"\end{document}" not in document[:-len("\\end{document}\n")].replace(r"$\backslash$end", "")
    assert r"50\% \& more: a\_b \#1" in document and r"\{braces\}" in document
    assert document.count(r"\end{document}") == 1


def test_code_blocks_are_printed_never_read_as_markup():
    from derive.report.docs.tex import standalone_tex

    code = [Code("</code></pre><script>x</script>\n\\end{flushleft}\\input{secret}  # 100%")]
    assert "<pre><code>&lt;/code&gt;&lt;/pre&gt;&lt;script&gt;" in html_page(code, "t", {})
    tex = standalone_tex(code, "t")
    assert r"$\backslash$end\{flushleft\}$\backslash$input\{secret\}\ \ \#\ 100\%" in tex


@pytest.mark.parametrize("title, path, outline, expected", [
    ("Front matter", "a/notes.md", [("prose", "# Heading")], "Front matter"),
    ("", "a/notes.md", [("prose", "Intro."), ("prose", "# Heading")], "Heading"),
    ("", "a/notes.md", [("prose", "## Only a section")], "notes"),
])
def test_the_title_is_front_matter_then_the_first_heading_then_the_file_name(title, path, outline,
                                                                             expected):
    from types import SimpleNamespace

    assert note_title(SimpleNamespace(title=title, path=path, outline=outline)) == expected


def test_page_names_come_from_the_file_names():
    assert page_names(["x/hw-1.md", "hw-2.md", "notes.markdown"]) == ["hw-1", "hw-2", "notes.markdown"]
    with pytest.raises(ValueError, match="standard input has no file name"):
        page_names(["-"])


def test_latex_pages_are_standalone_with_visible_verdicts():
    check = check_document(HOMEWORK)
    files = build_notes([check], "latex")
    assert set(files) == {"softmax-homework.tex"}
    tex = files["softmax-homework.tex"].decode()
    assert tex.startswith("% Homework 3, problem 2 (with a mistake): written by derive docs --format latex")
    assert "% Compiles with pdflatex: it needs only amsmath, amssymb and geometry" in tex
    assert r"\usepackage{amsmath,amssymb}" in tex and r"\allowdisplaybreaks" in tex
    assert r"\mathbb{1}" not in tex.replace(r"$\backslash$mathbb\{1\}", "")
    assert tex.count(r"-\mathbf{1}[m = y]") == 2
    assert tex.count(r"\[ ") == 8 and r"\begin{align" not in tex  # one display each: pages break
    assert "Line 16: \\textbf{refuted} at D = 1, K = 2, y = 1, m = 1" in tex
    assert tex.count("\\textbf{proven}") == 3 and tex.rstrip().endswith(r"\end{document}")


def test_prose_blocks():
    blocks = markdown_blocks("Text *em*\nmore.\n\n- a\n- b\n\n| x | y |\n|---|:-:|\n| 1 | 2 |\n\n"
                             "````md\n```\ninner\n```\n````\n### Small")
    assert blocks == [Paragraph("Text *em* more."), Items(("a", "b")), Table(("x", "y"), (("1", "2"),)),
                      Code("```\ninner\n```"), Heading(3, "Small")]
    text = markdown(blocks)
    assert "- a\n- b" in text and "````\n```\ninner\n```\n````" in text
    page = html_page(blocks, "t", {})
    assert "<em>em</em>" in page and "<ul>\n<li>a</li>" in page and "<pre><code>```" in page


def test_a_page_named_with_a_space_is_linked_from_the_index():
    files = build_notes([check_document("$$ \\frac{d}{dx} x^2 = 2 x $$\n", path="hw/my notes.md")])
    assert {"my notes.html", "my notes.md"} <= set(files)
    assert '<a href="my%20notes.html">my notes</a>' in files["index.html"].decode()
    assert "[my notes](my%20notes.md)" in files["index.md"].decode()


# --- format.html and the index -----------------------------------------------------------------


def test_format_md_has_its_html_page():
    page = format_page()
    assert "<title>Writing a derivation derive can check</title>" in page
    source = (ROOT / "derive" / "document" / "format.md").read_text()
    tables = len(re.findall(r"^\|[-:| ]+\|$", source, re.MULTILINE))
    assert tables >= 4 and page.count("<table>") == tables
    assert page.count("<pre><code>") >= 10 and "<ul>" in page
    assert "<code>$x \\in \\mathbb{R}^D$</code>" in page  # code spans keep their dollars
    assert "<script" not in page


def test_the_index_links_the_format_page_in_each_format():
    blocks = index_blocks([])
    assert '<a href="format.html">the format page</a>' in html_page(blocks, "i", {})
    assert "[the format page](format.md)" in markdown(blocks)


# --- long equations, in the browser -------------------------------------------------------------

#: For each display equation: its box, its content's extent, whether it scrolls; and the page's
#: main column.  Run once as the page is, once with its print styles applied on screen.
MEASURE_WIDTHS = """<script>
window.addEventListener("load", () => {
  const main = document.querySelector("main").getBoundingClientRect();
  const equations = [...document.querySelectorAll("math[display=block]")].map((math) => {
    const box = math.getBoundingClientRect();
    const parts = [...math.querySelectorAll("*")].map((e) => e.getBoundingClientRect());
    return {left: box.left, right: box.right,
            contentLeft: Math.min(...parts.map((r) => r.left)),
            contentRight: Math.max(...parts.map((r) => r.right)),
            scrolls: math.scrollWidth > math.clientWidth + 1,
            overflow: getComputedStyle(math).overflowX};
  });
  const pre = document.createElement("pre");
  pre.id = "measurements";
  pre.textContent = JSON.stringify({main: {left: main.left, right: main.right}, equations});
  document.body.appendChild(pre);
});
</script>"""


@pytest.fixture(scope="module")
def long_page(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("long")
    check = check_document(LONG, path="long.md")
    assert check.status == "proven"
    page = folder / "long.html"
    page.write_bytes(build_notes([check])["long.html"])
    return page


def widest(measured: dict) -> dict:
    return max(measured["equations"], key=lambda e: e["contentRight"] - e["contentLeft"])


def test_a_long_equation_scrolls_on_screen(long_page, tmp_path):
    from chromium import browser_path, measure

    measured = measure(browser_path(), long_page, MEASURE_WIDTHS, tmp_path)
    main, equation = measured["main"], widest(measured)
    assert equation["contentRight"] - equation["contentLeft"] > main["right"] - main["left"]
    assert equation["scrolls"] and equation["overflow"] == "auto"
    assert equation["right"] <= main["right"] + 1  # the box stays in the column; its content scrolls


def test_a_long_equation_wraps_within_the_page_in_print(long_page, tmp_path):
    from chromium import browser_path, measure

    printed = long_page.with_name("printed.html")
    text = long_page.read_text()
    assert text.count("@media print {") == 1
    printed.write_text(text.replace("@media print {", "@media all {"))  # print styles, on screen
    measured = measure(browser_path(), printed, MEASURE_WIDTHS, tmp_path)
    main = measured["main"]
    for equation in measured["equations"]:
        assert main["left"] - 1 <= equation["contentLeft"], equation
        assert equation["contentRight"] <= main["right"] + 1, equation
        assert not equation["scrolls"]


def test_a_long_equation_prints_to_pdf(long_page, tmp_path):
    from chromium import browser_path, run_chromium

    pdf = tmp_path / "long.pdf"
    run_chromium(browser_path(), tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer",
                 long_page.as_uri())
    assert pdf.read_bytes().startswith(b"%PDF")


def test_a_folders_file_without_display_math_is_skipped_and_said(tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    write(notes, "README.md", "Just prose, no display math.\n")
    write(notes, "p.md", PROVEN)
    status, out, err = call(["docs", str(notes), "--out", str(tmp_path / "o")])
    assert status == 0 and err == f"derive docs: {notes / 'README.md'}: skipped: no derivation (no display equations)\n"
    assert (tmp_path / "o" / "p.html").exists() and not (tmp_path / "o" / "README.html").exists()
    (notes / "p.md").unlink()
    status, _, err = call(["docs", str(notes), "--out", str(tmp_path / "o2")])
    assert status == 2 and "no derivation to publish" in err and not (tmp_path / "o2").exists()
