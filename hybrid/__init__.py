"""hybrid: classical neural networks trained with quantum subroutines, deployed with NumPy.

The package root stays import-light on purpose: ``hybrid.classifier`` must import with numpy alone.
"""

__version__ = "0.1.0"
