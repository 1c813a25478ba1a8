"""``derive check --format sarif``: a SARIF 2.1.0 log whose results GitHub code scanning puts on
the line: a stable ruleId per kind of finding, the step's location, the counterexample and the
named mistake in the message.

The official schema (112 KB, OASIS) is not vendored: the fields it requires of what derive
writes, and the ones code scanning reads, are checked here one by one."""

import json
import re

import pytest

from derive import __version__
from derive.document.collect import Outcome
from derive.report.sarif import RULES, SARIF_SCHEMA, sarif_log
from test_check_dir import NO_STEPS, PROVEN, README, REFUTED, UNPROVEN, UNREADABLE
from test_cli import call

TWO_WRONG = PROVEN.replace("3 a^2", "6 a^2") + "\n$$ \\frac{\\partial^2 f}{\\partial a^2} = a $$\n"


@pytest.fixture
def log(tmp_path, monkeypatch):
    """The SARIF log of a folder with each kind of document, and its exit status."""
    folder = tmp_path / "notes"
    folder.mkdir()
    for name, text in (("README.md", README), ("proven.md", PROVEN), ("refuted.md", REFUTED),
                       ("two wrong.md", TWO_WRONG), ("unproven.md", UNPROVEN), ("unreadable.md", UNREADABLE),
                       ("no-steps.md", NO_STEPS)):
        (folder / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    status, out, err = call(["check", "notes", "--format", "sarif"])
    assert err == ""
    return status, json.loads(out)


def results_of(data, uri):
    return [r for r in data["runs"][0]["results"]
            if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == uri]


def test_the_log_has_what_sarif_2_1_0_requires(log):
    status, data = log
    assert status == 2  # an unreadable document: the log is still complete
    assert data["version"] == "2.1.0" and data["$schema"] == SARIF_SCHEMA
    (run,) = data["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "derive" and driver["version"] == __version__
    assert [rule["id"] for rule in driver["rules"]] == [
        "derive/refuted-step", "derive/unproven-step", "derive/unreadable-document"]
    for rule in driver["rules"]:
        assert re.fullmatch(r"[A-Z][A-Za-z]+", rule["name"]) and rule["shortDescription"]["text"]
        assert rule["defaultConfiguration"]["level"] in ("error", "warning")
    for result in run["results"]:
        assert set(result) >= {"ruleId", "ruleIndex", "level", "message", "locations"}
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] == driver["rules"][result["ruleIndex"]]["defaultConfiguration"]["level"]
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        artifact = physical["artifactLocation"]
        assert artifact["uriBaseId"] == "%SRCROOT%" and artifact["uri"].startswith("notes/")
        assert run["artifacts"][artifact["index"]]["location"]["uri"] == artifact["uri"]
        assert physical["region"]["startLine"] >= 1 and physical["region"]["startColumn"] >= 1
        assert result["message"]["text"]


def test_a_refuted_step_is_an_error_on_its_line_with_the_counterexample_and_mistake(log):
    _, data = log
    (result,) = results_of(data, "notes/refuted.md")
    column = REFUTED.splitlines()[4].index("=") + 1
    assert (result["ruleId"], result["level"]) == ("derive/refuted-step", "error")
    assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": 5, "startColumn": column}
    text = result["message"]["text"]
    assert text.startswith(r"Step 1 of 1 is refuted: \frac{\partial f}{\partial a} = 6 a^{2}, where a = ")
    assert "true value" in text and "claimed" in text and "(a factor of 1/2 is missing)" in text
    properties = result["properties"]
    assert set(properties) >= {"mistake", "point", "true_value", "claimed_value", "instance"}
    assert list(properties["point"]) == ["a"]


def test_each_refuted_step_is_a_result_the_later_ones_say_so(log):
    _, data = log
    first, second = results_of(data, "notes/two%20wrong.md")  # a space, percent-encoded
    assert "after the first wrong step" not in first["message"]["text"]
    assert "after the first wrong step at line 5" in second["message"]["text"]
    assert second["locations"][0]["physicalLocation"]["region"]["startLine"] == 7


def test_an_unproven_step_is_a_warning_with_its_reason(log):
    _, data = log
    (result,) = results_of(data, "notes/unproven.md")
    assert (result["ruleId"], result["level"]) == ("derive/unproven-step", "warning")
    assert result["message"]["text"].endswith("(only equalities are checked)")
    assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": 5, "startColumn": 6}


def test_display_math_without_a_step_is_an_unproven_warning_at_the_first_line(log):
    _, data = log
    (result,) = results_of(data, "notes/no-steps.md")
    assert result["ruleId"] == "derive/unproven-step" and "no step to check" in result["message"]["text"]
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 1


def test_an_unreadable_document_is_an_error_at_its_line_and_column(log):
    _, data = log
    (result,) = results_of(data, "notes/unreadable.md")
    assert (result["ruleId"], result["level"]) == ("derive/unreadable-document", "error")
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 5
    assert result["message"]["text"].startswith("notes/unreadable.md cannot be read: ")


def test_proven_and_skipped_documents_have_no_result_but_are_listed(log):
    _, data = log
    assert results_of(data, "notes/proven.md") == results_of(data, "notes/README.md") == []
    listed = {a["location"]["uri"]: a["properties"]["status"] for a in data["runs"][0]["artifacts"]}
    assert listed == {"notes/README.md": "skipped", "notes/no-steps.md": "unproven",
                      "notes/proven.md": "proven", "notes/refuted.md": "refuted",
                      "notes/two%20wrong.md": "refuted", "notes/unproven.md": "unproven",
                      "notes/unreadable.md": "unreadable"}


def test_one_unreadable_file_is_a_sarif_log_too_not_an_error_message(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.md").write_text(UNREADABLE)
    status, out, err = call(["check", "bad.md", "--format", "sarif"])
    assert (status, err) == (2, "")
    assert json.loads(out)["runs"][0]["results"][0]["ruleId"] == "derive/unreadable-document"


def test_a_proven_file_gives_an_empty_result_list_and_exit_0(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "proven.md").write_text(PROVEN)
    status, out, _ = call(["check", "proven.md", "--format", "sarif"])
    assert status == 0 and json.loads(out)["runs"][0]["results"] == []


def test_paths_outside_the_working_directory_are_file_uris(tmp_path):
    outside = tmp_path / "proven.md"
    data = sarif_log([Outcome(str(outside), skipped="no derivation")], root=tmp_path / "elsewhere")
    assert data["runs"][0]["artifacts"][0]["location"] == {"uri": outside.as_uri()}


def test_rule_ids_are_stable():
    # code scanning keys its alerts by ruleId: renaming one reopens every alert
    assert [rule[0] for rule in RULES] == [
        "derive/refuted-step", "derive/unproven-step", "derive/unreadable-document"]


def test_a_missing_file_is_an_unreadable_result_at_line_1(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "proven.md").write_text(PROVEN)
    status, out, _ = call(["check", "proven.md", "nope.md", "--format", "sarif"])
    (result,) = json.loads(out)["runs"][0]["results"]
    assert status == 2 and result["message"]["text"] == "nope.md cannot be read: no such file"
    assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": 1, "startColumn": 1}
