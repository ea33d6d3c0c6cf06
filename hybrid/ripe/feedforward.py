"""(eps, gamma)-feedforward networks (Allcock, Hsieh, Kerenidis, Zhang, arXiv:1812.03089).

Forward and backpropagation in which every inner product <W_j, a> and <(W^T)_j, delta> comes from
an estimator of ``hybrid.ripe.estimators`` (or, in circuit mode, from the Hadamard-test QNodes of
``hybrid.ripe.inner_product``). The updates are the paper's eqs. (2)-(3),

    W^l <- W^l - (eta/M) sum_x delta^{x,l} (a^{x,l-1})^T,
    b^l <- b^l - (eta/M) sum_x delta^{x,l},

applied through ``optax.sgd(eta)`` on the gradient pytree (1/M) sum_x (delta a^T, delta). The
paper's network uses tanh everywhere and the quadratic loss (one-hot targets); softmax with
cross-entropy on a linear output layer is the option ``loss="softmax_ce"``.

Cost terms of Theorem 1, logged every iteration t as their mean over the M examples m of the
mini-batch (the tables report the mean over t as well). X^[t,l,j] is the l2-BST storage of row j
of W^l at iteration t: W^l(0)'s row (one vector, or the r vectors U_jk V_k after low-rank
initialisation) and every stored update -(eta/M) delta_j^{x,l,tau} a^{x,l-1,tau}, tau < t;
Y^[t,l,k] the same for column k. N - n_1 is the number of non-input neurons.

- R_a^{t,m} = 1/(N - n_1) sum_{l,j} |X^[t,l,j]|_F |a^{x_m,l-1}| / max(1, |<W_j^l, a^{x_m,l-1}>|):
  the forward inner products' cost factor (RIPE on the storage needs M ~ |X|_F |a| / (eps
  max(1, |<W_j, a>|))).
- R_delta^{t,m}: the same for the backward <(W^{l+1})^T_k, delta^{x_m,l+1}> with |Y^[t,l+1,k]|_F,
  summed over the hidden neurons k and divided by the same N - n_1 (our reading: then
  TM(N - n_1)(R_a + R_delta) is the sum of every estimate's cost factor).
- R_W^t = 1/(M (N - n_1)) sum_{l,j} |X^[t,l,j]|_F / |W_j^l(t)|: the norms |W_j| are estimated
  once per iteration, i.e. once per M examples, hence the 1/M.

|X|_F^2 is accumulated in O(width) per step. Kept under their own names, so that no maximum is
read as one of the paper's averages: the maxima over l, j, m of |W_j| |a| / max(1, |<W_j, a>|)
(``Ra_weightnorm_max``) and its backward analogue (``Rdelta_weightnorm_max``), which use |W_j|
where R_a and R_delta use |X|_F, and the maximum of |X|_F / |W_j| over rows and columns after the
update (``storage_ratio_max``).

The whole run is one ``jax.lax.scan`` per evaluation chunk, compiled once per (network,
estimator, eta) and reused by every later run with the same three (seeds, table rows).
"""

from __future__ import annotations

import functools
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from hybrid import training
from hybrid.deploy import architecture
from hybrid.ripe import estimators
from hybrid.ripe.estimators import Estimator
from hybrid.training import TrainConfig

LOSSES = ("mse", "softmax_ce")
INITS = ("standard", "low_rank")
R_KEYS = (
    "R_a",
    "R_delta",
    "R_W",
    "Ra_weightnorm_max",
    "Rdelta_weightnorm_max",
    "storage_ratio_max",
)


@dataclass(frozen=True)
class NetConfig:
    """Layer widths (input first), activation, loss and initialisation of the network."""

    sizes: tuple[int, ...] = (4, 10, 3)
    activation: str = "tanh"
    loss: str = "mse"
    init: str = "standard"
    rank: int = 6

    def __post_init__(self):
        if len(self.sizes) < 2 or any(int(s) < 1 for s in self.sizes):
            raise ValueError(f"sizes must list >= 2 positive widths, got {self.sizes}")
        if self.activation != "tanh":
            raise ValueError("the (eps, gamma)-network uses tanh (as the paper)")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {self.init!r}")
        if self.init == "low_rank" and self.rank < 1:
            raise ValueError("low-rank initialisation needs rank >= 1")


# The paper's Iris run: T = 1200 iterations of M = 10 examples at eta = 0.07, plain SGD (eqs.
# (2)-(3); R_W's implicit storage assumes those updates), evaluated every 100 iterations.
PAPER = TrainConfig(steps=1200, batch_size=10, learning_rate=0.07, optimizer="sgd", eval_every=100)


def check_config(config: TrainConfig) -> None:
    """Refuse settings the (eps, gamma)-network does not train with: it counts steps and takes
    the paper's plain SGD steps, which its R terms assume."""
    if config.steps is None:
        raise ValueError("the (eps, gamma)-network counts iterations: give steps (the paper's T)")
    if config.optimizer != "sgd" or config.schedule != "constant":
        raise ValueError(
            "the (eps, gamma)-network takes plain SGD steps at a constant rate (the paper's eqs. "
            f"(2)-(3)); got optimizer {config.optimizer!r}, schedule {config.schedule!r}"
        )


# --------------------------------------------------------------------------- initialisation


def init(key, net: NetConfig) -> dict:
    """Weights W^l (out, in) and zero biases; also |X^[0,l,j]|_F^2 for rows and columns.

    Standard: W ~ N(0, 1/fan_in). Low rank: W = U V^T / sqrt(r fan_in) with U, V ~ N(0, 1) of
    rank r, the same variance, stored as r vectors per row (and per column).
    """
    params, rows, cols = [], [], []
    for n_in, n_out in zip(net.sizes[:-1], net.sizes[1:], strict=True):
        key, k1, k2 = jax.random.split(key, 3)
        if net.init == "standard":
            w = jax.random.normal(k1, (n_out, n_in)) / math.sqrt(n_in)
            row2, col2 = jnp.sum(w * w, axis=1), jnp.sum(w * w, axis=0)
        else:
            scale = 1 / math.sqrt(net.rank * n_in)
            u = jax.random.normal(k1, (n_out, net.rank)) * math.sqrt(scale)
            v = jax.random.normal(k2, (n_in, net.rank)) * math.sqrt(scale)
            w = u @ v.T
            # Row j of W is sum_k U_jk V_k: r stored vectors; column i is sum_k V_ik U_k.
            row2 = (u * u) @ jnp.sum(v * v, axis=0)
            col2 = (v * v) @ jnp.sum(u * u, axis=0)
        params.append({"w": w, "b": jnp.zeros(n_out)})
        rows.append(row2)
        cols.append(col2)
    return {"params": params, "rows": rows, "cols": cols}


def initial_state(key, net: NetConfig, lr: float) -> dict:
    """``init`` plus the SGD state: what a training step carries and a checkpoint keeps."""
    state = init(key, net)
    return {**state, "opt": optax.sgd(lr).init(state["params"])}


# --------------------------------------------------------------------------- forward / backward

Products = Callable[[jax.Array, jax.Array, jax.Array], tuple[jax.Array, jax.Array]]


def estimator_products(est: Estimator) -> Products:
    """(key, W, A) -> (S, cost): S[b, j] ~ <W_j, A_b> by the estimator ``est``."""
    return lambda key, w, a: estimators.matrix(est, key, w, a)


def circuit_products(circuit) -> Products:
    """(key, W, A) -> (S, cost) measured by ``hybrid.ripe.inner_product.CircuitInnerProducts``.

    Runs on the host through ``jax.pure_callback``, so the jit-compiled training step sends every
    inner product of every iteration through the QNodes. Cost per pair: its shots (state
    preparations, as for the ``shots`` estimator), or one circuit when analytic.
    """
    per_pair = float(circuit.profile.shots or 1)

    def host(w, a):
        dtype = a.dtype  # float32 unless jax_enable_x64: the callback must return that dtype
        w, a = np.asarray(w, dtype=float), np.asarray(a, dtype=float)
        pairs_w = np.broadcast_to(w[None, :, :], (a.shape[0], *w.shape)).reshape(-1, w.shape[1])
        pairs_a = np.broadcast_to(a[:, None, :], (a.shape[0], *w.shape)).reshape(-1, w.shape[1])
        s = circuit(pairs_w, pairs_a, zero="allow")
        return s.reshape(a.shape[0], w.shape[0]).astype(dtype)

    def products(key, w, a):
        shape = jax.ShapeDtypeStruct((a.shape[0], w.shape[0]), a.dtype)
        s = jax.pure_callback(host, shape, w, a)
        return s, jnp.full_like(s, per_pair)

    return products


def _ratio(norm_w, a, ip):
    """|w_j| |a_b| / max(1, |<w_j, a_b>|) for every pair (b, j), given the norms |w_j|."""
    return jnp.linalg.norm(a, axis=1)[:, None] * norm_w[None, :] / jnp.maximum(1.0, jnp.abs(ip))


def forward(params, x, products: Products, key, net: NetConfig):
    """Activations, pre-activations and exact <W_j, a> of every layer, estimated products."""
    acts, zs, ips, cost = [x], [], [], 0.0
    keys = jax.random.split(key, len(params))
    for i, layer in enumerate(params):
        a = acts[-1]
        s, c = products(keys[i], layer["w"], a)
        z = s + layer["b"]
        last = i == len(params) - 1
        acts.append(z if (last and net.loss == "softmax_ce") else jnp.tanh(z))
        zs.append(z)
        ips.append(a @ layer["w"].T)  # exact, for the R terms (the same product when exact)
        cost = cost + jnp.sum(c)
    return acts, zs, ips, cost


def predict_scores(params, x, net: NetConfig, products: Products | None = None, key=None):
    """Network outputs; exact inner products unless ``products`` (and a key) are given.

    The exact outputs go through ``hybrid.deploy.architecture.apply``, the code the exported NumPy
    classifier runs, so training-time accuracy and the deployed model cannot drift apart.
    """
    if products is None:
        return architecture.apply(layers(net), _flat(params), x, xp=jnp)
    return forward(params, x, products, key, net)[0][-1]


def loss_value(out, targets, net: NetConfig):
    if net.loss == "mse":
        return 0.5 * jnp.mean(jnp.sum((out - targets) ** 2, axis=-1))
    return jnp.mean(optax.softmax_cross_entropy(out, targets))


def gradients(params, x, targets, products: Products, key, net: NetConfig):
    """Backpropagation with estimated inner products; returns (grads, aux) for one mini-batch."""
    k_fwd, k_bwd = jax.random.split(key)
    acts, zs, ips, cost = forward(params, x, products, k_fwd, net)
    out = acts[-1]
    # Output error: d(loss)/dz per example (tanh + quadratic, or softmax + cross-entropy).
    mse = net.loss == "mse"
    delta = (out - targets) * (1 - out**2) if mse else jax.nn.softmax(out) - targets
    deltas = [delta]
    back_ips = []
    keys = jax.random.split(k_bwd, len(params))
    for i in range(len(params) - 1, 0, -1):
        w = params[i]["w"]
        s, c = products(keys[i], w.T, delta)  # <(W^T)_j, delta>: columns of W with delta
        back_ips.insert(0, delta @ w)  # exact <(W^T)_k, delta>, layers 1..L-1 in order
        delta = s * (1 - acts[i] ** 2)
        deltas.insert(0, delta)
        cost = cost + jnp.sum(c)
    m = x.shape[0]
    grads = [
        {"w": d.T @ a / m, "b": jnp.mean(d, axis=0)} for d, a in zip(deltas, acts[:-1], strict=True)
    ]
    aux = {
        "loss": loss_value(out, targets, net),
        "cost": cost,
        "ips": ips,
        "back_ips": back_ips,
        "deltas": deltas,
        "acts": acts,
    }
    return grads, aux


def _r_terms(state, new_params, aux, lr, m):
    """The storage after this iteration's update, and the R terms of iteration t (see the
    module docstring): the paper's R_a, R_delta, R_W from the storage the iteration used, and
    the older maxima under their own names."""
    params = state["params"]
    rows, cols = [], []
    for i, (d, a) in enumerate(zip(aux["deltas"], aux["acts"][:-1], strict=True)):
        step = jnp.square(
            jnp.asarray(lr / m, dtype=d.dtype)
        )  # inf, not OverflowError, for a huge lr
        rows.append(state["rows"][i] + step * (d * d).T @ jnp.sum(a * a, axis=1))
        cols.append(state["cols"][i] + step * (a * a).T @ jnp.sum(d * d, axis=1))
    neurons = sum(layer["w"].shape[0] for layer in params)  # N - n_1
    acts, deltas = aux["acts"][:-1], aux["deltas"][1:]
    fwd = [
        _ratio(jnp.sqrt(r2), a, ip)
        for r2, a, ip in zip(state["rows"], acts, aux["ips"], strict=True)
    ]
    bwd = [
        _ratio(jnp.sqrt(c2), d, ip)
        for c2, d, ip in zip(state["cols"][1:], deltas, aux["back_ips"], strict=True)
    ]
    per_example = jnp.zeros(m)

    def mean_over_examples(parts):
        total = sum((jnp.sum(p, axis=1) for p in parts), per_example)
        return jnp.mean(total) / neurons

    storage_over_w = [
        jnp.sqrt(r2) / jnp.maximum(jnp.linalg.norm(layer["w"], axis=1), 1e-30)
        for r2, layer in zip(state["rows"], params, strict=True)
    ]
    weight_fwd = [
        _ratio(jnp.linalg.norm(layer["w"], axis=1), a, ip)
        for layer, a, ip in zip(params, acts, aux["ips"], strict=True)
    ]
    weight_bwd = [
        _ratio(jnp.linalg.norm(layer["w"], axis=0), d, ip)
        for layer, d, ip in zip(params[1:], deltas, aux["back_ips"], strict=True)
    ]
    after = []
    for layer, r2, c2 in zip(new_params, rows, cols, strict=True):
        w = layer["w"]
        after.append(jnp.sqrt(r2) / jnp.maximum(jnp.linalg.norm(w, axis=1), 1e-30))
        after.append(jnp.sqrt(c2) / jnp.maximum(jnp.linalg.norm(w, axis=0), 1e-30))

    def largest(parts):
        return jnp.max(jnp.concatenate([p.reshape(-1) for p in parts])) if parts else 0.0

    terms = {
        "R_a": mean_over_examples(fwd),
        "R_delta": mean_over_examples(bwd),
        "R_W": sum(jnp.sum(r) for r in storage_over_w) / (m * neurons),
        "Ra_weightnorm_max": largest(weight_fwd),
        "Rdelta_weightnorm_max": largest(weight_bwd),
        "storage_ratio_max": largest(after),
    }
    return rows, cols, terms


def make_step(net: NetConfig, products: Products, lr: float, r_terms: bool = True):
    """One (eps, gamma)-training iteration: (state, (key, x, targets)) -> (state, log).

    The update is plain SGD (the paper's eqs. (2)-(3)); R_W's implicit storage assumes it.
    ``r_terms=False`` logs only loss and cost (and leaves the storage norms as they are): for
    timing the training itself.
    """
    optimizer = optax.sgd(lr)

    def step(state, batch):
        key, x, targets = batch
        grads, aux = gradients(state["params"], x, targets, products, key, net)
        updates, opt_state = optimizer.update(grads, state["opt"], state["params"])
        params = optax.apply_updates(state["params"], updates)
        if r_terms:
            rows, cols, terms = _r_terms(state, params, aux, lr, x.shape[0])
        else:
            rows, cols, terms = state["rows"], state["cols"], {}
        log = {"loss": aux["loss"], "cost": aux["cost"], **terms}
        return {"params": params, "opt": opt_state, "rows": rows, "cols": cols}, log

    return step


# --------------------------------------------------------------------------- the training run


@dataclass
class History:
    """Per-iteration logs and periodic evaluations of one run (JSON-able via ``to_dict``)."""

    step: dict[str, list[float]] = field(
        default_factory=lambda: {k: [] for k in ("loss", "cost", *R_KEYS)}
    )
    evals: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"step": self.step, "evals": self.evals}


def _batches(n: int, steps: int, m: int, seed: int) -> np.ndarray:
    """Indices (steps, M): consecutive shuffles of the training set, fixed by ``seed``."""
    rng = np.random.default_rng(seed)
    per_epoch = max(1, n // m)
    epochs = -(-steps // per_epoch)
    idx = [rng.permutation(n)[: per_epoch * m].reshape(per_epoch, m) for _ in range(epochs)]
    return np.concatenate(idx)[:steps]


def _one_hot(y, classes: int) -> np.ndarray:
    return np.eye(classes, dtype=float)[np.asarray(y)]


def _examples(x) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    return x.reshape(x.shape[0], -1)


@functools.lru_cache(maxsize=32)
def _compiled(net: NetConfig, source, lr: float):
    """The jitted training chunk and test-set scorers for an estimator or a circuit source.

    Cached, so that the seeds and rows of a table compile once instead of once per run; test
    inputs are arguments, not constants baked into the compiled code.
    """
    products = (
        estimator_products(source) if isinstance(source, Estimator) else (circuit_products(source))
    )
    step = make_step(net, products, lr)
    chunk = jax.jit(lambda state, batch: jax.lax.scan(step, state, batch))
    exact = jax.jit(lambda params, x: predict_scores(params, x, net))
    noisy = jax.jit(lambda params, x, key: predict_scores(params, x, net, products, key))
    return chunk, exact, noisy


def train(
    x_train,
    y_train,
    x_test=None,
    y_test=None,
    *,
    net: NetConfig,
    config: TrainConfig = PAPER,
    estimator: Estimator | None = None,
    circuit=None,
    run_dir: str | Path | None = None,
    resume: bool = False,
    verbose: bool = True,
) -> tuple[list[dict], History]:
    """Train an (eps, gamma)-network; returns (params, history).

    ``estimator`` picks the inner-product estimator (default exact); ``circuit`` (a
    ``CircuitInnerProducts``) sends every inner product through QNodes instead. Test accuracy is
    evaluated every ``config.eval_every`` iterations both noise-free (what the exported NumPy
    classifier computes) and with the run's estimator (the paper's (eps, gamma) evaluation).
    With ``run_dir``, the checkpoint and metrics.json of ``hybrid.training.RunRecord`` are
    written after every evaluation, and ``resume=True`` continues this run's checkpoint (another
    setup's is refused). Ctrl-C stops after the current chunk of iterations, checkpointed.
    """
    check_config(config)
    estimator = estimator or Estimator()
    x_train, x_test = _examples(x_train), None if x_test is None else _examples(x_test)
    if x_train.shape[1] != net.sizes[0]:
        raise ValueError(f"inputs have {x_train.shape[1]} features, the net expects {net.sizes[0]}")
    targets = _one_hot(y_train, net.sizes[-1])
    lr, steps = config.learning_rate, config.steps
    chunk, exact, noisy = _compiled(net, estimator if circuit is None else circuit, lr)
    key = jax.random.key(config.seed)
    k_init, k_train = jax.random.split(key)
    state = initial_state(k_init, net, lr)
    # Batches and keys are fixed by the whole setup, so only the same setup can be resumed.
    identity = {
        "net": asdict(net),
        "estimator": asdict(estimator),
        "circuit": circuit is not None,
        "data": training.fingerprint(x_train, np.asarray(y_train)),
    }
    record = training.RunRecord(Path(run_dir) if run_dir is not None else None, config, identity)
    history, start = History(), 0
    if resume and (restored := record.resume(state)) is not None:
        state, meta = restored
        history = History(step=meta["history"]["step"], evals=meta["history"]["evals"])
        start = len(history.step["loss"])
        if verbose:
            print(f"resuming at iteration {start}", file=sys.stderr)
    order = _batches(len(x_train), steps, config.batch_size, config.seed)
    keys = jax.random.split(k_train, steps)
    noisy_eval = circuit is not None or not estimator.noiseless
    evaluate = _evaluator(exact, noisy if noisy_eval else None, x_test, y_test)
    t0 = time.perf_counter()
    with training.ctrl_c_between_steps() as pressed:
        while start < steps:
            stop = min(steps, start + (config.eval_every or steps))
            idx = order[start:stop]
            batch = (keys[start:stop], jnp.asarray(x_train[idx]), jnp.asarray(targets[idx]))
            new_state, logs = chunk(state, batch)
            _check_finite(start, np.asarray(logs["loss"]), new_state["params"], config, record)
            state = new_state
            for name, values in logs.items():
                history.step[name].extend(np.asarray(values, dtype=float).tolist())
            row = {"t": stop, "loss": float(np.mean(np.asarray(logs["loss"])))}
            history.evals.append(row | evaluate(state["params"], jax.random.fold_in(key, stop)))
            start = stop
            if verbose:
                shown = " ".join(f"{k} {v:.4g}" for k, v in history.evals[-1].items() if k != "t")
                elapsed = time.perf_counter() - t0
                print(f"[{stop}/{steps}] {shown} ({elapsed:.1f} s)", file=sys.stderr)
            record.save(state, {"t": stop}, history.to_dict())
            if pressed and start < steps:
                raise record.interrupted(f"iteration {stop} of {steps}")
    return state["params"], history


def _check_finite(start: int, losses: np.ndarray, params, config: TrainConfig, record) -> None:
    """Stop at the first iteration of a chunk whose loss is not finite (or at the chunk's end if
    only the parameters are), before that chunk is checkpointed or exported."""
    bad = np.flatnonzero(~np.isfinite(losses))
    if bad.size == 0 and bool(training.all_finite(params)):
        return
    at = start + (int(bad[0]) + 1 if bad.size else len(losses))
    loss = float(losses[bad[0]]) if bad.size else float(losses[-1])
    raise training.diverged(f"iteration {at} of {config.steps}", loss, config, record.run_dir)


def _evaluator(exact, noisy, x_test, y_test):
    """Test accuracy noise-free and, when ``noisy`` is given, with the run's estimates."""
    if x_test is None:
        return lambda params, key: {}
    x = jnp.asarray(x_test)
    y = np.asarray(y_test)

    def evaluate(params, key):
        out = {"test_acc": float(np.mean(np.argmax(np.asarray(exact(params, x)), 1) == y))}
        if noisy is not None:
            pred = np.argmax(np.asarray(noisy(params, x, key)), 1)
            out["test_acc_noisy"] = float(np.mean(pred == y))
        else:
            out["test_acc_noisy"] = out["test_acc"]
        out["test_correct"] = int(round(out["test_acc"] * len(y)))
        out["test_correct_noisy"] = int(round(out["test_acc_noisy"] * len(y)))
        return out

    return evaluate


# --------------------------------------------------------------------------- export and plots


def layers(net: NetConfig) -> list[dict]:
    """The network as ``hybrid.deploy.architecture`` layers: dense + tanh (no last tanh for CE)."""
    stack = architecture.mlp(net.sizes[1:-1], net.sizes[-1], net.activation)
    return [*stack, {"type": net.activation}] if net.loss == "mse" else stack


def _flat(params) -> list:
    """[W_1^T, b_1, W_2^T, ...]: the parameter order of ``hybrid.deploy.architecture``."""
    return [a for layer in params for a in (layer["w"].T, layer["b"])]


def export(
    run_dir,
    params,
    net: NetConfig,
    *,
    preprocessing: dict,
    class_names: Sequence[str],
    input_shape: Sequence[int] | None = None,
    extra: dict | None = None,
) -> Path:
    """Save the trained weights as a "network" run the NumPy classifier evaluates noise-free."""
    from hybrid.deploy.runs import save_network

    weights = np.concatenate([np.ravel(np.asarray(a)) for a in _flat(params)])
    return save_network(
        run_dir,
        layers(net),
        list(input_shape or [net.sizes[0]]),
        weights,
        preprocessing=preprocessing,
        class_names=[str(c) for c in class_names],
        trainer="ripe",
        **(extra or {}),
    )


def plot_history(history: History | dict, path) -> Path | None:
    """Accuracy and R_a, R_delta, R_W against t (the paper's Figs. 5-6), as one PNG."""
    from hybrid.training import pyplot

    if (plt := pyplot()) is None:
        return None

    h = history.to_dict() if isinstance(history, History) else history
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ts = [e["t"] for e in h["evals"]]
    for key in ("test_acc", "test_acc_noisy"):
        if h["evals"] and key in h["evals"][0]:
            ax1.plot(ts, [e[key] for e in h["evals"]], label=key)
    ax1.set_xlabel("iteration t")
    ax1.set_ylabel("test accuracy")
    ax1.legend()
    t = np.arange(1, len(h["step"]["R_a"]) + 1)
    for key in ("R_a", "R_delta", "R_W"):
        ax2.plot(t, h["step"][key], label=key, lw=0.8)
    ax2.set_yscale("log")
    ax2.set_xlabel("iteration t")
    ax2.legend()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def summary(history: History) -> dict:
    """Final accuracies, R terms (the paper's: mean over the run; the older maxima: max over
    it) and total quantum cost."""
    last = history.evals[-1] if history.evals else {}
    out = {
        k: last[k]
        for k in ("test_acc", "test_acc_noisy", "test_correct", "test_correct_noisy")
        if k in last
    }
    for key in ("R_a", "R_delta", "R_W"):  # the paper's tables: mean over t (and m)
        out[key] = float(np.mean(history.step[key]))
    for key in ("Ra_weightnorm_max", "Rdelta_weightnorm_max", "storage_ratio_max"):
        out[key] = float(np.max(history.step[key]))
    out["cost_total"] = float(np.sum(history.step["cost"]))
    out["final_loss"] = float(history.step["loss"][-1])
    return out


# --------------------------------------------------------------------------- CLI


def run(
    dataset: str,
    out: str | Path,
    *,
    hidden: Sequence[int] = (10,),
    loss: str = "mse",
    init: str = "standard",
    rank: int = 6,
    config: TrainConfig = PAPER,
    estimator: Estimator | None = None,
    device: str | None = None,
    shots: int | None = None,
    source: str = "auto",
    limit: int | None = None,
    resume: bool = False,
    overwrite: bool = False,
) -> dict:
    """``hybrid train ripe``: load data, train, export, plot; returns the summary.

    ``device`` (a profile name) sends every inner product through the Hadamard-test QNodes of
    ``hybrid.ripe.inner_product`` on it, with ``shots``; otherwise ``estimator`` estimates them.
    ``out`` is claimed as every run directory is (``hybrid.deploy.runs.claim``): another run's
    directory only with ``resume`` or ``overwrite``, one process at a time.
    """
    from hybrid import data
    from hybrid.deploy.runs import CURVE, check_out, claim

    check_out(out, resume=resume, overwrite=overwrite)  # before any work
    check_config(config)
    kw = {"source": source} if source != "auto" else {}
    train_ds = data.load(dataset, "train", limit=limit, **kw)
    test_ds = data.load(dataset, "test", **kw)
    sizes = (int(np.prod(train_ds.input_shape)), *hidden, train_ds.num_classes)
    net = NetConfig(sizes=sizes, loss=loss, init=init, rank=rank)
    circuit = None
    if device is not None:
        from hybrid.ripe.inner_product import CircuitInnerProducts

        circuit = CircuitInnerProducts(device, shots=shots, seed=config.seed)
    estimator = Estimator() if circuit is not None else (estimator or Estimator())
    with claim(out, resume=resume, overwrite=overwrite):
        params, history = train(
            train_ds.x,
            train_ds.y,
            test_ds.x,
            test_ds.y,
            net=net,
            config=config,
            estimator=estimator,
            circuit=circuit,
            run_dir=out,
            resume=resume,
        )
        result = summary(history)
        export(
            out,
            params,
            net,
            preprocessing=train_ds.preprocessing,
            class_names=train_ds.class_names,
            input_shape=train_ds.input_shape,
            extra={
                "training": {
                    "net": asdict(net),
                    "train": asdict(config),
                    "estimator": "circuit" if circuit else asdict(estimator),
                    "device": device,
                },
                "metrics": result,
            },
        )
        plot_history(history, Path(out) / CURVE)
    return result
