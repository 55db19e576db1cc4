"""What the example scripts share. The demos: the snnc commands echoed and run as a user types
them, one target's artifact run on its executor against the target's integer reference, bit for
bit, and the results table with its verdict. The numpy trainers: the loss on output spike counts.

The scripts run as such (``python examples/<name>/demo.py``, ``.../train.py``), so each puts this
folder on ``sys.path`` before importing it.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from snnc import api
from snnc.ir.layers import Graph
from snnc.reference.simulate import Trace
from snnc.target import Target


def count_cross_entropy(counts: np.ndarray, labels: np.ndarray,
                        logit_scale: float) -> tuple[float, np.ndarray]:
    """Softmax cross-entropy of the output spike counts (batch, classes) scaled by
    ``logit_scale`` against integer ``labels``, and its gradient by the scaled counts per sample
    (softmax minus one-hot: the caller scales it by ``logit_scale`` and averages over the batch)."""
    logits = counts * logit_scale
    logits -= logits.max(1, keepdims=True)
    prob = np.exp(logits)
    prob /= prob.sum(1, keepdims=True)
    rows = np.arange(labels.shape[0])
    loss = -np.log(prob[rows, labels] + 1e-9).mean()
    prob[rows, labels] -= 1
    return loss, prob


def rel(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it, so the echoed
    commands read as a user would type them from there."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def cli(console: Console, *args: str) -> None:
    """Run one snnc command the way a user would, echoing it first."""
    snnc = Path(sys.executable).with_name("snnc")
    console.print(f"\n[bold]$ snnc {' '.join(shlex.quote(a) for a in args)}[/bold]")
    subprocess.run([str(snnc), *args], check=True)


def identical(a: Trace, b: Trace) -> bool:
    """The same arrays under the same names, every output, spike and membrane value equal."""
    left, right = a.arrays(), b.arrays()
    return left.keys() == right.keys() and all(np.array_equal(left[k], right[k]) for k in left)


@dataclass(frozen=True)
class BackendRun:
    """A target's artifact run on one executor, next to the integer reference it must equal."""

    reference: Trace
    trace: Trace
    seconds: float  # the executor's run alone (emit, build and run), not the reference's

    @property
    def exact(self) -> bool:
        return identical(self.reference, self.trace)


def run_backend(graph: Graph, x: np.ndarray, target: Target, runner: str,
                calib: np.ndarray, mapping: str = "auto",
                reference: Trace | None = None) -> BackendRun:
    """Run ``target``'s artifact on ``runner`` and time it; ``reference`` is the target's
    integer reference when the caller already has it (two executors of one target)."""
    if reference is None:
        reference = api.simulate(graph, x, target=target, calib=calib, mapping=mapping)
    start = time.perf_counter()
    got = api.simulate(graph, x, target=target, backend=runner, calib=calib, mapping=mapping)
    return BackendRun(reference, got, time.perf_counter() - start)


def results_table(title: str, columns: Iterable[str]) -> Table:
    """An empty results table with ``columns``, one row per target and executor to come."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    return table


def finish(console: Console, table: Table, exact: bool) -> None:
    """Print the table; exit with status 1 when a backend differed from its reference."""
    console.print()
    console.print(table)
    if not exact:
        console.print("[red]a backend differs from the integer reference[/red]")
        sys.exit(1)
