"""Results in a notebook (``derive.report.notebook``): the one-line ``repr`` of every result, its
HTML with MathML, Markdown and LaTeX for each verdict, user text escaped in each, and the HTML of a
document with a wrong step laid out in a real browser.

The browser test writes a notebook-like page holding ``DocumentCheck._repr_html_()`` and opens it
in headless Chromium (``tests/chromium.py``, as ``tests/test_browser.py`` does for the docs): every
``<math>`` has a box, the first wrong step's row is painted in the highlight colour and the others
are not.  A screenshot goes to ``/tmp/derive-notebook-screenshot.png`` for a person to look at.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sympy

import derive
from chromium import browser_path, measure, run_chromium
from derive.core.verdict import EntryVerdict, Verdict
from derive.implementation.loader import load_function
from derive.report import notebook

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOT_COPY = Path("/tmp/derive-notebook-screenshot.png")

RIGHT = r"""Let $a \in \mathbb{R}$ and $b \in \mathbb{R}$.

$$ f = a^3 b $$

**Chain rule.** The derivative in $a$:

$$ \frac{\partial f}{\partial a} = 3 a^2 b $$

$$ \frac{\partial f}{\partial b} = a^3 $$
"""
WRONG = RIGHT.replace("3 a^2 b $$", "6 a^2 b $$")
UNPROVEN = RIGHT + "\nThe function is never below itself:\n\n$$ f \\le f $$\n"
HOSTILE = WRONG.replace("**Chain rule.**", "**Chain rule.** <script>alert(1)</script> $\\text{<b>x</b>}$")
HOSTILE_PATH = "<img src=x onerror=alert(1)>.md"
SCRIPT = re.compile(r"<\s*(script|img|b)\b", re.IGNORECASE)

T = sympy.Symbol("t", real=True)


@pytest.fixture(scope="module")
def documents() -> dict:
    check = derive.check_document
    return {"proven": check(RIGHT, path="notes.md"), "refuted": check(WRONG, path="notes.md"),
            "unproven": check(UNPROVEN, path="notes.md"), "empty": check("No math here.\n", path="empty.md"),
            "hostile": check(HOSTILE, path=HOSTILE_PATH)}


@pytest.fixture(scope="module")
def reports() -> dict:
    mse = ROOT / "examples" / "impl" / "mse.py"
    judged = {}
    for verdict, name in (("correct", "mse_loss"), ("wrong", "mse_loss_missing_two")):
        judged[verdict] = derive.check_implementation(load_function(f"{mse}:{name}"), "mean-squared-error",
                                                      samples=20, features=5)
    hostile = load_function(f"{mse}:mse_loss_missing_two")
    hostile.__qualname__ = "<script>alert(1)</script>"
    judged["hostile"] = derive.check_implementation(hostile, "mean-squared-error", samples=20, features=5)
    return judged


def proven_verdict() -> Verdict:
    return derive.verify(sympy.exp(2 * T), [T], [2 * sympy.exp(2 * T)])


def refuted_verdict() -> Verdict:
    return derive.verify(sympy.exp(2 * T), [T], [sympy.exp(2 * T)])


def unproven_verdict() -> Verdict:
    return Verdict((EntryVerdict(0, "proven", "identical", variable=T),
                    EntryVerdict(1, "unproven", reason="no strategy proved it in 10 s", variable=T)))


# --- the one-line repr ----------------------------------------------------------------------


def test_the_repr_of_each_verdict_is_one_line():
    assert repr(proven_verdict()) == "<Verdict proven: 1 entry>"
    assert repr(refuted_verdict()) == "<Verdict refuted: 1 of 1 entries refuted>"
    assert repr(unproven_verdict()) == "<Verdict unproven: 1 of 2 entries unproven>"


def test_the_repr_of_each_document_check_says_where_to_look(documents):
    assert repr(documents["proven"]) == "<DocumentCheck proven: 2 steps (notes.md)>"
    assert repr(documents["refuted"]) == "<DocumentCheck refuted: step 1 of 2 (notes.md:7) wrong>"
    assert repr(documents["unproven"]) == "<DocumentCheck unproven: step 3 of 3 (notes.md:13) unproven>"
    assert repr(documents["empty"]) == "<DocumentCheck unproven: no steps (empty.md)>"


def test_the_repr_of_a_step_is_its_line_and_math(documents):
    first = documents["refuted"].steps[0]
    assert repr(first) == f"<StepCheck refuted: line 7, {first.latex}>"
    long = dataclasses.replace(first, latex="x" * 80)
    assert repr(long) == f"<StepCheck refuted: line 7, {'x' * 59}…>"


def test_the_repr_of_each_implementation_report_names_the_mistake(reports):
    assert repr(reports["correct"]) == "<ImplementationReport correct (mse_loss)>"
    assert repr(reports["wrong"]) == "<ImplementationReport wrong: missing factor 2 (mse_loss_missing_two)>"


def test_the_language_model_reports_read_alike():
    """``check_lm_implementation`` and ``check_accumulation``: the same repr, and their tables with
    the failing outputs marked."""
    pytest.importorskip("torch")
    from derive.implementation.lm.accumulation import check_accumulation
    from derive.implementation.lm.check import check_lm_implementation

    llm = ROOT / "examples" / "llm"
    lm = check_lm_implementation(load_function(f"{llm / 'mistakes.py'}:upstream_ignored"), samples=4, vocab=5)
    assert repr(lm) == "<LMReport wrong: upstream gradient ignored (upstream_ignored)>"
    failing = marked(lm._repr_html_())
    assert failing and all("dlogits" in row and "FAIL" in row for row in failing)
    step = load_function(f"{llm / 'accumulation.py'}:per_micro_batch_mean")
    accumulated = check_accumulation(step, samples=8, hidden=3, vocab=5)
    assert repr(accumulated) == "<AccumulationReport wrong: per-micro-batch mean (per_micro_batch_mean)>"
    assert marked(accumulated._repr_html_()) and "per-micro-batch mean" in accumulated._repr_markdown_()
    right = check_accumulation(load_function(f"{llm / 'accumulation.py'}:accumulate"), samples=8, hidden=3, vocab=5)
    assert repr(right) == "<AccumulationReport correct (accumulate)>" and marked(right._repr_html_()) == []


def test_the_repr_of_a_derivation_verdict_counts_its_parts():
    verdict = derive.softmax_cross_entropy(2, features=1).verify()
    assert repr(verdict) == f"<DerivationVerdict proven: {verdict.counts}>"
    assert verdict.counts.startswith("2 of 2 rows")


def test_a_refuted_derivation_marks_its_wrong_row(monkeypatch):
    d = derive.softmax_cross_entropy(2, features=1, label=0)
    right = d.closed_form
    monkeypatch.setattr(d, "closed_form", lambda m: 2 * right(m) if m == 1 else right(m))
    verdict = d.verify()
    assert repr(verdict) == "<DerivationVerdict refuted: 1 of 2 rows, 14 of 14 steps, 1 of 1 facts proven>"
    (wrong,) = marked(verdict._repr_html_())
    assert ">row 1<" in wrong and "refuted: dL/dw_{1,0}: at " in wrong
    assert "| **row 1** |  | **refuted: dL/dw\\_{1,0}: at w\\_{0,0} = " in verdict._repr_markdown_()


def test_short_reprs_keep_equality_and_the_fields(documents):
    """The dataclasses still compare by their fields; only their printing changed."""
    assert refuted_verdict() == refuted_verdict() and refuted_verdict() != proven_verdict()
    again = derive.check_document(WRONG, path="notes.md")
    assert again.steps == documents["refuted"].steps
    assert len(repr(documents["refuted"])) < 80 and "\n" not in repr(documents["refuted"])


# --- HTML -----------------------------------------------------------------------------------


def rows(html: str) -> list[str]:
    return re.findall(r"<tr[ >].*?</tr>", html, re.DOTALL)


def marked(html: str) -> list[str]:
    return [row for row in rows(html) if 'class="derive-marked"' in row]


def test_a_refuted_document_shows_its_steps_and_the_first_wrong_one(documents):
    html = documents["refuted"]._repr_html_()
    table = rows(html)
    assert len(table) == 1 + 2  # the header and one row per step
    assert "<math" in table[1] and "<math" in table[2]
    (wrong,) = marked(html)
    assert wrong == table[1] and ">7<" in wrong and "refuted" in wrong
    details = html[html.index("derive-details"):]
    assert "first wrong step: notes.md:7:" in details and "(step 1 of 2)" in details
    assert "true value" in details and "claimed" in details and "<math" in details
    assert "a factor of 1/2 is missing" in details  # the named mistake
    assert "**Chain rule.** The derivative in $a$:" in details  # its prose, as written


def test_a_wrong_step_without_a_counterexample_says_why():
    """Arrays of different shapes: no point to show, the shapes and the transpose instead."""
    from derive.catalog import entry

    text = entry("softmax-cross-entropy-batch").path.read_text(encoding="utf-8")
    check = derive.check_document(text.replace(r"\right) = 2 \lambda W $$", r"\right) = 2 \lambda W^T $$"),
                                  path="batch.md")
    html = check._repr_html_()
    details = html[html.index("derive-details"):]
    assert "the sides have shapes 3x2 and 2x3" in details and "(a transpose too many)" in details
    assert "true value" not in details and len(marked(html)) == 1


def test_a_proven_document_marks_nothing(documents):
    html = documents["proven"]._repr_html_()
    assert marked(html) == [] and "derive-details" not in html
    assert "proven" in html and html.count("<math") == 2


def test_an_unproven_step_says_why(documents):
    html = documents["unproven"]._repr_html_()
    assert "unproven: " in rows(html)[3] and "only equalities" in rows(html)[3]
    assert marked(html) == []  # nothing is wrong; the status says unproven
    assert "derive-status" in html and ">unproven</strong>" in html


def test_an_implementation_report_shows_its_table(reports):
    right, wrong = reports["correct"]._repr_html_(), reports["wrong"]._repr_html_()
    assert len(rows(right)) == 1 + 2 * len(reports["correct"].trials) and marked(right) == []
    failing = marked(wrong)
    assert len(failing) == len(reports["wrong"].trials) and all("FAIL" in row and "dW" in row for row in failing)
    assert "missing factor 2" in wrong and "at random input 1, dW[" in wrong


def test_a_verdict_shows_its_entries_as_math():
    refuted = refuted_verdict()._repr_html_()
    assert ">refuted</strong>" in refuted and refuted.count("<math") == 4  # dL/dt, point, two values
    assert "<mfrac>" in refuted  # the entry's name, \partial L / \partial t
    unproven = unproven_verdict()._repr_html_()
    assert len(marked(unproven)) == 1 and "no strategy proved it in 10 s" in marked(unproven)[0]
    assert "<table" not in proven_verdict()._repr_html_()


def test_the_seed_derivation_shows_its_equations_and_verdicts():
    html = derive.softmax_cross_entropy(2, features=1)._repr_html_()
    assert "row 0: proven (identical)" in html and "row 1: proven" in html
    assert html.count("<math") == len(rows(html)) - 1 and marked(html) == []


def test_html_needs_nothing_from_outside(documents, reports):
    for result in (*documents.values(), *reports.values(), refuted_verdict()):
        html = result._repr_html_().lower()
        assert "<script" not in html and "<link" not in html and "<style" not in html
        assert not re.findall(r"<[^>]*\s(?:src|href)\s*=", html)
        assert "http" not in html.replace("http://www.w3.org/1998/math/mathml", "")


# --- user text is escaped -------------------------------------------------------------------


def test_hostile_prose_and_path_are_shown_not_run(documents):
    check = documents["hostile"]
    html = check._repr_html_()
    assert not SCRIPT.search(html), SCRIPT.search(html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;.md" in html
    markdown = check._repr_markdown_()
    assert not SCRIPT.search(markdown) and "&lt;script&gt;" in markdown
    assert not re.search(r"<[a-z/!]", check._repr_latex_(), re.IGNORECASE)  # no markup can begin


def test_a_hostile_function_name_is_escaped(reports):
    report = reports["hostile"]
    assert repr(report) == "<ImplementationReport wrong: missing factor 2 (<script>alert(1)</script>)>"
    assert not SCRIPT.search(report._repr_html_()) and "&lt;script&gt;alert(1)" in report._repr_html_()
    assert not SCRIPT.search(report._repr_markdown_())


def test_math_in_prose_cannot_inject_markup():
    """The docs pages' converter escapes the text of ``\\text{...}`` and drops ``\\href``."""
    from derive.report.docs.html import _inline

    converted = _inline(r"$\text{<script>alert(1)</script>}$ and $\href{javascript:alert(1)}{x}$")
    assert "<script" not in converted and "javascript" not in converted


# --- Markdown and LaTeX ---------------------------------------------------------------------


def test_markdown_of_a_refuted_document(documents):
    markdown = documents["refuted"]._repr_markdown_()
    lines = markdown.splitlines()
    assert lines[0] == "**refuted** notes.md: 2 steps: 1 proven, 1 refuted"
    assert "| line | step | verdict |" in lines
    assert r"| **7** | $\frac{\partial f}{\partial a} = 6 a^{2} b$ | **refuted (the first wrong step)** |" in lines
    assert r"| 9 | $\frac{\partial f}{\partial b} = a^{3}$ | proven |" in lines
    assert any(line.startswith("mistake: this step would hold with $") for line in lines)


def test_markdown_escapes_its_own_syntax(reports):
    assert reports["wrong"]._repr_markdown_().startswith(r"**wrong** mse\_loss\_missing\_two: wrong: missing")
    assert notebook._markdown_text("a|b*c") == r"a\|b\*c"


def test_latex_of_each_verdict_is_math_not_a_line_of_text():
    """Symbols, points and values as math (the old rendering was one ``\\text{...}``)."""
    assert proven_verdict()._repr_latex_() == r"$\textbf{proven}\ \text{1 entry (identical)}$"
    kink = derive.verify(sympy.Max(0, T), [T], [sympy.Piecewise((1, T > 0), (0, True))])
    assert kink._repr_latex_() == r"$\textbf{proven}\ \text{1 entry (kinks)}\text{ except where }t = 0$"
    refuted = refuted_verdict()._repr_latex_()
    assert refuted.startswith(r"$\textbf{refuted}\ \frac{\partial L}{\partial t}\text{: }\text{at }t = {")
    assert r"\text{: true value }{" in refuted and r"\text{, claimed }{" in refuted
    unproven = unproven_verdict()._repr_latex_()
    assert unproven.startswith("$$\\begin{array}{l}\n" r"\textbf{unproven}\ \frac{\partial L}{\partial t}")
    assert r"\triangleright\ " in unproven


def test_latex_of_a_document_is_one_array_with_the_wrong_step_marked(documents):
    latex = documents["refuted"]._repr_latex_()
    assert latex.startswith("$$\\begin{array}{l}\n") and latex.endswith("\\end{array}$$")
    assert r"\triangleright\ \text{7} & \frac{\partial f}{\partial a} = 6 a^{2} b" in latex
    assert latex.count(r"\triangleright") == 1


# --- the start stays light ------------------------------------------------------------------


def loaded(code: str, modules=("latex2mathml", "derive.report.notebook")) -> list[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps([m for m in {modules!r} if m in sys.modules]))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.splitlines()[-1])


def test_the_renderer_is_imported_only_to_render():
    run = "from derive.cli import run\nimport contextlib, io\n" \
          "with contextlib.redirect_stdout(io.StringIO()): run(['--classes', '2'])"
    assert loaded("import derive") == [] and loaded(run) == []
    verdict = "import derive, sympy\nt = sympy.Symbol('t')\nv = derive.verify(t**2, [t], [2*t])\n"
    assert loaded(verdict + "repr(v)") == ["derive.report.notebook"]
    assert loaded(verdict + "v._repr_html_()") == ["latex2mathml", "derive.report.notebook"]


# --- in a browser ---------------------------------------------------------------------------

#: On load: the box of every <math>, and the computed background of every row of the table.
MEASURE_SCRIPT = """<script>
window.addEventListener("load", () => {
  const box = (e) => { const r = e.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width, height: r.height}; };
  const measurements = {
    math: [...document.querySelectorAll("math")].map((m) => {
      const parts = [...m.children].map(box);
      return {...box(m), content: parts.length ? {
        left: Math.min(...parts.map((b) => b.left)), right: Math.max(...parts.map((b) => b.right)),
        top: Math.min(...parts.map((b) => b.top)), bottom: Math.max(...parts.map((b) => b.bottom))} : null};
    }),
    rows: [...document.querySelectorAll("tbody tr")].map((row) => ({
      marked: row.classList.contains("derive-marked"), box: box(row),
      background: getComputedStyle(row).backgroundColor})),
  };
  const pre = document.createElement("pre");
  pre.id = "measurements";
  pre.textContent = JSON.stringify(measurements);
  document.body.appendChild(pre);
});
</script>
"""


def rgb(colour: str) -> str:
    """``#fbd9d6`` as the browser computes it, ``rgb(251, 217, 214)``."""
    return "rgb({}, {}, {})".format(*(int(colour[i:i + 2], 16) for i in (1, 3, 5)))


@pytest.fixture(scope="module")
def browser() -> str:
    return browser_path()


@pytest.fixture(scope="module")
def notebook_page(documents, tmp_path_factory) -> Path:
    """A page as a notebook holds an output: a cell's input, then the result's HTML."""
    page = tmp_path_factory.mktemp("notebook") / "notebook.html"
    page.write_text(
        '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8"><title>notebook</title></head>\n'
        '<body>\n<pre>In [1]: check_document("notes.md")</pre>\n'
        f'<div class="output">\n{documents["hostile"]._repr_html_()}\n</div>\n</body>\n</html>\n',
        encoding="utf-8")
    return page


def test_the_wrong_step_is_highlighted_in_a_browser(browser, notebook_page, documents, tmp_path_factory):
    import matplotlib.image

    found = measure(browser, notebook_page, MEASURE_SCRIPT, tmp_path_factory.mktemp("measure"))
    maths = found["math"]
    assert len(maths) == notebook_page.read_text(encoding="utf-8").count("<math") > 0
    assert [m for m in maths if m["width"] <= 0 or m["height"] <= 0 or m["content"] is None] == []
    assert [m for m in maths if m["content"]["right"] <= m["content"]["left"]] == []
    table = found["rows"]
    assert [row["marked"] for row in table] == [True, False]
    assert table[0]["background"] == rgb(notebook.COLOURS["bad"])
    assert table[1]["background"] == "rgba(0, 0, 0, 0)"  # the page's own background shows

    workdir = tmp_path_factory.mktemp("screenshot")
    png = workdir / "notebook.png"
    run_chromium(browser, workdir, f"--screenshot={png}", "--window-size=1000,700", notebook_page.as_uri())
    pixels = matplotlib.image.imread(png)
    assert pixels.shape[:2] == (700, 1000) and pixels.std() > 0.01, "the screenshot is blank"
    row = table[0]["box"]
    inside = pixels[int(row["top"]) + 2:int(row["bottom"]) - 2, int(row["left"]) + 2:int(row["right"]) - 2, :3]
    highlight = [int(notebook.COLOURS["bad"][i:i + 2], 16) / 255 for i in (1, 3, 5)]
    painted = (abs(inside - highlight) < 0.02).all(axis=-1).mean()
    assert painted > 0.5, f"only {painted:.0%} of the wrong step's row has the highlight colour"
    assert (inside.mean(axis=-1) < 0.5).any(), "no ink in the wrong step's row"
    try:  # for a person to look at; not part of the verdict
        shutil.copyfile(png, SCREENSHOT_COPY)
    except OSError:
        pass
