"""What a deployed model needs, on NumPy alone: network layers (``architecture``), input
preprocessing, the run-directory format (``runs``), the NTK kernels of exported kernel models
(``ntk_numpy``) and the ``classifier`` that ties them together. Nothing here imports JAX."""
