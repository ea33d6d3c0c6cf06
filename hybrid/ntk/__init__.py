"""Quantum NTK training (Zlokapa, Neven, Lloyd, arXiv:2107.09200).

``kernels`` computes the infinite-width network's neural tangent kernel (its public names are
re-exported here), ``sparsify`` the sparsified and diagonal approximations and the paper's scaling
quantities, ``qsvt`` a small quantum linear solver (and its demo on MNIST), ``study`` the MNIST
study's configuration and loop, ``selection`` its balanced draws and preprocessing, ``oracle`` the
CNN kernel pools and oracle, ``report`` summaries and plots, ``classifier`` the exported kernel
classifier.
"""

from hybrid.ntk.kernels import *  # noqa: F403  (the kernels are this package's face)
from hybrid.ntk.kernels import __all__  # noqa: F401
