"""The grammar's LALR tables, stored beside it so that a start does not compute them again.

lark computes the LALR(1) tables of ``grammar.lark`` each time it builds the parser, which is
most of a short document's reading time.  ``grammar-tables.json`` holds them as lark serializes
them (plain data, the form lark's standalone parsers are made from), with what they were made
from: the grammar's text, the parser's options (its start rules) and the lark version.  A parser
is loaded from them only when all three are the ones asked for; otherwise (a grammar that
shadows a function name, an edited grammar, another lark) it is built as before.  The file is
JSON, read by ``json``: loading it runs no code (lark's own ``cache=`` would load a Python object
file, which whoever can write the cache directory can make run code).  ``tools/grammar_tables.py``
writes it, and a test checks it is current.

>>> parser = grammar_parser(TABLES.with_name("grammar.lark").read_text(), ("equations", "declaration"))
>>> parser.parse("a = b", start="equations").data
'equations'
"""

from __future__ import annotations

import json
from pathlib import Path

import lark
from lark.grammar import Rule
from lark.lexer import TerminalDef

#: The stored tables of ``grammar.lark``.
TABLES = Path(__file__).with_name("grammar-tables.json")


def _options(starts) -> dict:
    return {"parser": "lalr", "lexer": "contextual", "start": list(starts), "maybe_placeholders": False}


def made_from(grammar: str, starts) -> dict:
    """What tables are made from: the grammar, the parser's options, the lark version."""
    return {"grammar": grammar, "options": _options(starts), "lark": lark.__version__}


def tables_text(grammar: str, starts) -> str:
    """The tables of ``grammar`` as the JSON text stored in :data:`TABLES`."""
    data, memo = lark.Lark(grammar, **_options(starts)).memo_serialize([TerminalDef, Rule])
    stored = {"made_from": made_from(grammar, starts), "data": data, "memo": memo}
    return json.dumps(stored, sort_keys=True, separators=(",", ":")) + "\n"


def _whole_number_keys(pairs: list) -> dict:
    """A JSON object; lark's tables of states, tokens and rules, whose keys are all whole
    numbers, get their keys back as ``int``."""
    if pairs and all(key.isdigit() for key, _ in pairs):
        return {int(key): value for key, value in pairs}
    return dict(pairs)


def stored_parser(grammar: str, starts, positions: bool = False) -> lark.Lark | None:
    """The parser of ``grammar`` loaded from :data:`TABLES`, or None when they were not made
    from this grammar, these start rules and this lark (or cannot be read: the parser is then
    built, only slower)."""
    try:
        stored = json.loads(TABLES.read_text(), object_pairs_hook=_whole_number_keys)
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict) or stored.get("made_from") != made_from(grammar, starts):
        return None
    return lark.Lark._load_from_dict(stored["data"], stored["memo"], propagate_positions=positions)


def grammar_parser(grammar: str, starts, positions: bool = False) -> lark.Lark:
    """The LALR parser of ``grammar`` from its stored tables when they match, else built;
    with ``positions``, every tree knows where it starts."""
    return stored_parser(grammar, starts, positions) or lark.Lark(
        grammar, **_options(starts), propagate_positions=positions)
