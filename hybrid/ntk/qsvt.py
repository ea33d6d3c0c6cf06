"""A small quantum linear-system solve of the sparsified NTK system with QSVT (PennyLane).

The quantum NTK algorithm (Zlokapa, Neven, Lloyd, arXiv:2107.09200) prepares |K~^-1 y> with a
quantum linear-system solver. Here the solver is the quantum singular value transformation
(Gilyen, Su, Low, Wiebe, arXiv:1806.01838) of a block encoding of A = K~ / alpha with an odd
polynomial P(x) ~ s / x on [1/kappa, 1], simulated on lightning.qubit for n <= 16 (4 system
qubits): the state with the encoding ancilla in |0> is P(A)|y> ~ (s / alpha) K~^-1 |y>.

PennyLane's QSVT puts P(A) in the real part of the top-left block (the imaginary part holds a
second polynomial). With real A, the sequence with negated phases gives the complex conjugate,
so one more qubit in |+> selecting between the two sequences and measured in |+> (a linear
combination of unitaries) leaves exactly P(A)|y>; that circuit is the one run and costed here.

The result is compared with ``numpy.linalg.solve``: error of the normalised solution, success
probability of the post-selection, polynomial degree (block-encoding queries), qubits, gates.
``qsvt_demo`` runs the solve on a sparsified FC NTK of MNIST digits, as the study builds it.
"""

from __future__ import annotations

import math

import numpy as np

# PennyLane's angle solvers take monomial coefficients; converting a Chebyshev series of degree
# d to monomials multiplies rounding errors by up to ~2^d, so the degree is capped where the
# monomial coefficients still hold the polynomial to 1e-7.
MAX_DEGREE = 35
# What ``sample`` compiles the circuit to before a device with shots sees it.
NATIVE = frozenset({"RX", "RY", "RZ", "CNOT", "Hadamard", "StatePrep", "GlobalPhase"})


def inverse_polynomial(kappa: float, eps: float = 1e-2, max_degree: int = MAX_DEGREE) -> dict:
    """Odd polynomial P with |P| <= 1/2 on [-1, 1] and P(x) ~ s/x on [1/kappa, 1].

    Chebyshev interpolation of s (1 - (1 - x^2)^b) / x with b = ceil(kappa^2 log(kappa / eps)),
    which is within eps (relative) of s/x on [1/kappa, 1] and bounded near 0; the degree grows
    (odd) until the relative error on [1/kappa, 1] is below 2 eps. Returns the monomial
    coefficients (lowest power first, as ``qml.qsvt`` takes them), degree, scale s and error.
    """
    from numpy.polynomial import chebyshev

    if kappa < 1 or not 0 < eps < 1:
        raise ValueError(f"need kappa >= 1 and 0 < eps < 1, got {kappa}, {eps}")
    b = max(1, math.ceil(kappa**2 * math.log(kappa / eps + 1)))

    def f(x):
        x = np.asarray(x, dtype=np.float64)
        safe = np.where(np.abs(x) < 1e-12, 1e-12, x)
        return np.where(np.abs(x) < 1e-12, 0.0, (1 - (1 - x**2) ** b) / safe)

    grid = np.linspace(0, 1, 4001)
    scale = 0.5 / np.max(np.abs(f(grid)))
    inside = np.linspace(1 / kappa, 1, 2001)
    for degree in range(1, max_degree + 1, 2):
        coef = chebyshev.chebinterpolate(lambda x: scale * f(x), degree)
        coef[0::2] = 0.0  # exactly odd
        p = chebyshev.chebval(inside, coef)
        error = float(np.max(np.abs(p * inside / scale - 1)))
        if error < 2 * eps:
            break
    else:
        raise ValueError(
            f"1/x on [1/{kappa:.3g}, 1] to {eps:g} needs degree > {max_degree}, beyond what "
            "monomial coefficients represent accurately; raise eps or precondition the system"
        )
    peak = float(np.max(np.abs(chebyshev.chebval(np.linspace(-1, 1, 8001), coef))))
    if peak > 1:
        coef = coef / peak  # QSVT needs |P| <= 1 on [-1, 1]
        scale /= peak
    return {
        "coefficients": chebyshev.cheb2poly(coef),
        "degree": degree,
        "scale": float(scale),
        "relative_error": error,
        "b": b,
    }


def block_encoding_scale(a: np.ndarray) -> float:
    """alpha with A / alpha a valid ``qml.BlockEncode`` input, left unrescaled by PennyLane.

    PennyLane divides A by max(1, ||A A^T||_inf) when that exceeds 1; alpha = sqrt of it (an upper
    bound on the spectral norm) avoids any silent rescaling.
    """
    return float(max(np.sqrt(np.linalg.norm(a @ a.T, np.inf)), np.linalg.norm(a, 2)) * (1 + 1e-12))


def _system(a, b, eps: float) -> dict:
    """Checks A x = b and builds what the circuit needs: scale alpha, polynomial, QSP angles."""
    import pennylane as qml

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    n = len(b)
    m = int(round(math.log2(n))) if n > 1 else 0
    if a.shape != (n, n) or 2**m != n or n < 2:
        raise ValueError(f"need a square system of size 2^m >= 2, got A {a.shape}, b {b.shape}")
    if n > 16:
        raise ValueError("n <= 16 keeps the state-vector simulation small (4 system qubits)")
    if not np.allclose(a, a.T):
        raise ValueError("QSVT of a matrix needs it Hermitian; A is not symmetric")
    eig = np.linalg.eigvalsh(a)
    if np.min(np.abs(eig)) == 0:
        raise ValueError("A is singular")
    alpha = block_encoding_scale(a)
    kappa_eff = alpha / float(np.min(np.abs(eig)))
    poly = inverse_polynomial(kappa_eff, eps)
    x = np.linalg.solve(a, b)
    return {
        "a": a,
        "b": b,
        "n": n,
        "m": m,
        "eig": eig,
        "alpha": alpha,
        "kappa_eff": kappa_eff,
        "poly": poly,
        "angles": qml.poly_to_angles(poly["coefficients"], "QSVT"),
        "x_unit": x / np.linalg.norm(x),
    }


def _apply(system: dict, as_unitary: bool = False) -> None:
    """The circuit on wires (control, encoding ancilla, system...): LCU of the two QSVT sequences.

    With control and ancilla post-selected on |0>, the system register holds P(A)|b> / norm.
    ``as_unitary`` writes the block encoding as a ``QubitUnitary``, which PennyLane can decompose
    into gates (a controlled ``BlockEncode`` it cannot).
    """
    import pennylane as qml

    n, m = system["n"], system["m"]
    ctrl, anc, wires = 0, 1, list(range(2, 2 + m))
    encoding_wires = [anc, *wires]
    a_scaled = system["a"] / system["alpha"]

    def sequence(sign: float):
        projectors = [
            qml.PCPhase(sign * phi, dim=n, wires=encoding_wires) for phi in system["angles"]
        ]
        encoding = qml.BlockEncode(a_scaled, wires=encoding_wires)
        if as_unitary:
            encoding = qml.QubitUnitary(qml.matrix(encoding), wires=encoding_wires)
        return qml.QSVT(encoding, projectors)

    qml.StatePrep(system["b"] / np.linalg.norm(system["b"]), wires=wires)
    qml.Hadamard(ctrl)
    qml.ctrl(sequence(1.0), control=ctrl, control_values=0)
    qml.ctrl(sequence(-1.0), control=ctrl, control_values=1)
    qml.Hadamard(ctrl)


def solve(a, b, *, eps: float = 1e-2, device: str = "lightning.qubit") -> dict:
    """Solve a x = b (a real symmetric, n = 2^m <= 16) with QSVT; compare with numpy.

    Returns the normalised quantum solution, the classical one, their distance, the
    post-selection success probability, and circuit resources.
    """
    import pennylane as qml

    system = _system(a, b, eps)
    n, m, eig, poly = system["n"], system["m"], system["eig"], system["poly"]

    @qml.qnode(qml.device(device, wires=2 + m))
    def circuit():
        _apply(system)
        return qml.state()

    state = np.asarray(circuit())
    block = state.reshape(2, 2, n)[0, 0]  # control and encoding ancilla both |0>
    if np.max(np.abs(block.imag)) > 1e-8:
        raise RuntimeError("the linear combination left an imaginary part; check the phases")
    amplitudes = block.real
    success = float(np.sum(amplitudes**2))
    x_quantum = amplitudes / math.sqrt(success)
    x_unit = system["x_unit"]
    specs = qml.specs(circuit, level="device")()  # as lightning runs it
    resources = specs["resources"]
    return {
        "n": n,
        "qubits": 2 + m,
        "kappa": float(np.max(np.abs(eig)) / np.min(np.abs(eig))),
        "alpha": system["alpha"],
        "kappa_block_encoded": system["kappa_eff"],
        "degree": poly["degree"],
        "polynomial_relative_error": poly["relative_error"],
        "block_encoding_queries": 2 * poly["degree"],
        "success_probability": success,
        "solution_error": float(np.linalg.norm(x_quantum - x_unit)),
        "x_quantum": x_quantum.tolist(),
        "x_classical_normalized": x_unit.tolist(),
        "gates": int(resources.num_gates),
        "depth": int(resources.depth),
        "gate_types": {str(k): int(v) for k, v in dict(resources.gate_types).items()},
        "device": device,
    }


def sample(a, b, profile, *, eps: float = 1e-2) -> dict:
    """Run the QSVT solve with shots on any device profile (plugins included) and read it out.

    A device with shots returns counts, not amplitudes: what it can give is the post-selection
    rate and the distribution |x_i|^2 / |x|^2 of the solution state, compared here with the
    classical solution's by total-variation distance (and the shot noise expected of it).
    """
    import pennylane as qml

    from hybrid import devices

    profile = devices.get(profile)
    if not profile.shots:
        raise ValueError(f"profile {profile.name} is analytic; use solve() or give it shots")
    system = _system(a, b, eps)
    n, m = system["n"], system["m"]

    # plugins know neither controlled block encodings nor PCPhase: compile to CNOT + rotations
    @qml.set_shots(profile.shots)
    @qml.transforms.decompose(gate_set=NATIVE)
    @qml.qnode(devices.make(profile, 2 + m))
    def circuit():
        _apply(system, as_unitary=True)
        return qml.probs(wires=range(2 + m))

    probs = np.asarray(circuit()).reshape(2, 2, n)[0, 0]
    success = float(probs.sum())
    if success == 0:
        raise RuntimeError(f"no shot of {profile.shots} passed the post-selection")
    measured, expected = probs / success, system["x_unit"] ** 2
    kept = success * profile.shots
    return {
        "n": n,
        "device": profile.name,
        "shots": profile.shots,
        "success_probability": success,
        "post_selected_shots": kept,
        "distribution": measured.tolist(),
        "distribution_classical": expected.tolist(),
        "total_variation": float(0.5 * np.abs(measured - expected).sum()),
        # E|p_hat - p| summed over outcomes, for multinomial noise on the kept shots
        "total_variation_noise": float(
            0.5 * np.sum(np.sqrt(2 * expected * (1 - expected) / (np.pi * kept)))
        ),
    }


def resources_report(n: int = 4, seed: int = 0) -> dict:
    """The QSVT linear solve's own resource figures (``solve`` on a random SPD system, lightning
    level): qubits, polynomial degree, block-encoding queries, gates and depth."""
    rng = np.random.default_rng(seed)
    m = rng.normal(size=(n, n))
    a = m @ m.T + n * np.eye(n)
    out = solve(a, rng.normal(size=n))
    keep = ("n", "qubits", "degree", "block_encoding_queries", "gates", "depth", "gate_types")
    return {"model": "qsvt", **{k: out[k] for k in keep}, "level": "PennyLane (lightning)"}


def qsvt_demo(
    n: int = 16,
    eps: float = 1e-2,
    device: str = "lightning.qubit",
    source: str = "auto",
    seed: int = 0,
    depths: tuple[int | None, ...] = (None, 10),
    classes: tuple[int, int] = (8, 9),
    dataset: str = "mnist",
) -> dict:
    """QSVT solve of K~ x = y for a sparsified FC NTK of n balanced training points of two
    classes (MNIST 8 vs 9 by default), preprocessed as the study does.

    ``depths``: hidden layers of the NTK; None is the reference's depth (0.1 L_conv), at which
    K~ is nearly diagonal (kappa ~ 1); a shallower kernel gives a less trivial system. A depth
    whose system is out of reach (polynomial degree beyond ``MAX_DEGREE``) is reported with its
    kappa and the reason instead of a result. Returns one entry per depth: ``depth`` is the
    NTK's, ``circuit_depth`` the QSVT circuit's.
    """
    import hybrid.ntk.sparsify as sparsify
    from hybrid.ntk.kernels import (
        FCKernel,
        coefficient_of_nonlinearity,
        depth_for,
        fc_kernel,
        min_separation,
    )
    from hybrid.ntk.selection import balanced_indices, standardize
    from hybrid.ntk.study import StudyConfig, load_split

    cfg = StudyConfig(classes=tuple(classes), dataset=dataset, source=source, seed=seed)
    _, x_all, y_all = load_split(cfg, "train")
    rng = np.random.default_rng([seed, n])
    idx = balanced_indices(y_all, n, rng)
    (x,), _, _ = standardize(x_all[idx])
    y = 2.0 * y_all[idx] - 1
    pattern = sparsify.sparsity_pattern(y, rng)
    mu = coefficient_of_nonlinearity()
    out = []
    for depth in depths:
        depth = depth_for(n, min_separation(x), mu) if depth is None else depth
        _, kernel = fc_kernel(x, None, FCKernel(depth=depth))
        sparse = sparsify.sparsify_unbiased(kernel, pattern)
        entry = {"depth": depth, "sparsity": sparsify.row_sparsity(sparse)}
        try:
            result = solve(sparse, y, eps=eps, device=device)
        except ValueError as err:
            out.append(entry | {"kappa": sparsify.condition_number(sparse), "skipped": str(err)})
            continue
        result.pop("x_quantum")
        result.pop("x_classical_normalized")
        result["circuit_depth"] = result.pop("depth")
        out.append(entry | result)
    return {
        "dataset": dataset,
        "classes": list(classes),
        "seed": seed,
        "eps": eps,
        "results": out,
    }
