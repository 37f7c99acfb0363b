"""The science imports no ``dask.distributed``: the one part of the "science stays pure"
contract that import-linter cannot state (it forbids only top-level external packages, and
``dask`` itself may serve the science through xarray), so it is checked here, on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import gep.algorithms

ROOT = Path(gep.algorithms.__file__).parent


def _imports(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    return names


def test_science_imports_no_dask_distributed() -> None:
    found = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in sorted(ROOT.rglob("*.py"))
        for name in _imports(ast.parse(path.read_text(), str(path)))
        if name == "dask.distributed" or name.startswith("dask.distributed.")
    ]
    assert not found, found


def test_the_check_sees_both_spellings() -> None:
    tree = ast.parse("import dask.distributed\nfrom dask import distributed\n")
    assert [n for n in _imports(tree) if n.startswith("dask.distributed")] == [
        "dask.distributed",
        "dask.distributed",
    ]
