"""The package's floor plan (issue 24): stage packages whose imports run one way, from ``serve`` down to
``ingest`` and ``embed``, modules of a readable size, and a wheel that carries every package."""
from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from .conftest import ROOT

PACKAGE = ROOT / "qa"
# Each stage may import its own modules and those of stages below it, never one above.
RANK = {"types": 0, "errors": 0, "ingest": 1, "embed": 1, "store": 2, "answer": 3, "bot": 4, "evaluate": 5, "serve": 6,
        "__init__": 7, "__main__": 7}
MAX_LINES = 420


def _stage(module: str) -> str:
    """"qa.store.faiss" → "store"; "qa" → "__init__"."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.split(".")[0] == "qa":
            found += [node.module] if node.module != "qa" else [f"qa.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "qa"]
    return found


def _module(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 2 else parts)


def test_imports_run_one_way_from_serve_down_to_ingest_and_embed():
    upward = []
    for path in PACKAGE.rglob("*.py"):
        here = _module(path)
        mine = _stage(here) if path.parent != PACKAGE else path.stem
        for target in _imports(path):
            theirs = _stage(target)
            if theirs != mine and RANK[theirs] >= RANK[mine] and not (RANK[theirs] == RANK[mine] == 1):
                upward.append(f"{here} imports {target}")
            if {mine, theirs} == {"ingest", "embed"}:
                upward.append(f"{here} imports {target} (ingest and embed are independent)")
    assert not upward, upward


def test_every_module_is_of_a_readable_size_and_every_stage_says_what_it_does():
    long = [f"{p.relative_to(ROOT)}: {n}" for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_LINES]
    assert not long, long
    stages = [p for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()]
    assert {p.name for p in stages} >= {"ingest", "embed", "store", "answer", "serve", "evaluate"}
    for stage in stages:
        doc = ast.get_docstring(ast.parse((stage / "__init__.py").read_text()))
        assert doc and len(doc.split()) >= 15, f"{stage.name}/__init__.py says nothing of what the stage does"


def test_the_wheel_lists_every_package():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in PACKAGE.rglob("__init__.py")}
    assert on_disk <= listed, sorted(on_disk - listed)
