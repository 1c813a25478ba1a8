"""The pytest plugin (derive/pytest_plugin.py): derivation documents as test items, opt-in.

Each test runs an inner pytest in a fresh folder (``pytester``, in-process: the plugin is
registered there through its ``pytest11`` entry point, as in a user's project).
"""

import json
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import pytest

import derive.document.collect
from derive.document.check import TIME_LIMIT

pytest_plugins = ["pytester"]

DECLARED = "# Cube\n\nLet $a \\in \\mathbb{R}$.\n\n$$ f = a^3 $$\n"
PROVEN = DECLARED + "$$ \\frac{\\partial f}{\\partial a} = 3 a^2 $$\n"
REFUTED = DECLARED + "$$ \\frac{\\partial f}{\\partial a} = 6 a^2 $$\n"  # line 6, column 34
UNPROVEN = DECLARED + "\n$$ 0 \\le f^2 $$\n"  # line 7: only equalities are checked
UNREADABLE = DECLARED.replace("a^3 $$", "a^3 + \\foo $$")  # line 5, column 14
PROSE = "# Notes\n\nNo display math here, so no derivation.\n"
A_TEST = "def test_something():\n    assert True\n"


def documents(pytester, **texts):
    """Write each ``name=text`` as ``name.md`` (``__`` in a name is a folder)."""
    for name, text in texts.items():
        path = pytester.path / f"{name.replace('__', '/')}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


# --- opt-in ---------------------------------------------------------------------------------

def test_without_configuration_nothing_is_collected(pytester):
    documents(pytester, good=PROVEN, bad=REFUTED)
    pytester.makepyfile(test_it=A_TEST)
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*derivation*")
    result.stdout.no_fnmatch_line("derive:*")


def test_importing_the_plugin_loads_nothing_heavy():
    probe = ("import sys, json, derive.pytest_plugin\n"
             "print(json.dumps([m for m in ('sympy', 'lark', 'numpy', 'mpmath', 'derive.document') "
             "if m in sys.modules]))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(loaded.stdout) == []


@pytest.mark.parametrize("ini", ["", "derive_documents = notes/*.md\n"])
def test_a_run_that_checks_no_document_loads_neither_sympy_nor_lark(pytester, ini):
    documents(pytester, notes__good=PROVEN)
    pytester.makeini(f"[pytest]\n{ini}")
    pytester.makepyfile(test_light="import sys\n\ndef test_light():\n"
                                   "    assert not {'sympy', 'lark'} & set(sys.modules)\n")
    pytester.runpytest_subprocess("test_light.py").assert_outcomes(passed=1)


def test_the_options_are_in_pytest_help(pytester):
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*--derive=PATH_OR_GLOB*", "*derive_documents (args)*",
                                 "*derive_time_limit (string)*", f"*(default {TIME_LIMIT:g})"])


# --- each outcome ---------------------------------------------------------------------------

def test_a_proven_document_passes_as_one_item(pytester):
    documents(pytester, good=PROVEN)
    result = pytester.runpytest("--derive", "good.md", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["derive: checking 1 of the 1 derivation document named*",
                                 "good.md::derivation PASSED*"])


def test_a_refuted_document_fails_at_its_first_wrong_step(pytester):
    documents(pytester, bad=REFUTED)
    result = pytester.runpytest("--derive", "bad.md", "-vv")  # -vv: the summary line in full
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*_ derivation bad.md _*",
        "bad.md: refuted, 1 step: 1 refuted",
        "first wrong step: bad.md:6:34",
        "  where a = *",
        "    true value: *",
        "    claimed value: *",
        "  this step would hold with * (a factor of 1/2 is missing)",
        "FAILED bad.md::derivation - bad.md:6:34: refuted: step 1 of 1, "
        "\\frac{\\partial f}{\\partial a} = 6 a^{2}: where a = *; this step would hold with *",
    ])
    result.stdout.no_fnmatch_line("*Traceback*")


def test_an_unproven_document_fails_saying_why(pytester):
    documents(pytester, open=UNPROVEN)
    result = pytester.runpytest("--derive", "open.md", "-vv")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "open.md: unproven, 1 step: 1 unproven",
        "     7:6   unproven  0 \\le f^{2}  (only equalities are checked)",
        "FAILED open.md::derivation - open.md:7:6: unproven: step 1 of 1, 0 \\le f^{2}: "
        "only equalities are checked",
    ])


def test_an_unreadable_document_fails_at_its_line_and_column_without_a_traceback(pytester):
    documents(pytester, broken=UNREADABLE)
    result = pytester.runpytest("--derive", "broken.md", "-vv")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "broken.md:5:14: unknown command `\\foo`*",
        "    $$ f = a^3 + \\foo $$",
        "                 ^",
        "FAILED broken.md::derivation - broken.md:5:14: unreadable: unknown command `\\foo`*",
    ])
    result.stdout.no_fnmatch_line("*Traceback*")
    result.stdout.no_fnmatch_line("*derive/document/*")


def test_a_markdown_file_without_display_math_is_skipped_at_the_file(pytester):
    documents(pytester, README=PROSE)
    result = pytester.runpytest("--derive", "README.md", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED [1] README.md:1: no derivation (no display equations)"])


def test_junit_xml_gets_the_one_line_message(pytester):
    documents(pytester, bad=REFUTED)
    pytester.runpytest("--derive", "bad.md", "--junitxml=report.xml")
    failure = ElementTree.parse(pytester.path / "report.xml").find(".//testcase/failure")
    assert failure.get("message").startswith("bad.md:6:34: refuted: step 1 of 1")
    assert "first wrong step: bad.md:6:34" in failure.text


# --- which documents a run checks -----------------------------------------------------------

def test_derive_documents_globs_are_checked_by_a_plain_run_besides_the_tests(pytester):
    documents(pytester, notes__good=PROVEN, notes__deep__bad=REFUTED, notes__skip=PROVEN)
    pytester.makeini("[pytest]\ntestpaths = tests\nderive_documents = notes/*.md notes/**/bad.md\n")
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "test_it.py").write_text(A_TEST)
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["derive: checking 3 of the 3 derivation documents named*"])
    assert {"notes/good.md::derivation PASSED", "notes/deep/bad.md::derivation FAILED"} <= {
        line.split(" [")[0].strip() for line in result.stdout.lines}


def test_derive_documents_as_a_list_in_pyproject_toml(pytester):
    documents(pytester, notes__good=PROVEN, notes__bad=REFUTED)
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\nderive_documents = ["notes/good.md", "notes/bad.md"]\n'
                               'derive_time_limit = "5"\n')
    pytester.runpytest().assert_outcomes(passed=1, failed=1)


def test_a_run_given_paths_checks_only_the_documents_under_them(pytester):
    documents(pytester, notes__good=PROVEN, other__bad=REFUTED)
    pytester.makeini("[pytest]\nderive_documents = notes/*.md other/*.md\n")
    pytester.makepyfile(test_it=A_TEST)
    only_the_test = pytester.runpytest("test_it.py")
    only_the_test.assert_outcomes(passed=1)
    only_the_test.stdout.fnmatch_lines(["derive: checking 0 of the 2 derivation documents named*"])
    pytester.runpytest("notes").assert_outcomes(passed=1)


def test_a_document_both_walked_and_named_is_checked_once(pytester):
    documents(pytester, notes__good=PROVEN)
    pytester.makeini("[pytest]\ntestpaths = notes\nderive_documents = notes/*.md\n")
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=1)


def test_the_flag_checks_only_its_documents_when_no_path_is_given(pytester):
    documents(pytester, notes__a=PROVEN, notes__b=REFUTED, notes__c=PROSE)
    pytester.makepyfile(test_it=A_TEST)
    pytester.runpytest("--derive", "notes/a.md").assert_outcomes(passed=1)
    pytester.runpytest("--derive", "notes").assert_outcomes(passed=1, failed=1, skipped=1)
    pytester.runpytest("--derive", "notes/[ab].md").assert_outcomes(passed=1, failed=1)
    pytester.runpytest("--derive", "notes/a.md", "--derive", "notes/b.md").assert_outcomes(passed=1, failed=1)
    pytester.runpytest("test_it.py", "--derive", "notes/a.md").assert_outcomes(passed=2)

@pytest.mark.parametrize("option, expected", [
    (["--derive", "nowhere/*.md"], "*--derive nowhere/*.md: no file or folder matches it*"),
    (["--derive", "empty"], "*--derive empty: empty is a folder with no Markdown document (*.md) under it*"),
    (["-o", "derive_documents=missing.md"], "*derive_documents missing.md: no file or folder matches it*"),
    (["--derive", "good.md", "-o", "derive_time_limit=soon"],
     "*derive_time_limit = soon: expected a positive number of seconds*"),
    (["--derive", "good.md", "-o", "derive_time_limit=-1"], "*derive_time_limit = -1: expected a positive*"),
])
def test_a_name_that_matches_nothing_or_a_bad_time_limit_is_a_usage_error(pytester, option, expected):
    documents(pytester, good=PROVEN)
    (pytester.path / "empty").mkdir()
    result = pytester.runpytest(*option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([expected])


def test_the_time_limit_reaches_the_checker(pytester, monkeypatch):
    documents(pytester, good=PROVEN)
    seen = []
    check_one = derive.document.collect.check_one

    def spy(path, *, time_limit, **options):
        seen.append(time_limit)
        return check_one(path, time_limit=time_limit, **options)

    monkeypatch.setattr(derive.document.collect, "check_one", spy)
    pytester.runpytest("--derive", "good.md", "-o", "derive_time_limit=2.5").assert_outcomes(passed=1)
    pytester.runpytest("--derive", "good.md").assert_outcomes(passed=1)
    assert seen == [2.5, TIME_LIMIT]
