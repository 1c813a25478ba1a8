"""The grammar's stored LALR tables: current, read as the built parser reads, and never trusted
when they were made from something else (then the parser is built, as before)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import derive.document.grammar_tables as grammar_tables
import derive.document.parse as parse_module
from derive.document.declare import read_document
from derive.document.grammar_tables import grammar_parser, stored_parser
from derive.document.parse import STARTS, parse_equations, shadowing_grammar
from derive.document.source import DocumentError, Source, read_source

ROOT = Path(__file__).resolve().parent.parent
CATALOG = sorted((ROOT / "derive" / "catalog").glob("*.md"))
GRAMMAR = parse_module._GRAMMAR
#: Math the parser refuses, each at its own place: a bad token, a missing brace, an early end,
#: and two the grammar reads but the format refuses, placed by a second reading with positions.
REFUSED = [r"a = b +* c", r"a = \frac{b}{c", r"f = \sum_k", r"a = x_1_2", r"a = b + (c < d)"]


@pytest.fixture
def built_parser(monkeypatch):
    """Every parse by a parser built from the grammar, as without stored tables."""
    monkeypatch.setattr(grammar_tables, "TABLES", Path("/nonexistent/grammar-tables.json"))
    parse_module._parser.cache_clear()
    yield
    parse_module._parser.cache_clear()


def _readings():
    """What each catalog document reads (its steps, definitions, declarations), and the error
    each refused formula gives."""
    documents = [read_document(read_source(path)) for path in CATALOG]
    read = [(d.steps, d.definitions, d.reading) for d in documents]
    errors = []
    for latex in REFUSED:
        with pytest.raises(DocumentError) as caught:
            parse_equations(latex)
        errors.append(str(caught.value))
    return read, errors


def test_the_stored_tables_are_current():
    assert stored_parser(GRAMMAR, STARTS) is not None, "run: python tools/grammar_tables.py"
    done = subprocess.run([sys.executable, "tools/grammar_tables.py", "--check"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_stored_tables_read_every_document_as_the_built_parser(request):
    parse_module._parser.cache_clear()
    stored = _readings()
    assert parse_module._parser.cache_info().currsize == 2  # the reading with positions too
    request.getfixturevalue("built_parser")
    assert _readings() == stored
    assert len(stored[0]) == len(CATALOG) and all(steps for steps, _, _ in stored[0])
    assert len(set(stored[1])) == len(REFUSED)


@pytest.mark.parametrize("positions", [False, True])
def test_the_parser_comes_from_the_stored_tables(positions):
    parser = stored_parser(GRAMMAR, STARTS, positions)
    assert parser is not None and parser.options.propagate_positions is positions
    tree = parser.parse("a = b", start="equations")
    assert tree.data == "equations"
    assert hasattr(tree.meta, "line") is positions


def test_tables_made_from_another_grammar_are_not_used(tmp_path, monkeypatch):
    shadowed = shadowing_grammar(frozenset({"sigma"}))
    assert stored_parser(shadowed, STARTS) is None  # a document's own \sigma: built
    assert stored_parser(GRAMMAR, ("equations",)) is None
    stale = tmp_path / "grammar-tables.json"
    stored = json.loads(grammar_tables.TABLES.read_text())
    stored["made_from"]["lark"] = "0.0.0"
    stale.write_text(json.dumps(stored))
    monkeypatch.setattr(grammar_tables, "TABLES", stale)
    assert stored_parser(GRAMMAR, STARTS) is None
    assert grammar_parser(GRAMMAR, STARTS).parse("a = b", start="equations").data == "equations"


@pytest.mark.parametrize("content", [None, "", "{not json", "[]", '{"made_from": 1}'])
def test_missing_or_unreadable_tables_build_the_parser(tmp_path, monkeypatch, content):
    path = tmp_path / "grammar-tables.json"
    if content is not None:
        path.write_text(content)
    monkeypatch.setattr(grammar_tables, "TABLES", path)
    assert stored_parser(GRAMMAR, STARTS) is None
    assert grammar_parser(GRAMMAR, STARTS, positions=True).parse("a = b", start="equations").meta.line == 1


def test_tables_name_what_they_were_made_from(monkeypatch):
    first = grammar_tables.made_from(GRAMMAR, STARTS)
    assert first == json.loads(grammar_tables.TABLES.read_text())["made_from"]
    assert first == grammar_tables.made_from(GRAMMAR, list(STARTS))
    assert first != grammar_tables.made_from(GRAMMAR + "\n", STARTS)
    assert first != grammar_tables.made_from(GRAMMAR, tuple(reversed(STARTS)))
    monkeypatch.setattr(grammar_tables.lark, "__version__", "0.0.0")
    assert first != grammar_tables.made_from(GRAMMAR, STARTS)


def test_only_tables_of_whole_numbers_get_int_keys():
    assert grammar_tables._whole_number_keys([("0", "a"), ("12", "b")]) == {0: "a", 12: "b"}
    assert grammar_tables._whole_number_keys([("0", "a"), ("name", "b")]) == {"0": "a", "name": "b"}
    assert grammar_tables._whole_number_keys([]) == {}


def test_a_document_is_read_alike_with_built_tables(built_parser):
    document = read_document(Source("Let $x \\in \\mathbb{R}$.\n\n$$ f = x^2 $$\n"
                                    "$$ \\frac{\\partial f}{\\partial x} = 2 x $$\n", "doc.md"))
    assert [step.equation.source for step in document.steps] == ["$$ \\frac{\\partial f}{\\partial x} = 2 x $$"]
