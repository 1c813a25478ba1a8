"""Render page blocks as one self-contained HTML file with MathML.

Math is converted from the same LaTeX that ``derive`` prints, by
``latex2mathml`` (SymPy's MathML printer can only print SymPy objects, and the
steps' statements are schematic LaTeX).  Browsers lay out MathML natively:
the page needs no JavaScript and fetches nothing; plots are embedded as
``data:`` URIs.  A display equation wider than the page scrolls on screen; in print, where
nothing scrolls, its top-level terms wrap onto further lines (a flex row) instead of being cut.

Two constructs that ``latex2mathml`` converts into MathML a browser lays out wrongly are
rewritten (see ``_mathml``): norms and absolute values, whose closing bar would carry the
exponent alone and whose opening bar would stretch to the whole equation, and evaluation bars
such as ``\\Big|_{\\eta=0}``, whose bar as the base of a subscript is never stretched.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping
from xml.etree.ElementTree import Element, tostring
from xml.sax.saxutils import unescape

import latex2mathml.exceptions
from latex2mathml.converter import convert_to_element

from derive.report.docs.page import Block, Code, Heading, Image, Items, Math, Paragraph, Table
from derive.report.docs.prose import inline_pieces

STYLE = """
body { font-family: Georgia, 'DejaVu Serif', serif; max-width: 52rem; margin: 2rem auto;
       padding: 0 1rem; line-height: 1.5; color: #222; }
h1, h2, h3 { font-family: 'DejaVu Sans', Arial, sans-serif; line-height: 1.2; }
math { font-family: 'Latin Modern Math', 'STIX Two Math', 'DejaVu Math TeX Gyre', math; }
math[display=block] { margin: 0.8em 0; font-size: 1.15em; overflow-x: auto; overflow-y: hidden; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: left; }
td:nth-child(n+2) { font-variant-numeric: tabular-nums; }
code { background: #f3f3f3; padding: 0 0.2em; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; }
figcaption { font-style: italic; }
pre { background: #f3f3f3; padding: 0.5em; overflow-x: auto; }
@media print {
  math[display=block] { overflow: visible; }
  math[display=block] > mrow { display: flex; flex-wrap: wrap; justify-content: center;
                               align-items: baseline; row-gap: 0.5em; }
  math[display=block] > mrow > mo:not([stretchy]) { padding: 0 0.25em; }
  pre { white-space: pre-wrap; }
}
""".strip()


def html_page(blocks: list[Block], title: str, images: Mapping[str, bytes]) -> str:
    """The page as one HTML document; ``images`` maps each Image's file to its PNG bytes.

    Examples
    --------
    >>> page = html_page([Math("x^{2}")], "t", {})
    >>> "<math" in page and "<script" not in page
    True
    """
    body = "\n".join(_block(block, images) for block in blocks)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>\n{STYLE}\n</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def _block(block: Block, images: Mapping[str, bytes]) -> str:
    if isinstance(block, Heading):
        return f"<h{block.level}>{_inline(block.text)}</h{block.level}>"
    if isinstance(block, Paragraph):
        return f"<p>{_inline(block.text)}</p>"
    if isinstance(block, Math):
        return _mathml(block.latex)
    if isinstance(block, Table):
        head = "".join(f"<th>{_inline(cell)}</th>" for cell in block.header)
        rows = "".join(
            "<tr>" + "".join(f"<td>{_inline(cell)}</td>" for cell in row) + "</tr>\n"
            for row in block.rows
        )
        return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}</tbody>\n</table>"
    if isinstance(block, Code):
        return f"<pre><code>{html.escape(block.text)}</code></pre>"
    if isinstance(block, Items):
        return "<ul>\n" + "".join(f"<li>{_inline(item)}</li>\n" for item in block.items) + "</ul>"
    if isinstance(block, Image):
        data = base64.b64encode(images[block.file]).decode("ascii")
        return (
            f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(block.alt)}">'
            f"<figcaption>{_inline(block.caption)}</figcaption></figure>"
        )
    raise TypeError(f"unknown block {block!r}")


def _mathml(latex: str) -> str:
    r"""One display equation as a ``<math>`` element.

    Norms ``\lVert x \rVert^{2}`` and ``\|x\|`` become ``\left\| x \right\|``, one group with
    the exponent on it and both bars the height of what they enclose; an evaluation bar
    ``\Big|_{\eta=0}`` becomes a bar stretched to the expression before it (as
    ``\left. ... \right|_{\eta=0}`` would), at least as tall as its size command says.

    Examples
    --------
    >>> norm = _mathml(r"\lVert x \rVert^{2}")
    >>> norm.count("<msup><mrow><mo stretchy=\"true\" fence=\"true\" form=\"prefix\">")
    1
    >>> bar = _mathml(r"\frac{d}{dt} f \Big|_{t=0} = 0")
    >>> "<msub><mrow><mfrac>" in bar and 'symmetric="true" minsize="1.623em">|</mo>' in bar
    True
    """
    math = convert_to_element(_delimiters(latex), display="block")
    _group_evaluation_bars(math)
    return _serialized(math)


def _serialized(math: Element) -> str:
    r"""``math`` as markup, as ``latex2mathml.converter.convert`` writes it, with its text escaped.

    latex2mathml puts character references (``&#x0002B;``) in the text and unescapes the whole
    markup, which would turn a ``<`` of ``\text{<script>}`` into a tag: ``<`` and ``>`` in the
    text become references first, so that a document's math cannot inject markup; links
    (``\href``, which could run ``javascript:``) are dropped.

    >>> _serialized(convert_to_element(r"\text{<b>} < 1"))
    '<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline"><mrow><mtext>&#x0003C;b&#x0003E;</mtext><mo>&#x0003C;</mo><mn>1</mn></mrow></math>'
    >>> "href" in _serialized(convert_to_element(r"\href{javascript:alert(1)}{x}"))
    False
    """
    for element in math.iter():
        element.attrib.pop("href", None)
        for part in ("text", "tail"):
            value = getattr(element, part)
            if value:
                setattr(element, part, value.replace("<", "&#x0003C;").replace(">", "&#x0003E;"))
    return unescape(tostring(math, encoding="unicode"))


#: A LaTeX token: a command (``\lVert``, ``\|``, ``\\``), a brace, a run of spaces, a character.
_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|[{}]|\s+|.", re.DOTALL)
#: Size commands, whose delimiter latex2mathml copies verbatim when it is a command (``\vert``).
_SIZES = frozenset(
    rf"\{size}{suffix}" for size in ("big", "Big", "bigg", "Bigg") for suffix in ("", "l", "r", "m")
)
#: Delimiters latex2mathml prints as their command's name after a size command.
_SIZED = {r"\vert": "|", r"\lvert": "|", r"\rvert": "|", r"\|": "‖", r"\Vert": "‖",
          r"\lVert": "‖", r"\rVert": "‖"}  # fmt: skip
#: Unsized bars that open (or open and close) a pair, and that close one, by kind: a bar closes
#: the innermost open bar of its kind.  The kind's first character is the \left/\right delimiter.
_OPENS = {r"\lVert": "‖l", r"\lvert": "|l", r"\|": "‖", r"\Vert": "‖"}
_CLOSES = {r"\rVert": "‖l", r"\rvert": "|l", r"\|": "‖", r"\Vert": "‖"}
_FENCES = {"‖": r"\|", "|": "|"}


def _delimiters(latex: str) -> str:
    r"""``latex`` with its norms and absolute values as ``\left ... \right`` pairs.

    Bars pair innermost first within one brace group (or ``\left ... \right``), ``\lVert``
    with ``\rVert``, ``\lvert`` with ``\rvert``, ``\|`` or ``\Vert`` with the next one; a bar
    without a partner stays as it was.  Delimiters of size commands are spelled so that
    latex2mathml prints a bar, not the command's name.

    >>> _delimiters(r"\lVert x \rVert^{2} + \|y\| + \Big\vert_{0}")
    '\\left\\| x \\right\\|^{2} + \\left\\|y\\right\\| + \\Big|_{0}'
    """
    tokens = _TOKEN.findall(latex)
    frames: list[list[tuple[int, str]]] = [[]]  # per group: its open bars (token index, kind)
    delimiter_of = None  # the command whose delimiter comes next: \left, \right, \big ...
    for i, token in enumerate(tokens):
        if token.isspace():
            continue
        if delimiter_of is not None:
            if delimiter_of in _SIZES and token in _SIZED:
                tokens[i] = _SIZED[token]
            delimiter_of = None
            continue
        if token in _SIZES or token in (r"\left", r"\right", r"\middle"):
            delimiter_of = token
            if token == r"\left":
                frames.append([])
            elif token == r"\right" and len(frames) > 1:
                frames.pop()
        elif token == "{":
            frames.append([])
        elif token == "}" and len(frames) > 1:
            frames.pop()
        elif token in _OPENS or token in _CLOSES:
            bars = frames[-1]
            if token in _CLOSES and bars and bars[-1][1] == _CLOSES[token]:
                opening, kind = bars.pop()
                fence = _FENCES[kind[0]]
                tokens[opening], tokens[i] = rf"\left{fence}", rf"\right{fence}"
            elif token in _OPENS:
                bars.append((i, _OPENS[token]))
    return "".join(tokens)


#: Elements whose children are laid out in a row.
_ROWS = frozenset({"math", "mrow", "mstyle", "mpadded", "mphantom", "msqrt", "menclose", "mtd"})
#: Operators an evaluation bar's expression does not reach past outside brackets: relations,
#: separators and the additive operators.
_ENDS = frozenset("=≠<>≤≥≦≧≪≫≈≃≅≡∼∝≺≻⪯⪰∈∉∋⊂⊃⊆⊇→←↔⇒⇐⇔↦:;,+-−±∓")
_OPENING = frozenset("([{⟨⌈⌊")
_CLOSING = frozenset(")]}⟩⌉⌋")


def _group_evaluation_bars(math: Element) -> None:
    r"""Give every sized bar with a subscript (``\Big|_{\eta=0}``) the expression it evaluates.

    Browsers stretch an operator within its row, not as the base of a script, so latex2mathml's
    ``<msub><mo minsize=...>|</mo>...`` lays out a bar of the subscript's size.  The bar becomes
    the closing fence of a row holding the expression before it, which makes the base of the
    script: as ``\left. ... \right|_{\eta=0}``, keeping the size command's height as the least.
    The expression reaches back to the row's start or to a relation, separator, ``+`` or ``-``
    outside brackets (latex2mathml puts ``f(a - b)`` in one flat row).
    """
    parents = {child: parent for parent in math.iter() for child in parent}
    scripts = [e for e in math.iter() if e.tag in ("msub", "msubsup") and len(e)]
    for script in scripts:
        bar = script[0]
        if bar.tag != "mo" or "minsize" not in bar.attrib or _text(bar) not in ("|", "∣"):
            continue
        fence = Element("mo", {"stretchy": "true", "fence": "true", "form": "postfix",
                               "symmetric": "true", "minsize": bar.get("minsize")})  # fmt: skip
        fence.text = bar.text
        expression: list[Element] = []
        row = parents.get(script)
        if row is not None and row.tag in _ROWS:
            siblings = list(row)
            depth = 0  # brackets closed, reading backwards
            for sibling in reversed(siblings[: siblings.index(script)]):
                text = _text(sibling) if sibling.tag == "mo" else ""
                depth += (text in _CLOSING) - (text in _OPENING)
                if depth < 0 or (depth == 0 and text in _ENDS):
                    break
                expression.insert(0, sibling)
            for sibling in expression:
                row.remove(sibling)
        base = Element("mrow")
        base.extend([*expression, fence])
        script.remove(bar)
        script.insert(0, base)
        for element in base.iter():
            for child in element:
                parents[child] = element


def _text(element: Element) -> str:
    return html.unescape((element.text or "").strip())


def _inline(text: str) -> str:
    """Escape text, then turn `code`, **bold**, *emphasis*, [links](page.html) and $math$ into
    elements.  A link goes only to a page (a relative address) or to ``http(s)://``; any other
    target (``javascript:``) leaves its text, unlinked.

    >>> print(_inline(r"Let $x^2$ be **big**, see [the format](format.md)."))  # doctest: +NORMALIZE_WHITESPACE
    Let <math xmlns="http://www.w3.org/1998/Math/MathML" display="inline"><mrow><msup><mi>x</mi><mn>2</mn></msup></mrow></math>
    be <strong>big</strong>, see <a href="format.md">the format</a>.
    >>> print(_inline("`$x$ < 1` and [*this*](javascript:go)"))
    <code>$x$ &lt; 1</code> and <em>this</em>
    """
    out = []
    for kind, content, target in inline_pieces(text):
        if kind == "math":
            out.append(_inline_math(content))
        elif kind == "code":
            out.append(f"<code>{html.escape(content)}</code>")
        elif kind in _ELEMENTS:
            out.append(f"<{_ELEMENTS[kind]}>{_inline(content)}</{_ELEMENTS[kind]}>")
        elif kind == "link" and _LINKABLE.match(target):
            out.append(f'<a href="{html.escape(target)}">{_inline(content)}</a>')
        else:
            out.append(_inline(content) if kind == "link" else html.escape(content))
    return "".join(out)


def _inline_math(latex: str) -> str:
    """Inline math as MathML; math of a paragraph that latex2mathml cannot convert (derive does
    not read every ``$...$`` of prose: a mention outside a declaring sentence is shown, not read)
    is shown as the code it is.

    >>> _inline_math("x^")
    '<code>$x^$</code>'
    """
    try:
        math = convert_to_element(_delimiters(latex), display="inline")
    except _UNCONVERTIBLE:
        return f"<code>{html.escape(f'${latex}$')}</code>"
    return _serialized(math)


#: What latex2mathml raises for math it cannot convert.
_UNCONVERTIBLE = tuple(error for error in vars(latex2mathml.exceptions).values()
                       if isinstance(error, type) and issubclass(error, Exception))
_ELEMENTS = {"bold": "strong", "emphasis": "em"}
#: Link targets kept: a relative address (a page, an anchor) or a web address.
_LINKABLE = re.compile(r"[\w%./#-]+$|https?://")
