"""Regenerate (or, with --check, verify) derive/document/grammar-tables.json.

The file holds the LALR tables of derive/document/grammar.lark, so that reading a document does
not compute them again (:mod:`derive.document.grammar_tables`).  Run this after editing the
grammar or changing the lark version; until then the parser is built as before, only slower,
and tests/test_grammar_tables.py fails.  lark numbers the states differently from run to run,
so --check compares what the tables were made from (grammar, options, lark), not their text.
"""

from __future__ import annotations

import sys

from derive.document.grammar_tables import TABLES, stored_parser, tables_text
from derive.document.parse import STARTS


def main(argv: list[str]) -> int:
    grammar = TABLES.with_name("grammar.lark").read_text()
    if argv == ["--check"]:
        if stored_parser(grammar, STARTS) is None:
            print(f"{TABLES} is stale: run python tools/grammar_tables.py", file=sys.stderr)
            return 1
        print(f"{TABLES.name} is up to date")
        return 0
    if argv:
        print("usage: python tools/grammar_tables.py [--check]", file=sys.stderr)
        return 2
    TABLES.write_text(tables_text(grammar, STARTS))
    print(f"wrote {TABLES}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
