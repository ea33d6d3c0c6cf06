"""The house stays one-way (docs/architecture.md): no import loop between the modules of
``hybrid/``, and every module imports only from its own room (sub-package or top-level module),
from a room of its own layer, or from a layer below. Imports inside functions count, and so does
``importlib.import_module`` with a literal name. The old flat module paths keep working."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import hybrid

PACKAGE = Path(__file__).resolve().parents[1] / "hybrid"

# Lowest first. A room may import rooms of its own layer or of a layer below.
LAYERS = {
    "foundation": {"deploy", "data"},
    "devices": {"devices", "jaxcheck"},
    "training": {"training"},
    "algorithms": {"quantum_train", "ripe", "ntk"},
    "entry points": {"reports", "cli"},
}
ALGORITHMS = LAYERS["algorithms"]


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(p for p in parts if p != "__init__")


def room(module: str) -> str:
    """``hybrid.deploy.runs`` -> ``deploy``; the package root is its own room, ``hybrid``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "hybrid"


def imports(path: Path, known: set[str], root: Path = PACKAGE) -> set[str]:
    """The modules of ``known`` that ``path`` imports anywhere in its body (a ``from package
    import name`` counts the package and, where it is a module, ``package.name``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.add(node.args[0].value)
    return (found & known) - {module_name(path, root)}


def graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    files = {module_name(p, root): p for p in root.rglob("*.py")}
    return {name: imports(path, set(files), root) for name, path in files.items()}


def loops(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every module that reaches itself, with the path back (depth-first search)."""
    found = []
    for start in sorted(edges):
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for nxt in sorted(edges[node]):
                if nxt == start:
                    found.append([*path, start])
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
    return found


def test_the_loop_finder_finds_a_loop():
    assert loops({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})[0] == ["a", "b", "c", "a"]
    assert loops({"a": {"b"}, "b": set()}) == []


def test_function_level_and_import_module_imports_count(tmp_path):
    (tmp_path / "hybrid" / "deploy").mkdir(parents=True)
    for name in ("__init__.py", "devices.py", "deploy/__init__.py", "deploy/runs.py"):
        (tmp_path / "hybrid" / name).write_text("")
    source = (
        "import importlib\n"
        "def f():\n    from hybrid.deploy import runs\n"
        "importlib.import_module('hybrid.devices')\n"
    )
    (tmp_path / "hybrid" / "deploy" / "runs.py").write_text(source)
    (tmp_path / "hybrid" / "x.py").write_text(source)
    edges = graph(tmp_path / "hybrid")
    assert edges["hybrid.x"] == {"hybrid.deploy", "hybrid.deploy.runs", "hybrid.devices"}
    assert edges["hybrid.deploy.runs"] == {"hybrid.deploy", "hybrid.devices"}


def test_no_import_loop():
    assert loops(graph()) == []


def test_every_room_has_a_layer():
    placed = set().union(*LAYERS.values()) | {"hybrid"}
    assert {room(m) for m in graph()} == placed, {room(m) for m in graph()} ^ placed


def test_the_package_root_imports_nothing_of_its_own():
    assert graph()["hybrid"] == set()


@pytest.mark.parametrize("module", sorted(graph()))
def test_imports_point_down(module):
    rank = {r: i for i, layer in enumerate(LAYERS.values()) for r in layer} | {"hybrid": -1}
    upward = {m for m in graph()[module] if rank[room(m)] > rank[room(module)]}
    assert not upward, f"{module} imports {upward} from a higher layer"


def test_the_device_layer_imports_no_algorithm():
    for module, targets in graph().items():
        if room(module) in LAYERS["devices"]:
            assert not {room(t) for t in targets} & ALGORITHMS, module


def test_the_folder_is_the_map():
    """At most 6 top-level modules beside the sub-packages, and one ``TrainConfig`` class."""
    top = [p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"]
    assert len(top) <= 6, top
    configs = [
        module
        for module, path in ((module_name(p), p) for p in PACKAGE.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef) and node.name == "TrainConfig"
    ]
    assert configs == ["hybrid.training"]


@pytest.mark.parametrize("old", sorted(hybrid.MOVED))
def test_old_flat_paths_are_the_moved_modules(old):
    assert importlib.import_module(old) is importlib.import_module(hybrid.MOVED[old])
    assert importlib.import_module(old).__spec__.name == hybrid.MOVED[old]


def test_the_old_classifier_path_stays_numpy_only():
    code = (
        "import sys; from hybrid.classifier import NumpyClassifier; "
        "print(sorted(m for m in ('jax', 'pennylane', 'optax') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cli_choices_mirror_the_library():
    """The parsers import no algorithm, so they restate its choices: the copies must agree."""
    from hybrid import cli, data, reports
    from hybrid.ntk import study
    from hybrid.ripe import estimators, feedforward

    assert cli.ESTIMATORS == estimators.KINDS and cli.NORMS == estimators.NORMS
    assert cli.LOSSES == feedforward.LOSSES and cli.INITS == feedforward.INITS
    assert cli.MNIST_SOURCES == data.MNIST_SOURCES
    assert {k: v[0] for k, v in cli.NTK_STUDY_OPTIONS.items()} == study.OPTIONS
    assert tuple(reports.MODELS) == cli.RESOURCE_MODELS


def _handlers(parser) -> list[str]:
    """Every command's handler string, walking the sub-parsers."""
    import argparse

    found = [parser.get_default("func")] if parser.get_default("func") else []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found += _handlers(sub)
    return found


def test_every_cli_handler_lives_in_the_cli_package():
    from hybrid import cli

    handlers = _handlers(cli.parser())
    assert len(handlers) == 9
    for spec in handlers:
        module, name = spec.split(":")
        assert module.startswith("hybrid.cli."), spec
        assert callable(getattr(importlib.import_module(module), name)), spec
