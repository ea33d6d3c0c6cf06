"""Controls beside Quantum-Train: each asks whether one part of QT does the work.

Every control keeps QT's target network, its normalisation of the probabilities, its mapping
model (widened where the QNN's numbers are taken away, so that the trainable count stays QT's),
its optimiser and its weight centring; only the source of the probability column changes:

==================  ===========================================================  ===============
name                probability column                                           trainable
==================  ===========================================================  ===============
random-features     softmax(F theta), F fixed Gaussian, theta trained            = QT's
random-input        a fixed random vector with a random circuit's distribution   = QT's (widened)
bits-only           none: the mapping model sees the bits of i alone             = QT's (widened)
mps                 Born probabilities of a trained matrix-product state         ~ QT's (bonds)
frozen-qnn          the QNN at its initial angles, never trained                 mapping only
==================  ===========================================================  ===============

Each is ``QuantumTrain`` over QT's ``generator.Generator`` (``QuantumTrain._generator``), with
the control's probability function (``probs_fn``) or widened mapping model in place of QT's;
bits-only, whose mapping model has no probability column, uses the generator's bits, mapping
layers and ``finish`` (centring, ``scale``) around its own dense stack.
A trainable count is the number of parameters the optimiser moves: the sizes of the params
pytree's leaves, less those a ``trainable_mask`` freezes.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import cached_property

import jax
import jax.numpy as jnp
import numpy as np

import hybrid.quantum_train.ansatz as ansatze
import hybrid.quantum_train.qnn as qnn
from hybrid.deploy import architecture
from hybrid.quantum_train.generator import Generator, basis_bits
from hybrid.quantum_train.model import QuantumTrain, _float

CONTROLS = ("random-features", "random-input", "bits-only", "mps", "frozen-qnn")
QNN_MODELS = ("quantum-train", "frozen-qnn")  # the models that run a circuit


def leaf_count(params) -> int:
    """The number of numbers in a params pytree."""
    return sum(int(np.size(leaf)) for leaf in jax.tree.leaves(params))


def qt_count(model: QuantumTrain) -> int:
    """QT's trainable count at ``model``'s settings (its angles and its unwidened mapping model):
    the count every control is matched to."""
    return model._generator(None).n_trainable


def dense_count(hidden: tuple[int, ...], inputs: int) -> int:
    """Parameters of a dense stack ``inputs`` -> ``hidden`` -> 1 (weights and biases)."""
    widths = (inputs, *hidden, 1)
    return sum((a + 1) * b for a, b in itertools.pairwise(widths))


def widened(hidden: tuple[int, ...], inputs: int, target: int) -> tuple[int, ...]:
    """Hidden widths whose stack has ``target`` parameters, as close to a uniform widening of
    ``hidden`` as that allows.

    The widest layer is solved for (the count is linear in its width) over a grid of the other
    widths, each at least ``hidden``'s; of the exact solutions (the solved width may then fall
    below its own), the one closest to a uniform scaling of ``hidden`` is taken. With a single
    hidden layer the count moves in steps of inputs + 2, so it is the nearest."""
    if not hidden:
        raise ValueError("a mapping model to widen needs at least one hidden layer")
    if dense_count(hidden, inputs) > target:
        raise ValueError(f"the mapping model {hidden} already has more than {target} parameters")
    j = int(np.argmax(hidden))
    scale = math.sqrt(target / dense_count(hidden, inputs))
    grids = [
        [hidden[k]] if k == j else range(hidden[k], max(hidden[k], math.ceil(3 * scale * h)) + 1)
        for k, h in enumerate(hidden)
    ]
    best: tuple | None = None
    for widths in itertools.product(*grids):
        base = dense_count(tuple(widths[:j]) + (0,) + tuple(widths[j + 1 :]), inputs)
        step = dense_count(tuple(widths[:j]) + (1,) + tuple(widths[j + 1 :]), inputs) - base
        width = max(1, round((target - base) / step))
        trial = (*widths[:j], width, *widths[j + 1 :])
        ratios = np.log(np.asarray(trial) / np.asarray(hidden))
        key = (abs(dense_count(trial, inputs) - target), float(np.ptp(ratios)))
        if best is None or key < best[0]:
            best = (key, trial)
    return tuple(int(w) for w in best[1])


def mps_count(bonds: tuple[int, ...]) -> int:
    """Parameters of a real MPS with physical dimension 2 and these inner bond dimensions."""
    full = (1, *bonds, 1)
    return sum(2 * a * b for a, b in itertools.pairwise(full))


def mps_bonds(n_sites: int, target: int) -> tuple[int, ...]:
    """Inner bond dimensions whose MPS count is as close to ``target`` as single steps reach.

    The largest uniform bond dimension chi (capped at 2^k and 2^(n-k), the exact state's) whose
    count does not pass ``target``, then bonds raised by one, from the centre out, while each
    raise brings the count closer."""
    caps = tuple(min(2**k, 2 ** (n_sites - k)) for k in range(1, n_sites))
    if not caps:
        return ()

    def uniform(chi: int) -> tuple[int, ...]:
        return tuple(min(chi, c) for c in caps)

    chi = 1
    while chi < max(caps) and mps_count(uniform(chi + 1)) <= target:
        chi += 1
    bonds = list(uniform(chi))
    centre = (len(caps) - 1) / 2
    for k in sorted(range(len(caps)), key=lambda k: (abs(k - centre), k)):
        trial = bonds.copy()
        trial[k] = min(trial[k] + 1, caps[k])
        if abs(mps_count(tuple(trial)) - target) < abs(mps_count(tuple(bonds)) - target):
            bonds = trial
    return tuple(bonds)


def mapping_count(gen: Generator, inputs: int) -> int:
    """Parameters of ``gen``'s mapping model on ``inputs`` columns."""
    return architecture.param_count(gen.mapping_layers, (inputs,))


def _mapping_init(key: jax.Array, layers: list, inputs: int) -> list:
    """QT's mapping-model initialisation (from the second half of the key, as QT's)."""
    _, k_map = jax.random.split(key)
    seed = int(jax.random.randint(k_map, (), 0, 2**31 - 1))
    params = architecture.init_params(np.random.default_rng(seed), layers, (inputs,))
    return [jnp.asarray(p, _float()) for p in params]


def porter_thomas(n_qubits: int, seed: int) -> np.ndarray:
    """A fixed probability vector over 2^n outcomes with a random circuit's output distribution
    (Porter-Thomas: p_i = e_i / sum(e), e_i ~ Exp(1)), drawn once from ``seed``."""
    e = np.random.default_rng([seed, 0x9E7]).exponential(size=2**n_qubits)
    return e / e.sum()


@dataclass(frozen=True)
class RandomFeatureControl(QuantumTrain):
    """Asks: does a quantum state's distribution serve better than a classical one from as many
    trained numbers? QT with the QNN's probability vector replaced by softmax(F theta), F a fixed
    (2^n, K) Gaussian matrix with entries N(0, 1/K) drawn from ``feature_seed`` (a run's seed)
    and theta the K = ``qnn.n_angles(n, L, ansatz)`` trainable numbers.

    Everything else is Quantum-Train's, and the trainable count is exactly QT's at the same
    (ansatz, L). Random features rather than a low-rank product because they match K exactly for
    every L, and softmax of N(0, 1)-scale logits is, like a random circuit's output, a
    spread-out distribution with p_i ~ 2^-n (log-normal rather than Porter-Thomas).
    """

    feature_seed: int = 0

    @cached_property
    def generator(self) -> Generator:
        n = self._generator(None).n_qubits
        k = qnn.n_angles(n, self.depth, self.ansatz)
        rng = np.random.default_rng(self.feature_seed)
        features = rng.normal(0.0, 1.0 / math.sqrt(k), (2**n, k))
        return self._generator(
            lambda theta: jax.nn.softmax(jnp.asarray(features, theta.dtype) @ jnp.ravel(theta))
        )

    def init(self, key: jax.Array) -> dict:
        """QT's mapping-model initialisation; theta ~ N(0, 1), so the logits are N(0, 1)."""
        params = super().init(key)
        k_theta, _ = jax.random.split(key)
        shape = ansatze.get(self.ansatz).shape(self.n_qubits, self.depth)
        return params | {"angles": jax.random.normal(k_theta, shape, _float())}


@dataclass(frozen=True)
class RandomInputControl(QuantumTrain):
    """Asks: is the trained circuit needed, or does the mapping model alone, given all of QT's
    trainable count, do as well from a fixed random column? The probability column is a fixed
    Porter-Thomas vector drawn once from ``input_seed`` (a run's seed), normalised as QT's; the
    mapping model is widened (``widened``) so its count is QT's. No QNN is built or called.
    Without a ``mapping_activation`` (the reference's mapping) the widened model is still one
    affine map of (bits, x_i): the weights move in n_bits + 2 directions at most, 14 of 1,497
    for the reference CNN (``benchmarks/generator_rank.py``); QT's angles add theirs."""

    input_seed: int = 0

    @cached_property
    def hidden(self) -> tuple[int, ...]:
        return widened(self.mapping_hidden, self._generator(None).n_bits + 1, qt_count(self))

    @cached_property
    def generator(self) -> Generator:
        """QT's generator with the fixed column for the QNN (which takes no angles) and the
        widened mapping model."""
        n = self._generator(None).n_qubits
        p = porter_thomas(n, self.input_seed)
        return self._generator(lambda _: jnp.asarray(p, _float()), mapping_hidden=self.hidden)

    def n_trainable(self) -> int:
        return mapping_count(self.generator, self.generator.n_bits + 1)

    def init(self, key: jax.Array) -> dict:
        return {"mapping": _mapping_init(key, self.mapping_layers, self.generator.n_bits + 1)}

    def weights(self, params: dict) -> jax.Array:
        return self.generator.flat({"angles": None, "mapping": params["mapping"]})


@dataclass(frozen=True)
class BitsOnlyControl(QuantumTrain):
    """Asks: does the probability column carry anything, or is QT a mapping model of the weight
    index? The mapping model sees the bits of i alone (n inputs), widened to QT's trainable
    count; nothing else. No QNN is built or called. Without a ``mapping_activation``, n_bits + 1
    directions at most, however wide (``RandomInputControl``)."""

    @cached_property
    def hidden(self) -> tuple[int, ...]:
        return widened(self.mapping_hidden, self._generator(None).n_bits, qt_count(self))

    @cached_property
    def generator(self) -> Generator:
        """QT's generator with the widened mapping model; only its bits, mapping layers and
        ``finish`` are used (its QNN is never built)."""
        return self._generator(None, mapping_hidden=self.hidden)

    def n_trainable(self) -> int:
        return mapping_count(self.generator, self.generator.n_bits)

    def init(self, key: jax.Array) -> dict:
        return {"mapping": _mapping_init(key, self.mapping_layers, self.generator.n_bits)}

    def weights(self, params: dict) -> jax.Array:
        bits = jnp.asarray(basis_bits(self.generator.n_bits, self.n_weights), _float())
        w = architecture.apply(self.mapping_layers, params["mapping"], bits, xp=jnp)[:, 0]
        return self.generator.finish(w)


@dataclass(frozen=True)
class MPSControl(QuantumTrain):
    """Asks: does a classical state of the same kind and size do what the circuit does? The
    classical twin of a shallow circuit: a real matrix-product state over the n sites, its Born
    probabilities p_i = psi_i^2 / sum psi^2 in place of the QNN's, trained with QT's mapping
    model. The bond dimensions (``mps_bonds``) bring its count as close to the QNN's angle count
    as whole bonds allow; ``n_trainable`` states the count reached."""

    @cached_property
    def bonds(self) -> tuple[int, ...]:
        return mps_bonds(self.n_qubits, qnn.n_angles(self.n_qubits, self.depth, self.ansatz))

    @cached_property
    def site_shapes(self) -> list[tuple[int, int, int]]:
        full = (1, *self.bonds, 1)
        return [(a, 2, b) for a, b in itertools.pairwise(full)]

    @cached_property
    def generator(self) -> Generator:
        """QT's generator with the MPS's Born probabilities (of the sites) for the QNN's."""
        return self._generator(self.born)

    def n_trainable(self) -> int:
        return mps_count(self.bonds) + mapping_count(self.generator, self.generator.n_bits + 1)

    def init(self, key: jax.Array) -> dict:
        """Sites at the uniform product state |+>^n plus Gaussian noise (N(0, 1/chi_left) times
        ``noise_scale``), sized so that p_i 2^n starts with a random circuit's spread (std 1,
        Porter-Thomas) and the control starts where the QNN does. Plain Gaussian sites start far
        more peaked (n = 13, seeds 0-2: std 3.2-5.3, largest p_i 2^n 84-148, against a random
        circuit's 1.0 and 8.4-9.2; ``benchmarks/mps_start.py``)."""
        k_sites, _ = jax.random.split(key)
        keys = jax.random.split(k_sites, len(self.site_shapes))
        noise = [
            jax.random.normal(k, s, _float()) / math.sqrt(s[0])
            for k, s in zip(keys, self.site_shapes, strict=True)
        ]
        sites = self.near_plus(noise, self.noise_scale(noise))
        mapping = _mapping_init(key, self.mapping_layers, self.generator.n_bits + 1)
        return {"sites": sites, "mapping": mapping}

    def noise_scale(self, noise: list, spread: float = 1.0, steps: int = 40) -> float:
        """The noise size at which std(p_i 2^n) = ``spread``, by bisection (it grows with the
        size)."""

        def std(scale: float) -> float:
            return float(jnp.std(self.born(self.near_plus(noise, scale))) * 2**self.n_qubits)

        low, high = 0.0, 1.0
        while std(high) < spread:
            if high >= 2**10:
                raise ValueError(f"no noise size spreads this MPS's p_i 2^n to std {spread}")
            high *= 2
        for _ in range(steps):
            low, high = (
                (low, (low + high) / 2)
                if std((low + high) / 2) > spread
                else ((low + high) / 2, high)
            )
        return (low + high) / 2

    @staticmethod
    def near_plus(noise: list, scale: float) -> list:
        """The sites of |+>^n (amplitude sqrt(1/2) on bond channel 0) plus ``scale`` * ``noise``."""
        return [scale * z + jnp.zeros_like(z).at[0, :, 0].set(math.sqrt(0.5)) for z in noise]

    @staticmethod
    def born(sites: list) -> jax.Array:
        """The 2^n Born probabilities, site 0 the most significant bit (wire 0, as ``bits_of``)."""
        psi = sites[0].reshape(2, -1)
        for site in sites[1:]:
            psi = jnp.einsum("ia,asb->isb", psi, site).reshape(-1, site.shape[2])
        amplitudes = psi[:, 0]
        return amplitudes**2 / jnp.sum(amplitudes**2)

    def weights(self, params: dict) -> jax.Array:
        return self.generator.flat({"angles": params["sites"], "mapping": params["mapping"]})


@dataclass(frozen=True)
class FrozenQNN(QuantumTrain):
    """Asks: does training the circuit matter, or would its random initial state do? QT with the
    angles fixed at their initial values (a ``trainable_mask`` that the training loop turns into
    zero updates, so they stay bit-identical, and no gradient through the circuit); only the
    mapping model trains, so the trainable count is QT's less its angles."""

    def n_trainable(self) -> int:
        return mapping_count(self.generator, self.generator.n_bits + 1)

    def trainable_mask(self, params: dict) -> dict:
        return {
            "angles": False,
            "mapping": jax.tree.map(lambda _: True, params["mapping"]),
        }

    def weights(self, params: dict) -> jax.Array:
        frozen = params | {"angles": jax.lax.stop_gradient(params["angles"])}
        return super().weights(frozen)


CLASSES: dict[str, type[QuantumTrain]] = {
    "random-features": RandomFeatureControl,
    "random-input": RandomInputControl,
    "bits-only": BitsOnlyControl,
    "mps": MPSControl,
    "frozen-qnn": FrozenQNN,
}


def build(name: str, layers: tuple, input_shape: tuple, *, seed: int = 0, **settings):
    """The control ``name`` at QT's ``settings``; ``seed`` (a run's) draws a control's fixed
    random parts (random-features' F, random-input's vector)."""
    if name not in CLASSES:
        raise ValueError(f"unknown control {name!r}; the controls are {CONTROLS}")
    seeded = {"random-features": "feature_seed", "random-input": "input_seed"}
    extra = {seeded[name]: seed} if name in seeded else {}
    return CLASSES[name](tuple(layers), tuple(input_shape), **settings, **extra)


def describe(model: QuantumTrain) -> dict:
    """What model.json records of a control beyond QT's settings: its seed, its widened mapping
    model or its bond dimensions, and the count it is matched to."""
    about: dict = {"matched_to": qt_count(model)}
    if isinstance(model, RandomFeatureControl):
        about["feature_seed"] = model.feature_seed
    if isinstance(model, RandomInputControl):
        about["input_seed"] = model.input_seed
    if isinstance(model, RandomInputControl | BitsOnlyControl):
        about["mapping_widened"] = list(model.hidden)
    if isinstance(model, MPSControl):
        about["bond_dims"] = list(model.bonds)
    return about
