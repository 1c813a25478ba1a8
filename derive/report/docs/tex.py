r"""Render page blocks as a standalone LaTeX document that ``pdflatex`` compiles as it is.

It needs only what Debian's ``texlive-latex-base`` installs: ``amsmath`` and ``amssymb`` for
the math, ``geometry`` for the margins (:data:`PREAMBLE`).  Each display equation is its own
``\[ ... \]`` and ``\allowdisplaybreaks`` is on, so a long derivation breaks across pages; each
step's verdict is the line of text after it.  The prose is the user's Markdown, turned into
LaTeX: headings, paragraphs, ``**bold**``, ``*emphasis*``, ```code``` and ``$math$``, with
every LaTeX special character of the text escaped (a user's ``%``, ``&``, ``\`` or ``#`` is
printed, never read as LaTeX).  Math is passed through as written: ``derive`` has already read
it with its whitelist grammar (no ``\input``, no macros), and :func:`portable` spells the
indicator ``\mathbb{1}`` as ``\mathbf{1}``.
"""

from __future__ import annotations

import re

from derive._version import __version__
from derive.report.docs.page import Block, Code, Heading, Image, Items, Math, Paragraph, Table
from derive.report.docs.prose import inline_pieces
from derive.report.latex import LATEX_PACKAGES, portable

PREAMBLE = "\n".join([
    r"\documentclass[11pt]{article}",
    rf"\usepackage{{{','.join(LATEX_PACKAGES)}}}",
    r"\usepackage[margin=2.5cm]{geometry}",
    r"\allowdisplaybreaks",
    r"\setlength{\parindent}{0pt}",
    r"\setlength{\parskip}{0.5em}",
])
#: What prints each text character LaTeX reads as markup (or its OT1 fonts lack), in the
#: fonts every installation has (``\textbackslash`` or ``\$`` would need TS1 fonts, made by METAFONT).
_ESCAPES = {"\\": r"$\backslash$", "{": r"\{", "}": r"\}", "%": r"\%", "&": r"\&",
            "#": r"\#", "_": r"\_", "$": r"$\$$", "~": r"\~{}", "^": r"\^{}", "<": "$<$",
            ">": "$>$", "|": r"$\vert$"}  # fmt: skip
#: Characters outside Latin-1 that notes use and LaTeX's utf8 input does not define, as math.
_SYMBOLS = {"→": r"\rightarrow", "←": r"\leftarrow", "⇒": r"\Rightarrow", "≤": r"\le",
            "≥": r"\ge", "≠": r"\ne", "≈": r"\approx", "∈": r"\in", "×": r"\times",
            "·": r"\cdot", "−": "-", "∑": r"\sum", "∂": r"\partial", "∞": r"\infty",
            "α": r"\alpha", "β": r"\beta", "γ": r"\gamma", "δ": r"\delta", "ε": r"\epsilon",
            "η": r"\eta", "θ": r"\theta", "λ": r"\lambda", "μ": r"\mu", "π": r"\pi",
            "σ": r"\sigma", "τ": r"\tau", "φ": r"\phi", "ω": r"\omega"}  # fmt: skip
#: Punctuation outside Latin-1 that LaTeX's utf8 input does define.
_DEFINED = frozenset("–—‘’“”…")
#: Commands inline math may use in the LaTeX: math notation only.  Inline math in prose is not
#: always read by derive (a mention outside a declaring sentence is not), so any other command
#: (``\input``, ``\openout``, a macro), and ``#``, ``%``, ``&``, ``^^`` or an unbalanced brace,
#: makes it print as text instead.
MATH_COMMANDS = frozenset("""
    alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi
    pi varpi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega Gamma Delta Theta
    Lambda Xi Pi Sigma Upsilon Phi Psi Omega ell nabla partial infty
    frac dfrac tfrac sqrt sum prod int lim log ln exp det tr max min sin cos tanh sinh cosh arg
    operatorname mathrm mathit mathsf mathbf mathbb mathcal boldsymbol text textrm bar hat tilde
    vec dot ddot overline underline left right big Big bigg Bigg bigl bigr Bigl Bigr middle
    cdot cdots ldots dots vdots ddots times div pm mp odot circ otimes oplus ast star setminus
    in notin ni subset subseteq supset supseteq cup cap emptyset forall exists mid
    le leq ge geq ne neq lt gt approx sim simeq equiv propto ll gg to mapsto rightarrow leftarrow
    Rightarrow Leftarrow iff implies lVert rVert lvert rvert Vert vert langle rangle lfloor
    rfloor lceil rceil top quad qquad prime
""".split())
_MATH_COMMAND = re.compile(r"\\([A-Za-z]+|.)")
_UNSAFE_IN_MATH = re.compile(r"[#%&$~\"]|\^\^|[^\x20-\x7e\n]")
_SECTIONS = {1: "section*", 2: "subsection*", 3: "subsubsection*"}
_COMMANDS = {"code": r"\texttt", "bold": r"\textbf", "emphasis": r"\emph"}


def standalone_tex(blocks: list[Block], title: str) -> str:
    r"""The page as a whole LaTeX document, from ``\documentclass`` to ``\end{document}``.

    Examples
    --------
    >>> tex = standalone_tex([Heading(1, "50% off"), Math(r"\mathbb{1}[m = y] = 1")], "t")
    >>> print(tex[tex.index(r"\begin{document}"):])
    \begin{document}
    \section*{50\% off}
    <BLANKLINE>
    \[ \mathbf{1}[m = y] = 1 \]
    <BLANKLINE>
    \end{document}
    <BLANKLINE>
    """
    header = (f"% {text_line(title)}: written by derive docs --format latex (derive {__version__}); "
              "do not edit by hand.\n"
              f"% Compiles with pdflatex: it needs only {', '.join(LATEX_PACKAGES)} and geometry "
              "(Debian's texlive-latex-base).\n")
    body = "\n\n".join(_block(block) for block in blocks)
    return f"{header}{PREAMBLE}\n\\begin{{document}}\n{body}\n\n\\end{{document}}\n"


def _block(block: Block) -> str:
    if isinstance(block, Heading):
        section = _SECTIONS.get(block.level, "paragraph*")
        return f"\\{section}{{{inline(block.text)}}}"
    if isinstance(block, Paragraph):
        return inline(block.text)
    if isinstance(block, Math):
        return rf"\[ {portable(block.latex)} \]"
    if isinstance(block, Table):
        rows = [" & ".join(rf"\textbf{{{inline(cell)}}}" for cell in block.header)]
        rows += [" & ".join(inline(cell) for cell in row) for row in block.rows]
        lines = " \\\\\n".join(rows)
        return f"\\begin{{tabular}}{{{'l' * len(block.header)}}}\n{lines}\n\\end{{tabular}}"
    if isinstance(block, Code):  # never verbatim: its text could end the environment
        lines = (text_line(line).replace(" ", "\\ ") or r"\mbox{}" for line in block.text.splitlines())
        return "\\begin{flushleft}\\ttfamily\n" + " \\\\\n".join(lines) + "\n\\end{flushleft}"
    if isinstance(block, Items):
        items = "\n".join(rf"\item {inline(item)}" for item in block.items)
        return f"\\begin{{itemize}}\n{items}\n\\end{{itemize}}"
    if isinstance(block, Image):
        raise ValueError(f"a standalone LaTeX page has no images ({block.file})")
    raise TypeError(f"unknown block {block!r}")


def inline(text: str) -> str:
    r"""Markdown prose as LaTeX text: its markup turned into commands, every other character
    printed as itself.

    >>> print(inline(r"**Proven**: $x_1 \le 2$ for 100% of `a_b`, see [the format](format.html) \o/"))
    \textbf{Proven}: $x_1 \le 2$ for 100\% of \texttt{a\_b}, see the format $\backslash$o/
    """
    out = []
    for kind, content, _ in inline_pieces(text):
        if kind == "math" and safe_math(content):
            out.append(f"${portable(content)}$")
        elif kind == "math":
            out.append(rf"\texttt{{{text_line(f'${content}$')}}}")
        elif kind in _COMMANDS:
            out.append(f"{_COMMANDS[kind]}{{{text_line(content) if kind == 'code' else inline(content)}}}")
        else:
            out.append(inline(content) if kind == "link" else text_line(content))
    return "".join(out)


def safe_math(latex: str) -> bool:
    r"""Whether inline math may go into the LaTeX as it is: only :data:`MATH_COMMANDS`, printable
    ASCII without ``#``, ``%``, ``&``, ``~``, ``"`` or ``^^``, and balanced braces.

    >>> safe_math(r"x_1 \le \mathbb{1}[x > 0], \{a\}"), safe_math(r"\input{x}"), safe_math("}{")
    (True, False, False)
    """
    bare = _MATH_COMMAND.sub(lambda m: "" if m.group(1) in MATH_COMMANDS or m.group(1) in "{}|,;:! "
                             else "#", latex)  # an unknown command is unsafe, as "#" is
    depth = 0
    for char in bare:
        depth += (char == "{") - (char == "}")
        if depth < 0:
            return False
    return depth == 0 and not _UNSAFE_IN_MATH.search(bare)


def text_line(text: str) -> str:
    r"""Plain text as LaTeX that prints it: special characters escaped, a line break a space,
    a symbol LaTeX's text fonts lack as math, any other character it cannot print as its code.

    >>> print(text_line("50% & #1 ~ {x_2} ≤ λ, naïve – ✓"))
    50\% \& \#1 \~{} \{x\_2\} $\le$ $\lambda$, naïve – [U+2713]
    """
    out = []
    for char in " ".join(text.splitlines()):
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char in _SYMBOLS:
            out.append(f"${_SYMBOLS[char]}$")
        elif char.isprintable() and (ord(char) < 0x180 or char in _DEFINED):
            out.append(char)
        else:
            out.append(f"[U+{ord(char):04X}]")
    return "".join(out)
