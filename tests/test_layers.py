"""The package's layers: imports point one way, so no cycle can form.

From the bottom up: ``core`` (the loss-agnostic verifier) < ``proof`` (steps and derivations)
< ``document`` (derivation documents: grammar, declarations, checker) < ``catalog`` (the shipped
documents) < ``losses`` < ``oracle`` (a batch loss's gradient proven for every size, evaluated
at any size) < ``implementation`` (judging a user's code) < ``report`` (printing, pages) < the front door (``cli``, ``testing``, the package
itself).  A module may import its own layer or a lower one.  The one exception is a presentation
method (``__str__``, ``__repr__``, ``_repr_html_``, ``_repr_latex_``, ``to_latex``) delegating to
``report`` from inside a function, as SymPy's objects do with its printers; those are listed here
by name.  ``checks`` (the numeric
cross-checks) sits beside ``derive`` and imports none of it, so ``derive.report`` may use it.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["derive.core", "derive.proof", "derive.document", "derive.catalog", "derive.losses",
          "derive.oracle", "derive.implementation", "derive.report"]
TOP = len(LAYERS)  # derive/__init__.py, cli.py, __main__.py, testing.py, _version.py

#: (importing module, imported module): function-level delegations to printing.
PRESENTATION = {
    ("derive.proof.step", "derive.report.latex"),
    ("derive.losses.softmax.derivation", "derive.report.latex"),
    *((f"derive.{module}", "derive.report.notebook") for module in (
        "core.display", "document.check", "losses.softmax.derivation")),
    ("derive.document.check", "derive.report.document"),
    ("derive.implementation.check", "derive.report.implementation"),
    ("derive.implementation.lm.check", "derive.report.lm"),
    ("derive.implementation.lm.accumulation", "derive.report.accumulation"),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer(module: str) -> int:
    if module == "derive._version":
        return -1  # below everything: anyone may read the version
    for rank, prefix in enumerate(LAYERS):
        if module == prefix or module.startswith(prefix + "."):
            return rank
    return TOP


def imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported module, line, at module level) for every import of derive or checks."""
    tree = ast.parse(path.read_text(), str(path))
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            if name.split(".")[0] in ("derive", "checks"):
                found.append((name, node.lineno, id(node) in top_level))
    return found


def known_module(name: str) -> str | None:
    """The module (not attribute) that an imported dotted name refers to."""
    while name:
        path = ROOT / Path(*name.split("."))
        if path.with_suffix(".py").exists() or (path / "__init__.py").exists():
            return name
        name = name.rpartition(".")[0]
    return None


SOURCES = sorted((ROOT / "derive").rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: module_name(p))
def test_imports_point_down_the_layers(path):
    importer = module_name(path)
    for name, line, _ in imports(path):
        imported = known_module(name)
        if imported is None or not imported.startswith("derive"):
            continue
        if (importer, imported) in PRESENTATION:
            continue
        if imported == "derive" and layer(importer) == TOP:
            continue
        assert layer(imported) <= layer(importer), (
            f"{importer} (line {line}) imports {imported}, a higher layer: "
            f"the order is {' < '.join(LAYERS)} < the front door"
        )


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: module_name(p))
def test_presentation_delegations_happen_inside_functions(path):
    importer = module_name(path)
    for name, line, top_level in imports(path):
        if (importer, known_module(name)) in PRESENTATION:
            assert not top_level, f"{importer} line {line}: a module-level import would form a cycle"


@pytest.mark.parametrize("path", sorted((ROOT / "checks").rglob("*.py")), ids=lambda p: module_name(p))
def test_checks_import_nothing_of_derive(path):
    for name, line, _ in imports(path):
        assert not name.startswith("derive"), f"{module_name(path)} line {line} imports {name}"


def test_the_checker_catches_an_upward_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from derive.losses.softmax import model\n")
    (name, line, top_level), *_ = imports(bad)
    assert layer(known_module(name)) > layer("derive.core.verifier")
    assert (line, top_level) == (2, False)
