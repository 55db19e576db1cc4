"""Code generators, one package per hardware family, selected by tag (``Target.backend``).

Every backend package defines one subclass of :class:`Backend` (exported as ``BACKEND``) and
never imports another backend; code two backends share lives in :mod:`snnc.backends.common`.
The CLI and :mod:`snnc.api` reach a backend only through :func:`get_backend` and the four
abstract methods of the base class (plus :meth:`Backend.unsupported_in`, which defaults to
:meth:`Backend.unsupported`). A backend whose four methods are functions of its modules
subclasses :class:`FunctionBackend`, which forwards to them.
"""

from __future__ import annotations

import importlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import numpy as np

    from snnc.ir.layers import Graph, Layer
    from snnc.ir.quantized import QuantizedGraph
    from snnc.reference.simulate import Trace
    from snnc.target import Target

# Tag -> the package whose ``BACKEND`` implements it (imported on first use: a command that
# needs one backend does not pay for the others).
BACKENDS: dict[str, str] = {
    "akida": "snnc.backends.akida",
    "loihi": "snnc.backends.loihi",
    "mcu": "snnc.backends.mcu",
    "spinnaker2": "snnc.backends.spinnaker2",
    "xylo": "snnc.backends.xylo",
}

RESOURCES_FILE = "resources.json"


@dataclass(frozen=True)
class Artifact:
    """What ``emit`` produced: its folder, the files written (relative, sorted) and figures."""

    backend: str
    out_dir: Path
    files: tuple[str, ...]
    resources: dict[str, Any] = field(default_factory=dict)


class Backend(ABC):
    """One hardware family: what it refuses, what it needs, what it writes and how it runs.

    ``tag`` is the ``Target.backend`` it serves; ``runners`` the ways :meth:`simulate` can run
    an artifact, the first the default.
    """

    tag: ClassVar[str]
    runners: ClassVar[tuple[str, ...]]
    #: Whether the artifact runs QNN-mapped stages once per inference (the mixed schedule of
    #: ``snnc.reference.mapped``). Where it does not, ``--mapping auto`` keeps every stage SNN
    #: and ``--mapping qnn`` is refused, so a target never runs other arithmetic than its
    #: reference.
    runs_qnn_stages: ClassVar[bool] = False

    @abstractmethod
    def unsupported(self, layer: Layer) -> str | None:
        """Why ``layer`` cannot run on this backend whatever its parameters, or None.

        Refusals that depend on the quantized values or on the graph around the layer are found
        by :meth:`resources` and :meth:`emit`, which raise before anything is written.
        """

    def unsupported_in(self, graph: Graph, layer: Layer) -> str | None:
        """:meth:`unsupported` for ``layer`` where it sits in ``graph``: a backend whose support
        of a layer depends on what feeds it (Loihi max-pools spikes, not currents) says so
        here, so ``inspect`` reports what ``compile`` will refuse."""
        del graph
        return self.unsupported(layer)

    @abstractmethod
    def resources(self, qg: QuantizedGraph, target: Target) -> dict[str, Any]:
        """The figures of ``resources.json``; raises :class:`snnc.errors.ResourceError` /
        :class:`snnc.errors.UnsupportedError` when ``qg`` cannot run on ``target``."""

    @abstractmethod
    def emit(self, qg: QuantizedGraph, target: Target, out_dir: Path) -> Artifact:
        """Write the artifact tree, ``resources.json`` included, into ``out_dir`` (a fresh
        private directory: the caller renames it into place only on success). Output is
        byte-identical for identical input; the resource check runs first."""

    def measure_stages(self, qg: QuantizedGraph, target: Target, drive: np.ndarray,
                       heads: list[str], work_dir: Path) -> dict[str, dict[str, float]]:
        """Counters of the stages ``heads`` measured on the target's own executor, per
        inference, with their ``energy_pj`` (the target's energies times the counters).
        Backends without measured counters raise UnsupportedError."""
        from snnc.errors import UnsupportedError

        raise UnsupportedError(f"the {self.tag} backend has no measured counters",
                               target=target.name)

    @abstractmethod
    def simulate(self, qg: QuantizedGraph, target: Target, drive: np.ndarray, runner: str,
                 work_dir: Path) -> Trace:
        """Build and run the produced artifact on the float drive (steps, batch, *input_shape)
        and return the integer trace in the reference's format, comparable with
        ``numpy.array_equal``."""


class FunctionBackend(Backend):
    """A backend whose four methods are functions of its modules, given once: why a layer is
    unsupported, the resource check, the emitter and the simulator. The subclass names its
    ``tag`` and ``runners`` and overrides what is more than a call."""

    def __init__(self, unsupported: Callable[[Layer], str | None],
                 resources: Callable[[QuantizedGraph, Target], dict[str, Any]],
                 emit: Callable[[QuantizedGraph, Target, Path], Artifact],
                 simulate: Callable[[QuantizedGraph, Target, np.ndarray, str, Path], Trace]
                 ) -> None:
        self._unsupported = unsupported
        self._resources = resources
        self._emit = emit
        self._simulate = simulate

    def unsupported(self, layer: Layer) -> str | None:
        return self._unsupported(layer)

    def resources(self, qg: QuantizedGraph, target: Target) -> dict[str, Any]:
        return self._resources(qg, target)

    def emit(self, qg: QuantizedGraph, target: Target, out_dir: Path) -> Artifact:
        return self._emit(qg, target, out_dir)

    def simulate(self, qg: QuantizedGraph, target: Target, drive: np.ndarray, runner: str,
                 work_dir: Path) -> Trace:
        return self._simulate(qg, target, drive, runner, work_dir)


def check_schedule(backend: Backend, qg: QuantizedGraph, target: Target) -> None:
    """Refuse a graph with QNN twins (stages run once per inference) on a backend that runs
    every stage step by step: it would compute something else than the reference."""
    from snnc.errors import UnsupportedError
    from snnc.reference.mapped import has_twins

    if not backend.runs_qnn_stages and has_twins(qg.graph):
        first = next(lay.name for lay in qg.graph.layers if "twin_of" in lay.attrs)
        raise UnsupportedError("QNN stage: this backend runs every stage as SNN (choose "
                               "--mapping snn)", layer=first, target=target.name)


@cache
def get_backend(tag: str) -> Backend:
    """The backend serving a ``Target.backend`` tag."""
    backend = importlib.import_module(BACKENDS[tag]).BACKEND
    assert isinstance(backend, Backend) and backend.tag == tag
    return backend


def chosen_widths(qg: QuantizedGraph, target: Target) -> dict[str, Any]:
    """``{"widths": ...}`` for ``resources.json`` when the fidelity search widened the graph
    input or weight layers beyond the target's own widths (:mod:`snnc.passes.fidelity`):
    the input's bits, the target's weight bits and each widened layer's; empty otherwise, so
    an artifact without widening is what it always was."""
    if not qg.widened and qg.profile.input_bits == target.numeric.input_bits:
        return {}
    return {"widths": {"input_bits": qg.profile.input_bits,
                       "weight_bits": qg.profile.weight_bits,
                       "widened_weight_bits": dict(sorted(qg.widened.items()))}}


def resources_json(figures: dict[str, Any]) -> bytes:
    """``resources.json`` as the MCU and Loihi backends write it (sorted keys, two spaces)."""
    return (json.dumps(figures, indent=2, sort_keys=True) + "\n").encode()
