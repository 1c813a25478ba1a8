"""Seeded mutation fuzzing of the document reader.

Every catalog document and a corpus of math snippets are mutated (characters and tokens deleted,
duplicated, swapped; LaTeX commands, braces, ``$``, ``&``, ``\\\\``, unicode and control
characters inserted; truncation; deep nesting; long repetition) and read by ``read_document``,
the parse path without the symbolic check.  For every input: the only exception is a
``DocumentError`` whose ``str()`` points into the input, each input takes at most
``MAX_SECONDS_PER_INPUT``, and nothing is evaluated (eval, exec, sympify, lambdify refuse).
A second fuzzer checks that every formula that parses prints back (``to_latex``) to LaTeX that
parses to the same tree.

The seed is fixed: a failure names the input (and its number), and reruns the same way.  Run with
``-s`` to see the counts and the rate.
"""

import random
import re
import time
import traceback
from pathlib import Path

import derive.document
from derive.document.ast import to_latex
from derive.document.declare import read_document
from derive.document.parse import MAX_MATH_CHARS, parse_equations
from derive.document.source import DocumentError, Source, shown_line

from test_document_parse import _decimals_as_fractions, forbid

SEED = 20261128
DOCUMENTS = 12_000  # mutated documents read: about 25 s on a busy 2-core machine (500/s)
FORMULAS = 6_000  # formulas edited, printed back and read again: about 10 s
MAX_SECONDS_PER_INPUT = 2.0
CATALOG = Path(derive.document.__file__).parent.parent / "catalog"

SNIPPETS = [
    r"f_j = w_j^T x",
    r"p_j = \frac{e^{f_j}}{\sum_k e^{f_k}}",
    r"L = -\log p_y = -\log \frac{e^{f_y}}{\sum_k e^{f_k}} = -f_y + \log \sum_k e^{f_k}",
    r"\frac{\partial L}{\partial w_m} = \frac{\partial L}{\partial p_y} \frac{\partial p_y}{\partial f_m} x",
    r"\frac{\partial p_y}{\partial f_m} = \frac{\frac{\partial g}{\partial f_m} h - g \frac{\partial h}{\partial f_m}}{h^2}",
    r"\frac{\partial p_y}{\partial f_m} = \begin{cases} p_y (1 - p_y) & \text{if } m = y \\ -p_y p_m & \text{if } m \neq y \end{cases}",
    r"\boxed{\frac{\partial L}{\partial w_m} = \left(p_m - \mathbb{1}[m = y]\right) x}",
    r"L = \frac{1}{N}\sum_{i=1}^{N} -\log p_{y_i} + \lambda \lVert W \rVert^2",
    r"\nabla_W L = \frac{1}{N} \sum_{i=1}^{N} (p_i - t_i) x_i^T + 2 \lambda W",
    r"s_j = \max(0, f_j - f_y + 1), \quad L = \sum_{j \neq y} s_j",
    r"\frac{\partial L}{\partial f_m} = \mathbb{1}[s_m > 0] - \delta_{my} \sum_{j \neq y} 1\{s_j > 0\}",
    r"h = \tanh(W x), \quad z = v^T h, \quad \frac{\partial z}{\partial W} = (v \cdot (1 - \tanh^2(W x))) x^T",
    r"\sigma(z)^2 = \frac{1}{(1 + e^{-z})^2}, \quad |u| + \|x\|^2 + \lvert a \rvert",
    r"q_k = (1 - \varepsilon) [k = y] + \frac{\varepsilon}{K}, \quad L = -\sum_k q_k \log p_k",
    r"L = -(1 - p_y)^{\gamma} \ln p_y, \quad \prod_{k=1}^{K} \hat{p}_k^{t_k} = \exp\left(\sum_k t_k \log \hat p_k\right)",
    r"\frac{\partial}{\partial a} \left( a^2 b \right) = 2 a b \cdot \tfrac12 \times 2",
]
DECLARATIONS = (
    "Let $K \\in \\mathbb{N}$, $x \\in \\mathbb{R}^D$, $y \\in \\{1, \\dots, K\\}$, "
    "$W \\in \\mathbb{R}^{K \\times D}$, $a, b, z, \\lambda \\in \\mathbb{R}$,\n"
    "$t_1, \\dots, t_K \\in \\mathbb{R}$ and $\\gamma > 0$.\n\n"
)

COMMANDS = [
    r"\frac", r"\dfrac", r"\sum", r"\sum_", r"\prod_{k=1}^{K}", r"\log", r"\exp", r"\sigma", r"\tanh",
    r"\max", r"\min", r"\partial", r"\nabla_", r"\cdot", r"\times", r"\left(", r"\right)", r"\left.",
    r"\right|", r"\Big|_{\eta=0}", r"\big(", r"\mathbb{1}", r"\mathbb{R}", r"\mathbf{", r"\text{",
    r"\text{if } ", r"\boxed{", r"\begin{cases}", r"\end{cases}", r"\begin{aligned}", r"\end{aligned}",
    r"\begin{matrix}", r"\end", r"\begin", r"\lVert", r"\rVert", r"\|", r"\lvert", r"\{", r"\}",
    r"\delta_{", r"\hat", r"\top", r"^T", r"^\top", r"\neq", r"\le", r"\geq", r"\in", r"\dots",
    r"\quad", r"\,", r"\!", r"\ ", r"\\", r"\input{/etc/passwd}", r"\def\x{1}", r"\newcommand",
    r"\operatorname{softmax}", r"\foo", "\\", r"\alpha", r"\pi", r"\frac12", r"\mathbbm{1}",
    "__import__('os').system('ls')", "eval(", "exec(", "${}$", "%", "% comment\n",
]
PUNCTUATION = list("{}()[]|$&^_=+-/,.;:!<>'\"*#~`@?") + ["$$", "&=", "\\\\", "{}", "}{", "^{", "_{"]
UNICODE = [
    "\x00", "\x01", "\x02", "\x03", "\x04", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\x1b[2J", "\x7f",
    "\x85", "\xa0", "\u2028", "\u2029", "\u200b", "\u202e", "\ufeff", "\ufffd", "\ud800", "α", "∑",
    "−", "×", "·", "≠", "≤", "‖", "∂", "∇", "𝟙", "🙂", "\t", "\r", "\r\n", "\n", "\n\n", "\n$$\n",
    "\nLet $", "\n---\n", "---\n", "\n```\n", "\\[", "\\]",
]
WRAPPERS = [
    ("{", "}"), ("(", ")"), ("[", "]"), (r"\left(", r"\right)"), (r"\frac{", "}{2}"), (r"\sqrt{", "}"),
    ("|", "|"), (r"\lVert ", r"\rVert"), (r"\boxed{", "}"), (r"\mathbf{", "}"), (r"\text{", "}"),
    ("- ", ""), (r"\log ", ""), (r"\sum_k ", ""), ("a^{", "}"), ("x_{", "}"), ("$", "$"), ("$$", "$$"),
    (r"\begin{cases}", r"\end{cases}"),
]
TOKEN = re.compile(r"\\[a-zA-Z]+|\\.|\s+|[0-9]+|.", re.DOTALL)


def mutate(rng: random.Random, text: str, corpus: list[str]) -> str:
    """One random edit of ``text``."""
    n = len(text)
    at = rng.randrange(n + 1)
    span = rng.choice((1, 2, 3, 5, 10, 40))
    kind = rng.randrange(14)
    if kind == 0:  # delete characters
        return text[:at] + text[at + span:]
    if kind == 1:  # duplicate a span
        return text[:at] + text[at:at + span] * rng.choice((2, 3)) + text[at:]
    if kind == 2 and n >= 2:  # swap two characters
        i, j = sorted(rng.sample(range(n), 2))
        return text[:i] + text[j] + text[i + 1:j] + text[i] + text[j + 1:]
    if kind in (3, 4, 5):  # token edits: delete, swap, replace
        tokens = TOKEN.findall(text)
        if not tokens:
            return text
        i = rng.randrange(len(tokens))
        if kind == 3:
            del tokens[i]
        elif kind == 4:
            j = rng.randrange(len(tokens))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        else:
            tokens[i] = rng.choice(COMMANDS + PUNCTUATION)
        return "".join(tokens)
    if kind == 6:  # insert a LaTeX command
        return text[:at] + rng.choice(COMMANDS) + text[at:]
    if kind == 7:  # insert punctuation
        return text[:at] + rng.choice(PUNCTUATION) + text[at:]
    if kind == 8:  # insert unicode, control characters, line structure
        return text[:at] + rng.choice(UNICODE) + text[at:]
    if kind == 9:  # insert any character at all
        return text[:at] + chr(rng.randrange(0x110000)) + text[at:]
    if kind == 10:  # truncate
        return text[:at]
    if kind == 11:  # nest a span, up to well past the depth limit
        start, end = sorted((at, min(n, at + rng.choice((0, 1, 5, 30)))))
        left, right = rng.choice(WRAPPERS)
        times = rng.choice((1, 2, 5, 20, 45, 100))
        return text[:start] + left * times + text[start:end] + right * times + text[end:]
    if kind == 12:  # repeat a span into a long input
        piece = text[at:at + span] or "a"
        return text[:at] + piece * rng.choice((50, 500, 5000)) + text[at:]
    # splice in a piece of another input
    other = rng.choice(corpus)
    k = rng.randrange(len(other) + 1)
    return text[:at] + other[k:k + rng.choice((5, 50, 500))] + text[at:]


def shown(text: str, limit: int = 3000) -> str:
    """An input for a failure message: whole when short, else its ends (rerun the seed for all)."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit // 2]!r} ... {text[-limit // 2:]!r} ({len(text)} characters)"


# Edits that keep a formula mostly readable, for the print-back fuzzer.
FRIENDLY = [
    "a", "b", "x", "2", "0.5", "+", "-", "/", r"\cdot ", r"\times ", "^2", "^T", "^{-1}", "_k", "_{m,k}",
    "(a + b)", "[m = y]", r"\frac{a}{b}", r"\log ", r"\sigma", r"\exp", r"\sum_k ", r"\sum_{k=1}^{K} ",
    r"\mathbb{1}[m = y]", r"1\{m = y\}", "e^{x}", " ", r"\lVert x \rVert", "|u|", r"\tanh^2", r"\max(0, a)",
    r"\frac{\partial}{\partial a}", r"\frac{\partial L}{\partial w_m}", "-a", r"\prod_{k=1}^{K}", r"\delta_{my}",
    r"\hat{y}", r"\alpha", r"\tfrac12", r"\left(", r"\right)", "(", ")", "{", "}", r"\boxed{a}",
]


def gentle_mutate(rng: random.Random, text: str) -> str:
    """One token-level edit from a vocabulary the grammar knows."""
    tokens = TOKEN.findall(text)
    i = rng.randrange(len(tokens) + 1)
    kind = rng.randrange(6)
    if kind == 0 and i < len(tokens):
        del tokens[i]
    elif kind == 1 and i + 1 < len(tokens):
        tokens[i], tokens[i + 1] = tokens[i + 1], tokens[i]
    elif kind == 2 and i < len(tokens):
        tokens[i] = rng.choice(FRIENDLY)
    elif kind == 3:
        j = min(len(tokens), i + rng.choice((1, 2, 4, 8)))
        left, right = rng.choice((("(", ")"), ("{", "}"), (r"\left(", r"\right)"), ("-(", ")")))
        tokens[i:j] = [left] + tokens[i:j] + [right]
    else:
        tokens.insert(i, rng.choice(FRIENDLY))
    return "".join(tokens)


def assert_well_formed(error: DocumentError, text: str, path: str) -> None:
    """The error points into the text: its line is the text's line, its caret under the column."""
    shown = str(error)
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f]", shown), shown
    if not error.line:
        assert shown == f"{path}: {error.message}"
        return
    lines = text.split("\n")
    assert 1 <= error.line <= len(lines)
    assert lines[error.line - 1].startswith(error.text)
    assert 1 <= error.column <= len(error.text) + 1
    head, line, caret = shown.split("\n")
    assert head == f"{path}:{error.line}:{error.column}: {error.message}"
    expected_line, expected_caret = shown_line(error.text, error.column)
    assert line == "    " + expected_line
    assert caret == "    " + " " * expected_caret + "^"


def corpus() -> list[str]:
    documents = [p.read_text(encoding="utf-8") for p in sorted(CATALOG.glob("*.md"))]
    assert any(p.name == "softmax-cross-entropy.md" for p in CATALOG.glob("*.md"))
    snippets = [DECLARATIONS + "$$ " + s + " $$\n" for s in SNIPPETS]
    aligned = DECLARATIONS + "$$\n\\begin{aligned}\n" + " \\\\\n  &= ".join(
        s.split("=", 1)[1] for s in SNIPPETS[:6]).join(("L &= ", "\n\\end{aligned}\n$$\n"))
    return documents + snippets + [aligned]


def test_fuzz_read_document(monkeypatch):
    inputs = corpus()
    called = forbid(monkeypatch)
    rng = random.Random(SEED)
    failures, errors, slowest, started = [], 0, (0.0, ""), time.perf_counter()
    for number in range(DOCUMENTS):
        text = rng.choice(inputs)
        for _ in range(rng.choice((1, 1, 2, 3, 5))):
            text = mutate(rng, text, inputs)
        begin = time.perf_counter()
        try:
            read_document(Source(text, "fuzz.md"))
        except DocumentError as error:
            errors += 1
            try:
                assert_well_formed(error, text, "fuzz.md")
            except AssertionError:
                failures.append(f"input {number}: malformed error {str(error)!r}\n"
                                f"{traceback.format_exc(limit=1)}\ninput: {shown(text)}")
        except Exception as error:  # noqa: BLE001  (any other exception is the failure sought)
            failures.append(f"input {number}: {type(error).__name__}: {error}\n"
                            f"{''.join(traceback.format_exception(error)[-6:])}\ninput: {shown(text)}")
        seconds = time.perf_counter() - begin
        slowest = max(slowest, (seconds, text))
        if len(failures) >= 5:
            break
    elapsed = time.perf_counter() - started
    print(f"\nfuzz: {number + 1} documents in {elapsed:.1f} s ({(number + 1) / elapsed:.0f}/s), "
          f"{errors} refused, slowest {slowest[0] * 1000:.0f} ms")
    assert not failures, "\n\n".join(failures)
    assert called == []
    assert slowest[0] <= MAX_SECONDS_PER_INPUT, f"{slowest[0]:.2f} s for input: {shown(slowest[1])}"


def test_fuzz_formulas_print_back_to_the_same_tree(monkeypatch):
    called = forbid(monkeypatch)
    rng = random.Random(SEED + 1)
    failures, parsed = [], 0
    for number in range(FORMULAS):
        latex = rng.choice(SNIPPETS)
        for _ in range(rng.choice((1, 1, 2, 3))):
            latex = gentle_mutate(rng, latex) if rng.random() < 0.8 else mutate(rng, latex, SNIPPETS)
        try:
            found = parse_equations(latex)
        except DocumentError:
            continue
        except Exception as error:  # noqa: BLE001
            failures.append(f"formula {number}: {type(error).__name__}: {error}\nformula: {shown(latex)}")
            continue
        parsed += 1
        for equation in found:
            for side in (equation.left, equation.right):
                printed = to_latex(side)
                if len("y = " + printed) > MAX_MATH_CHARS:
                    continue
                try:
                    (back,) = parse_equations("y = " + printed)
                except Exception as error:  # noqa: BLE001
                    failures.append(f"formula {number}: {shown(latex)}\nprints as {shown(printed)}, which reads as "
                                    f"{type(error).__name__}: {error}")
                    continue
                if _decimals_as_fractions(back.right) != _decimals_as_fractions(side):
                    failures.append(f"formula {number}: {shown(latex)}\nprints as {shown(printed)}, "
                                    f"which reads back as {to_latex(back.right)!r}")
        if len(failures) >= 5:
            break
    print(f"\nfuzz: {number + 1} formulas, {parsed} parsed and printed back")
    assert not failures, "\n\n".join(failures)
    assert parsed > FORMULAS // 8
    assert called == []

