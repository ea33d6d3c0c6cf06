"""hybrid: classical neural networks trained with quantum subroutines, deployed with NumPy.

The package root stays import-light on purpose: ``hybrid.classifier`` must import with numpy alone.

Modules moved into sub-packages keep their old flat names (``hybrid.classifier``,
``hybrid.estimators``, ...): importing one gives the very module object of its new home, so code
written against the old paths keeps working, monkeypatches and ``isinstance`` included.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

__version__ = "0.1.0"

MOVED = {
    "hybrid.architecture": "hybrid.deploy.architecture",
    "hybrid.classifier": "hybrid.deploy.classifier",
    "hybrid.export": "hybrid.deploy.runs",
    "hybrid.ntk_numpy": "hybrid.deploy.ntk_numpy",
    "hybrid.preprocessing": "hybrid.deploy.preprocessing",
    "hybrid.resources": "hybrid.devices.resources",
    "hybrid.ansatz": "hybrid.quantum_train.ansatz",
    "hybrid.qnn": "hybrid.quantum_train.qnn",
    "hybrid.estimators": "hybrid.ripe.estimators",
    "hybrid.inner_product": "hybrid.ripe.inner_product",
    "hybrid.feedforward": "hybrid.ripe.feedforward",
    "hybrid.ntk_study": "hybrid.ntk.study",
    "hybrid.qsvt": "hybrid.ntk.qsvt",
    "hybrid.sparsify": "hybrid.ntk.sparsify",
    "hybrid.hardware": "hybrid.reports",
}


class _OldPaths(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves an old flat module name to the module at its new path."""

    def find_spec(self, name, path=None, target=None):
        return importlib.util.spec_from_loader(name, self) if name in MOVED else None

    def create_module(self, spec):
        module = importlib.import_module(MOVED[spec.name])
        spec.loader_state = module.__spec__
        return module

    def exec_module(self, module):
        # The import system stamped the old name's spec on the module; give it back its own.
        module.__spec__ = module.__spec__.loader_state


if not any(isinstance(finder, _OldPaths) for finder in sys.meta_path):
    sys.meta_path.append(_OldPaths())
