"""Resumable result tables for the reproduction scripts.

A table is a JSON file with ``rows``; each row records the settings it was trained with, so a
rerun skips a row only when one with the same settings is already there, and rows of a smoke
test with other settings can never pass for rows of the full reproduction. Every invocation's
command is kept in ``commands``.
"""

from __future__ import annotations

import fcntl
import json
import platform
import sys
from pathlib import Path

from hybrid.deploy.runs import atomic_write


def open_table(path: str | Path, **header) -> dict:
    """The table at ``path`` (its rows kept, this command added), or a new one with ``header``."""
    path = Path(path)
    table = json.loads(path.read_text()) if path.is_file() else {**header, "rows": []}
    old = table.pop("command", None)  # tables written before commands were kept as a list
    table["commands"] = [*table.get("commands", [old] if old else []), command()]
    table["machine"] = platform.platform()
    return table


def has_row(table: dict, **settings) -> bool:
    """Whether a row with exactly these settings (every key given) is already in the table."""
    settings = json.loads(json.dumps(settings))  # tuples as lists, as the file holds them
    return any(all(row.get(k) == v for k, v in settings.items()) for row in table["rows"])


def save_table(path: str | Path, table: dict) -> None:
    """Write ``table``, keeping the rows and commands another invocation saved since this one
    opened it: reproduction commands run side by side, and each would otherwise overwrite the
    other's rows with its own stale copy (a 10-epoch Fashion-MNIST row was lost that way)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f".{path.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if "rows" in table and path.is_file():
            table = _merged(json.loads(path.read_text()), table)
        atomic_write(path, json.dumps(table, indent=2).encode())


def _merged(disk: dict, table: dict) -> dict:
    """``table`` with the rows and commands of ``disk`` that it lacks, the file's first."""

    def union(key: str) -> list:
        ours = json.loads(json.dumps(table.get(key, [])))  # as the file holds them: no tuples
        theirs = disk.get(key, [])
        return theirs + [item for item in ours if item not in theirs]

    return table | {"rows": union("rows"), "commands": union("commands")}


def command() -> str:
    return " ".join(["python", *sys.argv])


def append_row(path: str | Path, row: dict, **header) -> None:
    """Add ``row``, with the command that made it, to the table at ``path`` (created with
    ``header`` if new)."""
    table = open_table(path, **header)
    table["rows"].append({**row, "command": table["commands"][-1]})
    save_table(path, table)


def generator_row(gen, args, history: list[dict], **fields) -> dict:
    """One table row of a generator example's run: the generator's counts, the options it was
    built with (``args``: depth, scale, mapping_activation, seed, epochs, out), the time per
    epoch from ``history``, and ``fields`` (model, framework, accuracies) first."""
    return {
        **fields,
        "n_weights": gen.n_weights,
        "n_qubits": gen.n_qubits,
        "chunks": gen.n_chunks,
        "n_trainable": gen.n_trainable,
        "depth": args.depth,
        "scale": args.scale,
        "mapping_activation": args.mapping_activation,
        "seed": args.seed,
        "epochs": args.epochs,
        "seconds_per_epoch": history[-1]["train_loop_s"] / args.epochs,
        "run": str(args.out),
    }
