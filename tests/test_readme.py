"""The README's promises: two commands, a current example, API lines that do what they say."""

import ast
import io
import re
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def command_after(marker: str) -> str:
    match = re.search(rf"<!-- {marker} -->\n```sh\n(.+)\n```", README)
    assert match, f"README.md has no {marker} block"
    return match.group(1)


def test_two_commands_install_and_run():
    assert command_after("run-command").endswith("pip install . && derive --classes 3")
    assert command_after("test-command").endswith(
        "pip install -c constraints.txt -e '.[test]' && python -m pytest"
    )


def test_ci_runs_the_readme_commands():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "readme_command test-command" in ci and "readme_command run-command" in ci


def test_example_output_is_current():
    process = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "readme_example.py"), "--check"],
        capture_output=True, text=True,
    )
    assert process.returncode == 0, process.stderr


NO_CLAIM = object()


def stated_value(comment: str):
    """The Python literal a comment states, alone or before ``: prose``; else NO_CLAIM.

    ``# 'proven'``, ``# ()``, ``# True: numerics agree`` and ``# (1, 2): a 1 x D Matrix``
    state a value; ``# a counterexample`` states none.
    """
    text = comment.lstrip("#").strip()
    for candidate in [text] + [text[:i] for i, char in enumerate(text) if char == ":"]:
        try:
            return ast.literal_eval(candidate.strip())
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            continue
    return NO_CLAIM


def library_snippet() -> str:
    (snippet,) = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    return snippet


def run_with_claims(snippet: str) -> tuple[dict, list[str]]:
    """Run the snippet statement by statement; check each line's stated value.

    The comment on a statement's last line states its value: an expression's
    value, or the value bound by ``name = ...``.  A shown expression with a
    comment that states no value is an error: the README would promise
    something that nothing checks.  Returns the namespace and the lines checked.
    """
    comments = {
        token.start[0]: token.string
        for token in tokenize.generate_tokens(io.StringIO(snippet).readline)
        if token.type == tokenize.COMMENT
    }
    lines = snippet.splitlines()
    namespace: dict = {}
    checked = []
    for statement in ast.parse(snippet).body:
        source = ast.get_source_segment(snippet, statement)
        where = f"README.md python block line {statement.lineno}: {source}"
        if isinstance(statement, ast.Expr):
            expression = compile(ast.Expression(statement.value), "README.md", "eval")
            value = eval(expression, namespace)  # our own README, not user input
        else:
            exec(compile(ast.Module([statement], []), "README.md", "exec"), namespace)
            names = [target.id for target in getattr(statement, "targets", []) if isinstance(target, ast.Name)]
            value = namespace[names[0]] if len(names) == 1 else NO_CLAIM
        comment = comments.get(statement.end_lineno)
        if comment is None:
            continue
        expected = stated_value(comment)
        if expected is NO_CLAIM:
            assert not isinstance(statement, ast.Expr), (
                f"{where}: the comment states no value; start it with a Python literal, "
                f"e.g. '# True: ...', so that the test can check it"
            )
            continue
        assert value is not NO_CLAIM, f"{where}: a stated value, but the line has none"
        assert value == expected, f"{where}: gives {value!r}, the comment says {expected!r}"
        checked.append(lines[statement.end_lineno - 1])
    return namespace, checked


# Claims in prose after a line's literal, and how each is checked.
PROSE = {
    "SymPy's own dL/dw_1, a 1 x D Matrix": lambda ns: (
        ns["d"].gradient(1).is_Matrix and ns["d"].gradient(1).shape == (1, len(ns["d"].x))
    ),
    "a counterexample per wrong entry": lambda ns: (
        all(isinstance(failure, ns["derive"].Counterexample) for failure in ns["wrong"].failures)
    ),
}


def test_library_snippet_does_what_its_comments_say():
    snippet = library_snippet()
    namespace, checked = run_with_claims(snippet)
    assert any("'proven'" in line for line in checked)
    assert len(checked) >= 4  # every shown result in the snippet states its value
    for phrase, holds in PROSE.items():
        assert phrase in snippet, f"the README no longer says {phrase!r}: update PROSE in {__file__}"
        assert holds(namespace), phrase


def test_comments_state_values_as_literals():
    assert stated_value("# 'proven'") == "proven"
    assert stated_value("# ()") == ()
    assert stated_value("# True") is True
    assert stated_value("# (1, 2): SymPy's own dL/dw_1, a 1 x D Matrix") == (1, 2)
    assert stated_value("# {'a': 1}: a dict") == {"a": 1}
    assert stated_value("# a counterexample") is NO_CLAIM
    assert stated_value("# note: prose") is NO_CLAIM


def test_a_wrong_stated_value_fails():
    with pytest.raises(AssertionError, match=r"gives 'proven', the comment says 'refuted'"):
        run_with_claims("status = 'proven'\nstatus  # 'refuted'\n")
    with pytest.raises(AssertionError, match="states no value"):
        run_with_claims("1 + 1  # two\n")
    namespace, checked = run_with_claims("x = ()  # ()\nx == ()  # True: prose\n")
    assert checked == ["x = ()  # ()", "x == ()  # True: prose"]


def test_the_interactive_examples_print_what_they_show(monkeypatch):
    """Each ```pycon block is a doctest, run from the repository root."""
    import doctest

    monkeypatch.chdir(ROOT)
    blocks = re.findall(r"```pycon\n(.*?)```", README, re.DOTALL)
    assert blocks, "README.md has no pycon block"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for number, block in enumerate(blocks):
        runner.run(doctest.DocTestParser().get_doctest(block, {}, f"README pycon {number}", "README.md", 0))
    assert runner.summarize(verbose=False).failed == 0
