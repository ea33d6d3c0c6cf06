"""Shared test setup: float64 JAX (gradient comparisons need it) and the repo's data paths."""

import os
from pathlib import Path

import jax
import pytest

jax.config.update("jax_enable_x64", True)

REPO = Path(__file__).resolve().parents[1]
# CI clones the repo with ../shared beside it; a developer checkout has the same layout.
SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist"


@pytest.fixture
def mnist_dir():
    if not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"the real MNIST test set is not at {SHARED_MNIST}")
    return SHARED_MNIST


@pytest.fixture
def offline_mnist(monkeypatch, mnist_dir):
    """Point hybrid.data at the shared IDX files, as a user does with HYBRID_DATA_DIR."""
    monkeypatch.setenv("HYBRID_DATA_DIR", os.fspath(mnist_dir))
    return mnist_dir
