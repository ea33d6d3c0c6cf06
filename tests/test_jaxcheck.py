"""The install bounds exclude the JAX releases pennylane 0.45 cannot run with, and an installed one
is named in one line at import time (issue 15). Nothing is installed: pyproject.toml is read, and
the JAX version is monkeypatched."""

import importlib
import tomllib
from pathlib import Path

import jax
import pytest
from packaging.requirements import Requirement

from hybrid import jaxcheck

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _jax_requirements() -> list[Requirement]:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    declared = [*project["dependencies"], *sum(project["optional-dependencies"].values(), [])]
    return [r for r in map(Requirement, declared) if r.name == "jax"]


def test_declared_bounds_exclude_jax_0_11_and_later():
    found = _jax_requirements()
    assert {tuple(sorted(r.extras)) for r in found} == {(), ("cuda12",)}  # core and the gpu extra
    for requirement in found:
        assert requirement.specifier.contains("0.10.2"), requirement
        for broken in ("0.11.0", "0.11.2", "0.12.0", "1.0.0"):
            assert not requirement.specifier.contains(broken), (requirement, broken)
        assert str(requirement.specifier) == ",".join(sorted(jaxcheck.SUPPORTED.split(",")))


def test_the_installed_jax_passes():
    assert jaxcheck.problem(jax) is None


def _removed(name):
    raise AttributeError(name)


def test_a_too_new_jax_fails_at_import_with_one_line(monkeypatch):
    monkeypatch.setattr(jax, "__version__", "0.11.2")
    monkeypatch.setattr(jax.core, "__getattr__", _removed)  # as in 0.11: is_concrete is gone
    with pytest.raises(ImportError) as caught:
        importlib.reload(jaxcheck)
    message = str(caught.value)
    assert "\n" not in message
    assert "jax 0.11.2" in message and "is_concrete" in message and "<0.11" in message


def test_a_too_new_jax_with_the_name_restored_passes(monkeypatch):
    """The GPU image's sitecustomize.py puts jax.core.is_concrete back; that JAX works."""
    monkeypatch.setattr(jax, "__version__", "0.11.2")
    monkeypatch.setattr(jax.core, "is_concrete", lambda x: True, raising=False)
    assert jaxcheck.problem(jax) is None
    assert "older" in jaxcheck.problem(_Fake("0.4.30"))


def test_routes_through_pennylanes_jax_interface_refuse_a_jax_without_concrete_or_error(
    monkeypatch,
):
    """The H200 image with is_concrete restored still lacks concrete_or_error: the parameter-shift
    route says so in one line instead of failing deep inside PennyLane; the others still build."""
    from hybrid.quantum_train import qnn

    monkeypatch.setattr(jax, "__version__", "0.11.2")
    monkeypatch.setattr(jax.core, "__getattr__", _removed)
    monkeypatch.setattr(jax.core, "is_concrete", lambda x: True, raising=False)
    assert jaxcheck.problem(jax) is None
    with pytest.raises(RuntimeError) as caught:
        qnn.probabilities(2, 1, "lightning.qubit-ps")
    message = str(caught.value)
    assert "\n" not in message and "concrete_or_error" in message and "<0.11" in message
    assert qnn.probabilities(2, 1, "jax") is not None


class _Fake:
    def __init__(self, version):
        self.__version__, self.core = version, object()
