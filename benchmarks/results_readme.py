"""Write docs/results/<algorithm>/README.md: what each result file is, where and how it was made.

Why: a result file is worth keeping only if a reader can tell what it holds, which machine
produced it and which command reproduces it. The figures live in the files themselves; this
script reads them (standard library only) and writes the index, so a README never drifts from
its data. A JSON file that records no command (or no machine) gets a warning line here and
"not recorded" in its README. Re-running gives identical output.

    python benchmarks/results_readme.py            # write every README
    python benchmarks/results_readme.py --check    # exit 1 if a README is out of date
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results"
MAX_ROWS = 30

# Folder -> (title, the guide that reads these files).
FOLDERS = {
    "quantum_train": ("Quantum-Train", "quantum_train.md"),
    "ripe": ("RIPE and (ε,γ)-feedforward networks", "ripe.md"),
    "ntk": ("Quantum NTK", "ntk.md"),
    "hardware": ("Hardware: plugins, shots, resource reports", "hardware.md"),
    "cli": ("The `hybrid` command", "../README.md"),
}

# Path inside a folder (glob patterns allowed) -> (what it is, command for files without one).
ABOUT: dict[str, tuple[str, str]] = {
    "quantum_train/ablations.json": (
        "QT and its controls with a validation split (each row's `scale`: full or reduced)",
        "",
    ),
    "quantum_train/bench_cpu.json": ("one QT step per gradient route at 10, 13, 16 qubits", ""),
    "quantum_train/bench_gpu_h200.log": (
        "log of every GPU check (routes, precision, memory, tests/test_qnn.py, RIPE epoch)",
        "bash benchmarks/on_gpu.sh",
    ),
    "quantum_train/bench_gpu_h200_f32.json": ("one QT step on the GPU, float32", ""),
    "quantum_train/bench_gpu_h200_f64.json": ("one QT step on the GPU, float64", ""),
    "quantum_train/bench_gpu_h200_memory.json": ("peak GPU memory of one QT step", ""),
    "quantum_train/bench_in_place_cpu*.json": ("QNN gradient, whole-state against in place", ""),
    "quantum_train/bench_step_in_place_cpu_20.json": (
        "whole QT step at 20 qubits, whole-state against in place (lean)",
        "",
    ),
    "quantum_train/bench_memory_cpu.json": ("peak memory of one QT step at 20 qubits", ""),
    "quantum_train/bench_memory_qnn_cpu.json": ("peak memory of the QNN gradient at 20 qubits", ""),
    "quantum_train/bench_memory_cpu_repeat.txt": (
        "two more runs of the lean step's peak memory at 20 qubits",
        "python benchmarks/bench_quantum_train.py --memory --qubits 20 "
        "--profiles jax@in-place jax@in-place",
    ),
    "quantum_train/bench_peers_cpu.txt": (
        "routes and peer stacks at 10 qubits (the run stopped before writing its JSON)",
        "python benchmarks/bench_peers.py --qubits 10 13 16 --repeats 3 --memory-qubits 16",
    ),
    "quantum_train/bench_peers_cpu_13_16.json": ("routes and peer stacks at 13 and 16 qubits", ""),
    "quantum_train/bench_sweep_cpu_*.json": ("`auto` against `jax` and lightning.qubit", ""),
    "quantum_train/bench_sweep_cpu_20_in_place.json": (
        "the routes `auto` chooses from, 20 qubits",
        "",
    ),
    "quantum_train/fashion_mnist.json": ("every Fashion-MNIST row: QT, control, classical CNN", ""),
    "quantum_train/fashion_mnist.png": (
        "test accuracy against trainable parameters, Fashion-MNIST",
        "python examples/quantum_train_fashion_mnist.py --plot",
    ),
    "quantum_train/iris_seed*.log": (
        "Iris example: Quantum-Train and baseline, one seed",
        "python examples/quantum_train_iris.py --seed S",
    ),
    "quantum_train/mnist_*_metrics.json": ("per-epoch metrics of an MNIST run", ""),
    "quantum_train/mnist_qt_curve.png": (
        "learning curve (loss, test accuracy) of the MNIST example's Quantum-Train model",
        "HYBRID_DATA_DIR=../shared/data python examples/quantum_train_mnist.py",
    ),
    "quantum_train/mnist_example.log": (
        "the MNIST example on the offline split",
        "HYBRID_DATA_DIR=../shared/data python examples/quantum_train_mnist.py",
    ),
    "quantum_train/mnist_dq.log": (
        "the MNIST example on default.qubit",
        "HYBRID_DATA_DIR=../shared/data python examples/quantum_train_mnist.py "
        "--device default.qubit --no-baseline",
    ),
    "quantum_train/mnist_const.log": (
        "MNIST Quantum-Train with a constant learning rate",
        "HYBRID_DATA_DIR=../shared/data hybrid train quantum-train --dataset mnist --source idx "
        "--schedule constant --epochs 15 --device default.qubit --out runs/qt-constant",
    ),
    "quantum_train/mnist_sample_example.log": (
        "the MNIST example on the bundled sample (no data set installed)",
        "python examples/quantum_train_mnist.py",
    ),
    "ripe/bench_cpu.json": ("one training epoch per estimator, CPU", ""),
    "ripe/bench_gpu_h200.json": ("one training epoch per estimator, GPU", ""),
    "ripe/circuit_iris*.json": ("Iris 4-10-3 trained with every inner product a circuit", ""),
    "ripe/fig7.json": ("the paper's Fig. 7 check: RIPE and Gaussian samples", ""),
    "ripe/fig7.png": ("Fig. 7 histograms", "python examples/ripe_fig7.py --samples 10000"),
    "ripe/iris_*_eps*.png": (
        "Table II row, seed 0: accuracy and R terms against t",
        "python examples/ripe_iris.py table --repeats 5 --eval-every 50 "
        "--plot-dir docs/results/ripe --out docs/results/ripe/table2_iris.json",
    ),
    "ripe/mnist_*_eps*.png": (
        "Table I row: accuracy and R terms against t",
        "HYBRID_DATA_DIR=../shared/data python examples/ripe_mnist.py --source idx --estimator E "
        "--init I --eps ε --plot-dir docs/results/ripe "
        "--out docs/results/ripe/table1_mnist_offline.json",
    ),
    "ripe/ripe_seeds_mnist.json": ("RIPE Table I rows at seeds 1 and 2", ""),
    "ripe/study_mnist.json": (
        "why accuracy falls with ε: shorter runs, the other noise reading",
        "",
    ),
    "ripe/table1_mnist_offline.json": ("Table I on the offline MNIST split", ""),
    "ripe/table2_iris.json": ("Table II, Iris, 5 seeds per row", ""),
    "ntk/bench_cpu.json": ("FC NTK Gram matrix, analytic against empirical", ""),
    "ntk/cnn/ntk_cnn.png": (
        "CNN study: accuracy, κ, 1/P and readout against n",
        "HYBRID_DATA_DIR=../shared/data python examples/ntk_mnist.py --arch cnn --source idx "
        "--no-finite --out docs/results/ntk",
    ),
    "ntk/cnn/study.json": ("CNN (1 vs 0) study, empirical NTK, pooled statistics", ""),
    "ntk/cnn_finite/study.json": (
        "earlier CNN study with the finite CNN trained (per-trial statistics, f = 0.66)",
        "",
    ),
    "ntk/cnn_oracle.json": ("finite Myrtle CNN NTK against neural-tangents' infinite one", ""),
    "ntk/fc/ntk_fc.png": (
        "FC study: accuracy, κ, 1/P and readout against n",
        "HYBRID_DATA_DIR=../shared/data python examples/ntk_mnist.py --arch fc --source idx "
        "--out docs/results/ntk",
    ),
    "ntk/fc/study.json": ("FC (8 vs 9) study, pooled statistics", ""),
    "ntk/qsvt.json": ("QSVT solves of sparsified n = 16 systems", ""),
    "hardware/aer_overhead.txt": (
        "where parameter-shift on qiskit.aer spends its time (timings and a profile)",
        "python benchmarks/hardware_aer_overhead.py | tee docs/results/hardware/aer_overhead.txt",
    ),
    "hardware/iris-*.json": ("weak Iris model trained with shots (SPSA), 40 epochs", ""),
    "hardware/iris.json": ("weak Iris model: inference with shots, 60-epoch SPSA training", ""),
    "hardware/iris_example_config.json": ("the Iris example's setup on devices with shots", ""),
    "hardware/noisy_eval.json": ("analytic parameters evaluated on the noisy fake backend", ""),
    "hardware/qsvt_sample.json": ("QSVT solve sampled with shots on plugin devices", ""),
    "hardware/resources.json": ("resource reports: MNIST QT, one d = 784 inner product, QSVT", ""),
    "cli/bench_cli.json": ("time to answer of `hybrid --help` and `hybrid predict`", ""),
}


def about(rel: str) -> tuple[str, str]:
    """(what it is, fallback command) of a file, by its most specific matching pattern."""
    if rel in ABOUT:
        return ABOUT[rel]
    matches = sorted((p for p in ABOUT if fnmatch.fnmatch(rel, p)), key=len, reverse=True)
    return ABOUT[matches[0]] if matches else ("", "")


def fmt(value: Any) -> str:
    """A cell: floats to 4 significant digits, lists joined, None as a dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ", ".join(fmt(v) for v in value)
    return str(value).replace("|", "\\|")


def table(header: list[str], rows: list[list[Any]]) -> list[str]:
    """A Markdown table of at most MAX_ROWS rows, with a note of how many were left out."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows[:MAX_ROWS]]
    if len(rows) > MAX_ROWS:
        lines.append(f"\n({len(rows) - MAX_ROWS} more rows in the file)")
    return lines


def columns(rows: list[dict], keys: list[str]) -> tuple[list[str], list[list[Any]]]:
    """The keys present in any row, and each row's values for them."""
    present = [k for k in keys if any(k in r for r in rows)]
    return present, [[r.get(k) for k in present] for r in rows]


def command_of(data: dict) -> str:
    """The recorded command(s): a string, an argv list, or a list of invocations."""
    cmd = data.get("command")
    if isinstance(cmd, list):
        first = "" if cmd[0].startswith("python") else "python "
        return first + shlex.join(cmd)
    if isinstance(cmd, str):  # some scripts recorded their argv without the interpreter
        return f"python {cmd}" if cmd.split(" ", 1)[0].endswith(".py") else cmd
    commands = data.get("commands")
    if isinstance(commands, list) and commands:
        return "; ".join(f"`{c}`" for c in commands).strip("`")
    runs = data.get("runs")
    if isinstance(runs, dict):
        found = [r["command"] for r in runs.values() if isinstance(r, dict) and "command" in r]
        return "; ".join(f"`{c}`" for c in found).strip("`")
    rows = data.get("rows")
    if isinstance(rows, list):
        found = sorted({r["command"] for r in rows if isinstance(r, dict) and "command" in r})
        return "; ".join(f"`{c}`" for c in found).strip("`")
    return ""


def machine_of(data: dict) -> str:
    """The recorded machine, as one line."""
    machine = data.get("machine")
    if isinstance(machine, dict):
        return ", ".join(f"{k} {v}" for k, v in machine.items() if v not in ("", None))
    return str(machine) if machine else ""


# Renderers: each takes a file's JSON and returns table lines, or [] when it does not apply.


def bench_steps(data: dict) -> list[str]:
    rows = data.get("rows")
    if not (isinstance(rows, list) and rows and "n_qubits" in rows[0]):
        return []
    out = []
    for r in rows:
        cells = {
            "n": r["n_qubits"],
            "route": r.get("profile", r.get("route")),
            "part": r.get("part"),
            "ms per step": 1000 * r["step_s"] if "step_s" in r else None,
            "ratio": r.get("ratio", r.get("to_fastest")),
            "peak (states)": r.get("peak_in_states"),
            "XLA plan (states)": r.get("xla_plan_in_states"),
        }
        out.append({k: v for k, v in cells.items() if v is not None})
    keys = ["n", "route", "part", "ms per step", "ratio", "peak (states)", "XLA plan (states)"]
    return table(*columns(out, keys))


def bench_ripe(data: dict) -> list[str]:
    rows = data.get("rows")
    if not (isinstance(rows, list) and rows and "ratio_to_exact" in rows[0]):
        return []
    keys = ["estimator", "eps", "median_s", "ratio_to_exact", "ratio_per_round_median"]
    return table(*columns(rows, keys))


def any_model(data: dict) -> list[str]:
    """Quantum-Train of any model: one row per run (any_model.json)."""
    rows = data.get("rows")
    if not (isinstance(rows, list) and rows and all("framework" in r for r in rows)):
        return []
    keys = ["framework", "n_weights", "n_qubits", "chunks", "n_trainable", "depth", "scale"]
    keys += ["mapping_activation", "seed", "epochs", "n_train", "val_accuracy", "test_accuracy"]
    return table(*columns(rows, [*keys, "seconds_per_epoch"]))


def bench_cli(data: dict) -> list[str]:
    results = data.get("results")
    if not (isinstance(results, dict) and all("wall_s" in r for r in results.values())):
        return []
    rows = [[name, r["wall_s"], r["cpu_s"], r["heavy_imports"]] for name, r in results.items()]
    return table(["command", "wall s (median)", "CPU s", "heavy imports"], rows)


def defaults_check(data: dict) -> list[str]:
    """Quantum-Train with every default against its classical baseline, per data set."""
    results = data.get("results")
    if not (isinstance(results, dict) and all("qt_mean" in r for r in results.values())):
        return []
    rows = [[name, r["qt_mean"], r["classical_mean"]] for name, r in results.items()]
    return table(["data set", "QT test (mean of seeds)", "classical test"], rows)


def bench_ntk(data: dict) -> list[str]:
    rows = data.get("rows")
    if not (isinstance(rows, list) and rows and "path" in rows[0]):
        return []
    keys = ["path", "n", "depth", "width", "seconds", "cpu_seconds", "peak_rss_mb", "measured"]
    return table(*columns(rows, keys))


def accuracy_rows(data: dict) -> list[str]:
    """fig7, Table I/II, the RIPE studies, Fashion-MNIST: one row per configuration."""
    rows = data.get("rows")
    if not (isinstance(rows, list) and rows and isinstance(rows[0], dict)):
        return []
    first = rows[0]
    if "f" in first:
        keys = ["estimator", "eps", "gamma", "Q", "M", "f", "mean", "std", "exact_mean"]
    elif "test_correct_avg" in first:
        keys = ["estimator", "eps", "test_correct_avg", "test_correct_std"]
        keys += ["test_correct_noisy_avg", "R_a_avg", "R_delta_avg", "R_W_avg"]
    elif "test_acc" in first:
        rows = [r | {"seed": r["train"].get("seed"), "T": r["train"].get("steps")} for r in rows]
        keys = ["estimator", "init", "eps", "seed", "T", "test_acc", "test_acc_noisy"]
        keys += ["R_a", "R_delta", "R_W"]
    elif "test_accuracy" in first:
        keys = ["model", "ansatz", "depth", "seed", "epochs_run", "n_trainable"]
        keys += ["test_accuracy", "train_accuracy", "gap"]
    else:
        return []
    return table(*columns(rows, keys))


def circuit_run(data: dict) -> list[str]:
    if "circuits" not in data:
        return []
    keys = ["device", "shots", "circuits", "test_correct", "test_correct_noisy"]
    keys += ["numpy_classifier_test_acc", "seconds"]
    return table(keys, [[data.get(k) for k in keys]])


def history(data: dict) -> list[str]:
    hist = data.get("history")
    if not (isinstance(hist, list) and hist):
        return []
    cfg = data.get("config", {})
    last = hist[-1]
    header = ["epochs", "batch", "lr", "schedule", "train acc", "test acc", "loss"]
    row = [last.get("epoch"), cfg.get("batch_size"), cfg.get("learning_rate")]
    row += [cfg.get("schedule"), last.get("train_accuracy"), last.get("test_accuracy")]
    return table(header, [row + [last.get("loss")]])


def ntk_study(data: dict) -> list[str]:
    per_n = data.get("per_n")
    if not isinstance(per_n, dict):
        return []
    keys = ["acc_exact", "acc_sparse", "acc_diag", "acc_finite", "kappa", "post_selection"]
    keys += ["readout_sparse", "readout_diag"]
    rows = []
    for n in sorted(per_n, key=int):
        entry = per_n[n]
        pooled = entry.get("pooled", {})
        vals = []
        for k in keys:
            if k in pooled:
                vals.append(pooled[k]["value"])
            else:
                vals.append(entry[k]["mean"] if k in entry else None)
        rows.append([int(n)] + vals)
    kappa = keys.index("kappa") + 1
    if all(r[kappa] is not None and r[kappa] < 1.01 for r in rows):  # FC: κ − 1 is the figure
        keys[kappa - 1] = "kappa - 1"
        for r in rows:
            r[kappa] -= 1
    present = [i for i, k in enumerate(keys) if any(r[i + 1] is not None for r in rows)]
    header = ["n"] + [keys[i] for i in present]
    stat = "pooled" if all("pooled" in per_n[n] for n in per_n) else "mean over trials"
    return [f"Statistic: {stat}.", ""] + table(
        header, [[r[0]] + [r[i + 1] for i in present] for r in rows]
    )


def cnn_oracle(data: dict) -> list[str]:
    widths = data.get("widths")
    if not isinstance(widths, list):
        return []
    keys = ["width", "parameters", "relative_error_median", "relative_error_of_mean"]
    return table(*columns(widths, keys))


def ntk_qsvt(data: dict) -> list[str]:
    runs = data.get("runs")
    if not (isinstance(runs, list) and runs and "results" in runs[0]):
        return []
    rows = []
    for run in runs:
        for r in run["results"]:
            if "skipped" not in r:
                rows.append(
                    [run["eps"], r["depth"], r["kappa"], r["degree"]]
                    + [r["success_probability"], r["solution_error"], r["gates"]]
                )
    header = ["ε", "NTK depth", "κ", "degree", "P(success)", "solution error", "gates"]
    return table(header, rows)


def resources(data: dict) -> list[str]:
    reports = {k: v for k, v in data.items() if isinstance(v, dict)}
    if not (reports and all("model" in v for v in reports.values())):
        return []
    rows = []
    for name, r in reports.items():
        c = r.get("circuit", r)
        cost = r.get("per_epoch", r.get("per_inner_product", {}))
        rows.append(
            [name, c.get("qubits"), c.get("gates"), c.get("two_qubit_gates"), c.get("depth")]
            + [cost.get("executions"), cost.get("qpu_seconds"), cost.get("usd")]
        )
    header = ["model@profile", "qubits", "gates", "2-qubit", "depth", "executions"]
    return table(header + ["QPU s", "USD"], rows)


def flat(record: dict) -> dict:
    """The scalar fields of a record."""
    return {k: v for k, v in record.items() if not isinstance(v, (dict, list))}


def device_runs(data: dict) -> list[str]:
    """Runs keyed by name (the hardware files): histories, records, lists of records, numbers."""
    runs = data["runs"] if isinstance(data.get("runs"), dict) else data
    rows = []
    for name, r in runs.items():
        if isinstance(r, list) and r and all(isinstance(x, dict) for x in r):
            if "epoch" in r[-1]:  # a training history: its last epoch
                rows.append({"run": name} | flat(r[-1]))
            else:
                rows += [{"run": f"{name} [{i}]"} | flat(x) for i, x in enumerate(r)]
        elif isinstance(r, dict) and "history" in r:
            last = {k: v for k, v in r["history"][-1].items() if k in ("epoch", "test_accuracy")}
            rows.append({"run": name} | last | flat(r))
        elif isinstance(r, dict):
            rows.append({"run": name} | flat(r))
        elif isinstance(r, (int, float)) and not isinstance(r, bool):
            rows.append({"run": name, "value": r})
    skip = {"command", "n", "device", "loss", "wall_time_s"}
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys and k not in skip]
    return table(*columns(rows, keys)) if rows else []


RENDERERS: list[Callable[[dict], list[str]]] = [
    any_model,
    bench_steps,
    bench_ripe,
    bench_cli,
    defaults_check,
    bench_ntk,
    accuracy_rows,
    circuit_run,
    history,
    ntk_study,
    cnn_oracle,
    ntk_qsvt,
    resources,
    device_runs,
]


def text_machine(path: Path) -> str:
    """The 'machine: ...' line a benchmark printed into a text log, if any."""
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("machine: "):
            return line.removeprefix("machine: ")
    return ""


def entry(path: Path, folder: Path, warnings: list[str]) -> list[str]:
    """The README section of one result file."""
    rel = path.relative_to(folder).as_posix()
    what, fallback = about(f"{folder.name}/{rel}")
    lines = [f"## [{rel}]({rel})", ""]
    if what:
        lines += [what[0].upper() + what[1:] + ".", ""]
    name = f"docs/results/{folder.name}/{rel}"
    if path.suffix == ".json":
        data = json.loads(path.read_text())
        command, machine = command_of(data) or fallback, machine_of(data)
        for field, value in (("command", command), ("machine", machine)):
            if not value:
                warnings.append(f"warning: {name}: no {field} recorded")
        body = next((found for r in RENDERERS if (found := r(data))), [])
    else:
        command, machine = fallback, text_machine(path) if path.suffix in (".txt", ".log") else ""
        body = []
    lines.append(f"- machine: {machine or 'not recorded'}")
    lines.append(f"- command: `{command}`" if command else "- command: command not recorded")
    return lines + ([""] + body if body else []) + [""]


def readme(folder: Path, warnings: list[str]) -> str:
    """The whole README of one results folder."""
    title, guide = FOLDERS.get(folder.name, (folder.name, ""))
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "README.md")
    lines = [f"# Results: {title}", ""]
    lines.append("Generated by `python benchmarks/results_readme.py` from the files below; do not")
    lines.append("edit by hand. Figures are as each file records them (4 significant digits).")
    if guide:
        link = f"[{Path(guide).name}](../../{guide})"
        lines += ["", f"What they mean, and the papers' numbers beside them: {link}."]
    lines.append("")
    for path in files:
        lines += entry(path, folder, warnings)
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a README is out of date")
    args = parser.parse_args(argv)
    stale = []
    for folder in sorted(p for p in RESULTS.iterdir() if p.is_dir()):
        warnings: list[str] = []
        text = readme(folder, warnings)
        for line in warnings:
            print(line)
        target = folder / "README.md"
        if args.check:
            if not target.exists() or target.read_text() != text:
                stale.append(target)
        else:
            target.write_text(text)
    for path in stale:
        print(f"out of date: {path}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
