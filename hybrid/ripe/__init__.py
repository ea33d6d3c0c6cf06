"""Robust inner-product estimation and (eps, gamma)-feedforward networks (Allcock, Hsieh,
Kerenidis, Zhang, arXiv:1812.03089).

``estimators`` is the interface (exact, shots, RIPE, the paper's Gaussian model, l2 sampling),
``sampler`` the amplitude-estimation numerics behind RIPE, ``inner_product`` the Hadamard-test
QNodes, ``feedforward`` the network trained with every inner product estimated.
"""
