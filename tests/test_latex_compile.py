"""The LaTeX derive writes compiles with a standard TeX installation, and breaks across pages.

Two kinds: the standalone ``.tex`` of ``derive docs FILE.md --format latex``, compiled as it is,
and the ``align*`` that ``derive --classes K --steps`` prints, compiled inside the smallest
document its ``%`` header asks for.  ``pdflatex`` runs without shell escape, in a folder of its
own, and must finish without an error (``-halt-on-error``).

Without ``pdflatex`` these tests skip locally, but fail when ``CI`` is set (``.ci/run`` installs
Debian's ``texlive-latex-base``): CI never skips them silently.
"""

import os
import re
import subprocess
from pathlib import Path

import pytest

from chromium import required_program
from derive.cli import run
from derive.document import check_document
from derive.report.docs.notes import build_notes
from derive.report.latex import LATEX_PACKAGES

ROOT = Path(__file__).resolve().parent.parent
#: Seconds one pdflatex run may take (one takes well under a second).
PDFLATEX_TIMEOUT = 120
#: Prose full of characters that are markup to LaTeX, and symbols its text fonts lack.
HOSTILE = """---
title: 50% & more_#1
---

Costs 50% & more: a_b #1 \\input{x} \\end{document} ~ ^ {braces} | <b> $5 `\\verb|x|` naïve → ≤ λ ✓,
*emphasis*, **bold**, $x_1 \\le \\mathbb{1}[x > 0]$.

## A list

- one, with $x^2$
- two

$$ \\frac{d}{dx} x^2 = 2 x $$
"""


@pytest.fixture(scope="module")
def pdflatex() -> str:
    return required_program(("pdflatex",), "texlive-latex-base", "compile the LaTeX")


def compile_tex(pdflatex: str, folder: Path, name: str, text: str) -> int:
    """Compile ``text`` as ``folder/name.tex``; return the PDF's number of pages.

    No page may be overfull: a display too tall for a page that could not break would be."""
    (folder / f"{name}.tex").write_text(text, encoding="utf-8")
    result = subprocess.run(
        [pdflatex, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", f"{name}.tex"],
        cwd=folder, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=PDFLATEX_TIMEOUT,
        env={**os.environ, "HOME": str(folder)},  # fonts it might make go here, not into ~
    )
    assert result.returncode == 0, result.stdout[-3000:]
    written = re.search(r"Output written on .*? \((\d+) pages?", result.stdout)
    assert written, result.stdout[-3000:]
    assert "Overfull \\vbox" not in (folder / f"{name}.log").read_text(errors="replace")
    return int(written.group(1))


def printed(args) -> str:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert run(args) == 0
    return out.getvalue()


def document_around(latex: str) -> str:
    """The smallest document that the printed LaTeX's header asks for."""
    needs = re.search(r"^% needs \\usepackage\{([a-z,]+)\}", latex, re.MULTILINE)
    assert needs and needs.group(1) == ",".join(LATEX_PACKAGES), latex[:400]
    return (f"\\documentclass{{article}}\n\\usepackage{{{needs.group(1)}}}\n\\begin{{document}}\n"
            f"{latex}\n\\end{{document}}\n")


def test_a_refuted_homework_compiles(pdflatex, tmp_path):
    check = check_document(ROOT / "examples" / "softmax-homework.md")
    tex = build_notes([check], "latex")["softmax-homework.tex"].decode()
    assert compile_tex(pdflatex, tmp_path, "homework", tex) == 1


def test_hostile_prose_compiles(pdflatex, tmp_path):
    check = check_document(HOSTILE, path="hostile.md")
    assert check.status == "proven"
    tex = build_notes([check], "latex")["hostile.tex"].decode()
    assert compile_tex(pdflatex, tmp_path, "hostile", tex) == 1
    assert not (tmp_path / "x.tex").exists()


def test_a_long_document_breaks_across_pages(pdflatex, tmp_path):
    check = check_document(ROOT / "derive" / "catalog" / "softmax-cross-entropy.md")
    tex = build_notes([check], "latex")["softmax-cross-entropy.tex"].decode()
    assert compile_tex(pdflatex, tmp_path, "seed", tex) >= 2


def test_the_printed_steps_compile_under_their_header(pdflatex, tmp_path):
    latex = printed(["--classes", "3", "--steps"])
    assert r"\mathbb{1}" not in latex and r"\mathbf{1}[m = y]" in latex
    assert compile_tex(pdflatex, tmp_path, "steps", document_around(latex)) >= 1


def test_a_derivation_taller_than_a_page_breaks_across_pages(pdflatex, tmp_path):
    latex = printed(["--classes", "16", "--steps"])
    assert latex.count(r"\begin{align*}") == 1
    assert compile_tex(pdflatex, tmp_path, "tall", document_around(latex)) >= 2


@pytest.mark.parametrize("name", ["softmax-cross-entropy", "multiclass-svm"])
def test_a_catalog_loss_printed_with_its_steps_compiles(pdflatex, tmp_path, name):
    latex = printed(["--loss", name, "--steps"])
    assert r"\mathbb{1}" not in latex
    assert compile_tex(pdflatex, tmp_path, name, document_around(latex)) >= 1
