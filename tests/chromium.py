"""Headless Chromium for the browser tests: find it, run it, measure a page laid out in it.

Without a browser the browser tests skip locally, but fail when ``CI`` is set: CI never skips
them silently (``.ci/run`` installs Debian's ``chromium``).  :func:`required_program` does the
same for any program a test needs (the LaTeX tests' ``pdflatex``).
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

#: Flags of every Chromium run: headless, and nothing fetched or synced in the background.
#: Each run also gets a new empty ``--user-data-dir``.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
#: Seconds one Chromium run may take (a run takes about two seconds).
CHROMIUM_TIMEOUT = 120


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def required_program(names: tuple[str, ...], package: str, purpose: str) -> str:
    """The path of the first of ``names`` on PATH; skip without one, except in CI, where
    that is a failure (``.ci/run`` installs Debian's ``package``)."""
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    reason = f"no {' or '.join(names)} on PATH (Debian: apt-get install {package})"
    if in_ci():
        pytest.fail(f"CI must {purpose}, but there is {reason}", pytrace=False)
    pytest.skip(reason)


def browser_path() -> str:
    """The path of Chromium (see :func:`required_program`)."""
    return required_program(("chromium", "chromium-browser"), "chromium", "run the browser tests")


def run_chromium(browser: str, workdir: Path, *args: str) -> subprocess.CompletedProcess:
    """Run Chromium with CHROMIUM_FLAGS, a new empty profile in ``workdir`` and ``args``."""
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=workdir)
    command = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
    # A session of its own, so that a run past its time is ended with all its processes.
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=CHROMIUM_TIMEOUT)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"chromium ran past {CHROMIUM_TIMEOUT} s: {command}")
    # stderr always has noise (no D-Bus here); show its end only when the run failed.
    assert process.returncode == 0, f"{command} exited {process.returncode}:\n{stderr[-3000:]}"
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def measure(browser: str, page: Path, script: str, workdir: Path) -> dict:
    """What ``script`` found in ``page`` laid out in a 1200 x 2000 window.

    A copy of the page, beside it (so that it loads as the page itself would), gets ``script``
    before ``</body>``; on load the script writes its numbers as JSON into a
    ``<pre id="measurements">``, which ``--dump-dom`` prints.
    """
    text = page.read_text(encoding="utf-8")
    assert text.count("</body>") == 1, page
    measured = page.with_name(f"measured-{page.name}")
    measured.write_text(text.replace("</body>", script + "</body>"), encoding="utf-8")
    result = run_chromium(browser, workdir, "--window-size=1200,2000", "--dump-dom", measured.as_uri())
    found = re.search(r'<pre id="measurements">(.*?)</pre>', result.stdout, re.DOTALL)
    assert found, f"no measurements in the dumped DOM of {page.name}:\n{result.stdout[-2000:]}"
    return json.loads(html.unescape(found.group(1)))
