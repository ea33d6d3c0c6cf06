"""The house stays one-way: no import loop in ``hybrid/``, and every module imports only its own
layer or the layers below it (docs/architecture.md). Imports inside functions count, and so does
``importlib.import_module`` with a literal name."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "hybrid"

# Lowest first. A module may import modules of its own layer or of a layer below.
LAYERS = {
    "foundation": {"architecture", "preprocessing", "ntk_numpy", "export", "classifier", "data"},
    "devices": {"devices", "ansatz", "jaxcheck"},
    "primitives": {
        "resources",
        "qnn",
        "inner_product",
        "estimators",
        "training",
        "sparsify",
        "qsvt",
        "ntk",
    },
    "algorithms": {"quantum_train", "feedforward", "ntk_study"},
    "entry points": {"hardware", "cli"},
}
ALGORITHMS = LAYERS["algorithms"] | {"qnn", "inner_product", "estimators", "qsvt", "ntk"}


def imports(path: Path) -> set[str]:
    """The ``hybrid`` modules that ``path`` imports anywhere in its body."""
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
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    return {name.split(".")[1] for name in found if name.startswith("hybrid.")} & modules - {
        path.stem
    }


def graph() -> dict[str, set[str]]:
    return {p.stem: imports(p) for p in PACKAGE.glob("*.py") if p.stem != "__init__"}


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
    source = (
        "import importlib\n"
        "def f():\n    from hybrid import qnn\n"
        "importlib.import_module('hybrid.devices')\n"
    )
    (tmp_path / "export.py").write_text(source)
    assert imports(tmp_path / "export.py") == {"qnn", "devices"}


def test_no_import_loop():
    assert loops(graph()) == []


def test_every_module_has_a_layer():
    placed = set().union(*LAYERS.values())
    assert set(graph()) == placed, set(graph()) ^ placed


@pytest.mark.parametrize("module", sorted(set().union(*LAYERS.values())))
def test_imports_point_down(module):
    rank = {m: i for i, layer in enumerate(LAYERS.values()) for m in layer}
    upward = {m for m in graph()[module] if rank[m] > rank[module]}
    assert not upward, f"{module} imports {upward} from a higher layer"


def test_the_device_layer_imports_no_algorithm():
    edges = graph()
    for module in LAYERS["devices"]:
        assert not edges[module] & ALGORITHMS, module


def test_cli_choices_mirror_the_library():
    """The parsers import no algorithm, so they restate its choices: the copies must agree."""
    from hybrid import cli, data, estimators, feedforward, hardware, ntk_study

    assert cli.ESTIMATORS == estimators.KINDS and cli.NORMS == estimators.NORMS
    assert cli.LOSSES == feedforward.LOSSES and cli.INITS == feedforward.INITS
    assert cli.MNIST_SOURCES == data.MNIST_SOURCES
    assert {k: v[0] for k, v in cli.NTK_STUDY_OPTIONS.items()} == ntk_study.OPTIONS
    assert tuple(hardware.MODELS) == cli.RESOURCE_MODELS
