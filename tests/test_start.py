"""``import derive`` loads what a command needs, not the whole package (``derive/__init__.py``
resolves its names on first use)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import derive

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("numpy", "lark", "derive.document", "derive.implementation", "derive.oracle", "torch")


def loaded_after(code: str) -> list[str]:
    """The HEAVY modules a fresh interpreter has loaded after running ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                            text=True, check=True)
    return json.loads(result.stdout.splitlines()[-1])


def test_import_derive_loads_none_of_the_heavy_parts():
    assert loaded_after("import derive") == []


def test_the_main_command_loads_none_of_them_either():
    code = "from derive.cli import run\nimport contextlib, io\n" \
           "with contextlib.redirect_stdout(io.StringIO()): run(['--classes', '2'])"
    assert loaded_after(code) == []


def test_a_name_loads_its_module_on_first_use():
    assert {"lark", "derive.document"} <= set(loaded_after("import derive\nderive.check_document"))
    assert "derive.implementation" in loaded_after("import derive\nderive.check_implementation")


@pytest.mark.parametrize("name", derive.__all__)
def test_every_public_name_resolves(name):
    assert getattr(derive, name) is not None


def test_star_import_and_dir_list_the_public_names():
    namespace: dict = {}
    exec("from derive import *", namespace)
    assert set(derive.__all__) <= set(namespace)
    assert dir(derive) == derive.__all__


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="module 'derive' has no attribute 'nope'"):
        derive.nope  # noqa: B018


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["check", "--help"], ["list", "--help"],
                                  ["docs", "--help"], ["check-impl", "--help"]])
def test_help_and_version_load_no_sympy(argv):
    code = ("from derive.cli import run\nimport contextlib, io\n"
            f"with contextlib.redirect_stdout(io.StringIO()): run({argv!r})\n"
            "import sys\nassert 'sympy' not in sys.modules, 'sympy loaded'")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
