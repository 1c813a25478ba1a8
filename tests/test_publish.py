"""`derive docs`: the pages say what was verified, reproducibly, written atomically."""

import contextlib
import io
import os
import re
import subprocess
import sys

import pytest

import derive
import derive.report.docs as publish
import derive.report.docs.atomic
import derive.report.docs.plots
from derive import catalog
from derive.cli import run
from derive.report.docs.atomic import write_files

PAGE = "softmax-cross-entropy"
NAMES = {
    f"{PAGE}.md",
    f"{PAGE}.html",
    "finite-difference-error.png",
    "softmax-and-gradient.png",
    "gradient-descent.png",
    "index.md",
    "index.html",
    "format.md",
    "format.html",
    *(f"{name}.{kind}" for name in catalog.names() if name != PAGE for kind in ("md", "html")),
}


@pytest.fixture(scope="module")
def files():
    return publish.build_docs(derive.softmax_cross_entropy(3, features=2, label=0))


def call(args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = run(args)
        except SystemExit as exit_:
            status = exit_.code
    return status, out.getvalue(), err.getvalue()


def snapshot(folder):
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_builds_markdown_html_and_three_plots(files):
    assert set(files) == NAMES
    assert all(files[name].startswith(b"\x89PNG") for name in NAMES if name.endswith(".png"))


def test_same_arguments_give_the_same_bytes(files):
    assert publish.build_docs(derive.softmax_cross_entropy(3, features=2, label=0)) == files


def test_markdown_says_what_was_verified(files):
    text = files[f"{PAGE}.md"].decode()
    assert "Verdict: **proven** (3 of 3 rows, 14 of 14 steps, 1 of 1 facts proven)." in text
    for prose in ("**Chain rule.**", "**Quotient rule**", "**Rows sum to zero.**"):
        assert prose in text  # each step carries the document's own prose
    assert text.count("**proven** (every D, K, every y") == 14
    assert "```math\n\\frac{\\partial L}{\\partial w_{0}} = \\left(p_{0} - 1\\right) x^{T}\n```" in text
    assert "| method | points | max relative error | tolerance | result |" in text
    assert "FAILED" not in text
    for plot in ("finite-difference-error.png", "softmax-and-gradient.png", "gradient-descent.png"):
        assert f"]({plot})" in text
    assert not re.search(r"20\d\d-\d\d-\d\d", text)  # no timestamps


def test_html_is_self_contained_mathml(files):
    page = files[f"{PAGE}.html"].decode()
    markdown = files[f"{PAGE}.md"].decode()
    assert page.count('display="block"') == markdown.count("```math")
    assert "<script" not in page and "<link" not in page
    addresses = set(re.findall(r"https?://[^\s\"'<>]+", page))
    assert addresses <= {"http://www.w3.org/1998/Math/MathML"}
    assert page.count('src="data:image/png;base64,') == 3


def test_cli_writes_files_and_a_second_run_changes_nothing(tmp_path):
    status, out, err = call(["docs", "--out", str(tmp_path / "docs"), "--classes", "2", "--features", "1"])
    assert (status, err) == (0, "")
    assert {line.rsplit("/", 1)[1] for line in out.splitlines()} == NAMES
    first = snapshot(tmp_path / "docs")
    call(["docs", "--out", str(tmp_path / "docs"), "--classes", "2", "--features", "1"])
    assert snapshot(tmp_path / "docs") == first


def test_a_fresh_process_gives_the_same_bytes(tmp_path, files):
    subprocess.run(
        [sys.executable, "-m", "derive", "docs", "--out", str(tmp_path)], check=True, capture_output=True
    )
    assert snapshot(tmp_path) == files


@pytest.fixture
def old_docs(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in NAMES:
        (folder / name).write_bytes(b"old " + name.encode())
    (folder / "unrelated.txt").write_bytes(b"keep me")
    return folder


def test_error_while_rendering_leaves_old_files(monkeypatch, old_docs):
    before = snapshot(old_docs)

    def broken(derivation):
        raise RuntimeError("plot exploded")

    monkeypatch.setattr(derive.report.docs.plots, "descent_plot", broken)
    status, out, err = call(["docs", "--out", str(old_docs)])
    assert status == 3 and out == ""
    assert err == f"derive docs: error: nothing written to {old_docs}: plot exploded\n"
    assert snapshot(old_docs) == before


def test_error_while_renaming_restores_every_old_file(monkeypatch, old_docs):
    before = snapshot(old_docs)
    real_replace, calls = os.replace, []

    def failing_replace(source, target):
        calls.append(target)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        real_replace(source, target)

    monkeypatch.setattr(publish.atomic.os, "replace", failing_replace)
    with pytest.raises(OSError):
        write_files(old_docs, {name: b"new" for name in sorted(NAMES)} | {"brand-new.txt": b"x"})
    monkeypatch.setattr(publish.atomic.os, "replace", real_replace)
    assert snapshot(old_docs) == before  # byte for byte, no stray temporaries, no new file


def test_error_while_writing_a_temporary_leaves_no_trace(monkeypatch, old_docs):
    before = snapshot(old_docs)
    real_fsync, calls = os.fsync, []

    def failing_fsync(descriptor):
        calls.append(descriptor)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_fsync(descriptor)

    monkeypatch.setattr(publish.atomic.os, "fsync", failing_fsync)
    status, _, err = call(["docs", "--out", str(old_docs), "--classes", "2"])
    assert status == 3 and err.endswith(": No space left on device\n")
    assert snapshot(old_docs) == before


def test_unwritable_target_is_one_line_and_exit_3(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    status, _, err = call(["docs", "--out", str(blocker / "docs")])
    assert status == 3
    assert err == f"derive docs: error: nothing written to {blocker / 'docs'}: Not a directory\n"


def test_written_files_get_ordinary_permissions(tmp_path):
    (path,) = write_files(tmp_path, {"a.txt": b"A"})
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize(
    "args, message",
    [
        (["docs", "--classes", "1"], "classes must be between 2 and 1000, got 1"),
        (["docs", "--label", "5"], "label must be between 0 and 2 (0-based), got 5"),
        (["docs", "--features", "x"], "expected an integer, got 'x'"),
        (["docs", "--out"], "expected one argument"),
        (["docs", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_docs_bad_input_exits_2(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, out, err = call(args)
    assert status == 2 and out == ""
    assert err.startswith("derive docs: error: ") and err.count("\n") == 1
    assert message in err
    assert not (tmp_path / "docs").exists()


def test_docs_help():
    status, out, _ = call(["docs", "--help"])
    assert status == 0 and "--out" in out and "not written" in out
