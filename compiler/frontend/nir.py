"""NIR (Neuromorphic Intermediate Representation) in and out of snnc's layer view.

NIR describes a network as continuous-time nodes (``tau * dv/dt = (v_leak - v) + R*I``) joined
by instantaneous edges; snnc runs discrete steps. :class:`NirSemantics` fixes how one becomes
the other, following what the frameworks' NIR importers do (forward Euler with step ``dt``,
inputs held constant over a step; snnTorch's ``import_from_nir`` and Norse's ``from_nir``):

- ``LIF``: ``v <- (1 - dt/tau)*v + (dt/tau)*(R*I + v_leak)``; spike ``v > v_threshold``; reset
  to 0. The input gain ``g = R*dt/tau`` is folded into the membrane's unit (``v' = v/g``, as
  snnTorch's importer does), so the layer gets ``beta = 1 - dt/tau``, ``threshold = theta/g``,
  ``bias = v_leak/R`` and the weights stay untouched.
- ``IF``: ``v <- v + R*I`` (no ``dt``: Norse's ``IAFCell``, Sinabs' ``IAF`` and snnTorch all
  integrate a step's input whole); ``threshold = theta/R``.
- ``CubaLIF``: ``i <- (1 - dt/tau_syn)*i + (dt/tau_syn)*w_in*S``, then the membrane integrates
  the *updated* current like a LIF with input ``i``; both gains go into the state units.
- ``LI``/``I`` directly followed by a ``LIF``/``IF`` form a ``CubaLIF`` (the LI is the synaptic
  current); ``Threshold`` is a LIF with ``beta = 0``; ``Delay`` must be a whole number of steps.
- A cycle (a neuron feeding back to itself through weights) needs one step of delay; it sits on
  the input of the synapse in the loop, which becomes a ``recurrent`` Dense (snnTorch ``RLeaky``).

``docs/nir.md`` has the full table, the framework differences and the export rules.
"""

from __future__ import annotations

import functools
import io
import itertools
import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from snnc.errors import InputError, InvalidModelError, ShapeError, UnsupportedError
from snnc.frontend.isolated import ReaderFailed, run_isolated
from snnc.ir.layers import (
    LIF,
    MAX_VALUES,
    Add,
    Conv2d,
    CubaLIF,
    Dense,
    Flatten,
    Graph,
    Input,
    Layer,
    Pool2d,
    Reshape,
    Shape,
)

# The NIR paper's step and snnTorch's fixed export/import step (seconds).
DEFAULT_DT = 1e-4
# Norse's default step, which its exporter multiplies into every time constant it writes.
NORSE_EXPORT_DT = 1e-3
DEFAULT_TIMESTEPS = 8
# Node metadata keys snnc writes for neuron behaviour NIR has no field for.
META_RESET = "snnc.reset"
META_TIMING = "snnc.reset_timing"
META_COMPARE = "snnc.compare"
META_TIMESTEPS = "snnc.timesteps"
META_ENCODING = "snnc.encoding"
# A diagonal weight matrix stands in for an elementwise Scale only up to this many elements.
MAX_DIAGONAL = 4096
# How far delay/dt may sit from a whole number of steps (relative).
DELAY_TOLERANCE = 1e-6
# Input gains this close to 1 are 1: exporters store tau, r and w_in as float32, so the unit
# gain r*dt/tau = 1 they mean comes back as 1 +- 3e-7 and would shift every threshold.
UNIT_GAIN_TOLERANCE = 1e-6

F32 = np.float32


@dataclass(frozen=True)
class NirSemantics:
    """Discrete-time reading of a NIR graph.

    ``dt`` is the step in seconds (NIR files carry none: snnTorch uses 1e-4, Norse 1e-3).
    ``reset``, ``reset_timing`` and ``compare`` apply to every spiking node that has no
    ``snnc.*`` metadata of its own: NIR itself means reset to ``v_reset`` at the same step and
    ``v > v_threshold``; ``"subtract"``/``"next"`` reproduce snnTorch's default ``Leaky``.
    ``if_uses_dt``: ``IF``/``I`` integrate ``dt*R*I`` (forward Euler, SpikingJelly writes
    ``r = 1/dt``) instead of ``R*I`` (Norse, Sinabs and snnTorch, which write ``r = 1``).
    ``timesteps`` overrides the graph's ``snnc.timesteps`` metadata. ``tau_scale``: the true
    time constants are the written ones times this (Norse 1.1 writes ``dt*tau`` with its export
    step ``dt = 1e-3``, so its reading scales by 1000). ``current_jumps``: a ``CubaLIF``
    current jumps by ``w_in*S`` each step (Norse's ``LIFCell``) instead of integrating
    ``(dt/tau_syn)*w_in*S``.
    """

    dt: float = DEFAULT_DT
    reset: Literal["zero", "subtract"] = "zero"
    reset_timing: Literal["same", "next"] = "same"
    compare: Literal["gt", "ge"] = "gt"
    if_uses_dt: bool = False
    timesteps: int | None = None
    tau_scale: float = 1.0
    current_jumps: bool = False


# Named readings for models whose framework semantics differ from NIR's own.
PRESETS: Mapping[str, NirSemantics] = {
    "nir": NirSemantics(),
    "snntorch": NirSemantics(reset="subtract", reset_timing="next"),
    "spikingjelly": NirSemantics(compare="ge", if_uses_dt=True),
    "sinabs": NirSemantics(reset="subtract", compare="ge"),
    # Norse 1.1's to_nir writes tau = dt/tau_inv (dt*tau, dt = 1e-3) where NIR means 1/tau_inv
    "norse": NirSemantics(dt=NORSE_EXPORT_DT, tau_scale=1.0 / NORSE_EXPORT_DT,
                          current_jumps=True),
}


def semantics_for(spec: str | NirSemantics | None) -> NirSemantics:
    """A preset name, an explicit :class:`NirSemantics`, or None for NIR's own semantics."""
    if spec is None:
        return NirSemantics()
    if isinstance(spec, NirSemantics):
        return spec
    if spec not in PRESETS:
        raise InputError(f"unknown NIR semantics '{spec}' (choose from {', '.join(PRESETS)})")
    return PRESETS[spec]


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def load_nir(path: str | Path, semantics: str | NirSemantics | None = None) -> Graph:
    """Read a ``.nir`` file into the layer view (see the module docstring for the mapping)."""
    import nir

    p = Path(path)
    if not p.is_file():
        raise InputError(f"NIR file '{p}' does not exist")
    try:  # libhdf5 trusts the file: read in a child process with a memory allowance
        root = run_isolated(functools.partial(nir.read, p, type_check=False),
                            READ_HEADROOM_BYTES, cpu_seconds=READ_CPU_SECONDS)
    except ReaderFailed as exc:  # nir's reader fails in many ways on malformed files
        raise InputError(f"cannot read NIR file '{p}': {exc}") from None
    return nir_to_graph(root, semantics, name=p.stem)


# Address space the isolated NIR reader may add (see snnc.frontend.isolated). Legitimate files
# hold at most 10^8-value tensors (0.4 GB as float32, twice that while pickled back).
READ_HEADROOM_BYTES = 1 << 30
# Processor time it may take: such a file reads in about a second; a corrupted one made
# libhdf5 loop for minutes (found by atheris).
READ_CPU_SECONDS = 10


def nir_to_graph(root: Any, semantics: str | NirSemantics | None = None,
                 name: str = "model") -> Graph:
    """Convert an in-memory ``nir.NIRGraph`` into the layer view."""
    sem = semantics_for(semantics)
    if not isinstance(sem.dt, int | float) or not sem.dt > 0 or not math.isfinite(sem.dt):
        raise InputError(f"NIR time step dt must be a positive number, got {sem.dt}")
    if not sem.tau_scale > 0 or not math.isfinite(sem.tau_scale):
        raise InputError(f"NIR tau_scale must be a positive number, got {sem.tau_scale}")
    flat = _flatten(root)
    _contract_virtual(flat, sem.dt)
    source, sink = _endpoints(flat)
    _fuse_synaptic_integrators(flat)
    _mark_cycles(flat, source)
    late = _resolve_delays(flat)
    order = _topological(flat, source, late)
    # parameters from the file may overflow or divide by zero in the conversion arithmetic:
    # the inf/NaN that results is refused with the layer named (Graph), without numpy's
    # RuntimeWarning printed next to that one error line
    with np.errstate(all="ignore"):
        layers, value = _convert(flat, order, late, sem)
    output = _output_value(flat, sink, value, layers)
    meta = _metadata(root)
    steps = sem.timesteps or _int_meta(meta, META_TIMESTEPS) or DEFAULT_TIMESTEPS
    encoding = str(meta.get(META_ENCODING, "direct"))
    return Graph(tuple(layers), output, timesteps=steps, encoding=encoding, name=name)


@dataclass(frozen=True)
class _Edge:
    src: str
    dst: str
    delay: int = 0  # in steps


@dataclass(frozen=True)
class _IdentityDelay:
    """Synthetic node: passes a flat vector on one step late (a recurrent identity Dense)."""

    size: int


@dataclass
class _SynapticIntegrator:
    """An LI/I node fused into the spiking node after it: the synaptic current of a CubaLIF."""

    node: Any
    name: str


@dataclass
class _Flat:
    """A NIR graph with subgraphs inlined, as ordered nodes and delay-annotated edges."""

    nodes: dict[str, Any]
    edges: list[_Edge]
    synapse: dict[str, _SynapticIntegrator] = field(default_factory=dict)

    def ins(self, name: str) -> list[_Edge]:
        return [e for e in self.edges if e.dst == name]

    def outs(self, name: str) -> list[_Edge]:
        return [e for e in self.edges if e.src == name]


def _type(node: Any) -> str:
    return type(node).__name__


def _flatten(graph: Any, prefix: str = "") -> _Flat:
    """Inline nested NIRGraphs; a subgraph's own Input/Output nodes stay as pass-throughs."""
    import nir

    if not isinstance(graph, nir.NIRGraph):
        raise InputError(f"expected a NIR graph, got {_type(graph)}")
    nodes: dict[str, Any] = {}
    edges: list[_Edge] = []
    entry: dict[str, str] = {}
    exit_: dict[str, str] = {}
    for key in graph.nodes:
        node = graph.nodes[key]
        full = f"{prefix}{key}"
        if isinstance(node, nir.NIRGraph):
            inner = _flatten(node, f"{full}.")
            nodes.update(inner.nodes)
            edges.extend(inner.edges)
            entry[key] = _only(full, [n for n, v in node.nodes.items()
                                      if isinstance(v, nir.Input)], "Input", full)
            exit_[key] = _only(full, [n for n, v in node.nodes.items()
                                      if isinstance(v, nir.Output)], "Output", full)
        else:
            nodes[full] = node
    for pair in graph.edges:
        if len(pair) != 2:
            raise InvalidModelError(f"malformed edge {pair!r}", prefix.rstrip(".") or None)
        src, dst = (str(x.decode() if isinstance(x, bytes) else x) for x in pair)
        src_full = f"{prefix}{exit_[src]}" if src in exit_ else f"{prefix}{src}"
        dst_full = f"{prefix}{entry[dst]}" if dst in entry else f"{prefix}{dst}"
        for end in (src_full, dst_full):
            if end not in nodes:
                raise InvalidModelError(f"edge {src} -> {dst} names unknown node '{end}'",
                                        prefix.rstrip(".") or None)
        edges.append(_Edge(src_full, dst_full))
    if prefix:  # inner Input/Output nodes become pass-throughs
        for key, node in graph.nodes.items():
            if isinstance(node, nir.Input | nir.Output):
                nodes[f"{prefix}{key}"] = _PASS
    return _Flat(nodes, edges)


class _PassThrough:
    """Marker for nodes that forward their input unchanged (inner Input/Output, Identity)."""


_PASS = _PassThrough()


def _only(where: str, names: list[str], kind: str, node: str) -> str:
    if len(names) != 1:
        raise UnsupportedError(f"a NIR subgraph needs exactly one {kind} node, "
                               f"'{where}' has {len(names)}", layer=node)
    return f"{where}.{names[0]}"


def _contract_virtual(flat: _Flat, dt: float) -> None:
    """Remove pass-through and Delay nodes, adding a Delay's whole steps to the edges."""
    import nir

    for name in list(flat.nodes):
        node = flat.nodes[name]
        steps = None
        if isinstance(node, _PassThrough) or _type(node) == "Identity":
            steps = 0
        elif isinstance(node, nir.Delay):
            steps = _delay_steps(name, node, dt)
        if steps is None:
            continue
        ins, outs = flat.ins(name), flat.outs(name)
        kept = [e for e in flat.edges if name not in (e.src, e.dst)]
        flat.edges = kept + [_Edge(a.src, b.dst, a.delay + b.delay + steps)
                             for a in ins for b in outs]
        del flat.nodes[name]


def _delay_steps(name: str, node: Any, dt: float) -> int:
    delay = _array(name, "delay", node.delay)
    if delay.size == 0:
        return 0
    steps = delay / dt
    whole = np.rint(steps)
    if np.any(np.abs(steps - whole) > DELAY_TOLERANCE * np.maximum(1.0, np.abs(steps))):
        raise UnsupportedError(f"Delay of {float(delay.flat[0]):g} s is not a whole number of "
                               f"steps of dt={dt:g} s", layer=name)
    if np.any(whole != whole.flat[0]) or whole.flat[0] < 0:
        raise UnsupportedError("Delay must be one non-negative number of steps for every "
                               "neuron (per-neuron delays have no layer)", layer=name)
    return int(whole.flat[0])


def _endpoints(flat: _Flat) -> tuple[str, str]:
    import nir

    inputs = [n for n, v in flat.nodes.items() if isinstance(v, nir.Input)]
    outputs = [n for n, v in flat.nodes.items() if isinstance(v, nir.Output)]
    if len(inputs) != 1:
        raise UnsupportedError(f"snnc models have one input; this NIR graph has {len(inputs)} "
                               f"({', '.join(inputs) or 'none'})")
    if len(outputs) != 1:
        raise UnsupportedError(f"snnc models have one output; this NIR graph has "
                               f"{len(outputs)} ({', '.join(outputs) or 'none'})")
    if flat.ins(inputs[0]):
        raise InvalidModelError("the Input node has incoming edges", inputs[0])
    if not flat.ins(outputs[0]):
        raise InvalidModelError("the Output node is not connected", outputs[0])
    return inputs[0], outputs[0]


def _fuse_synaptic_integrators(flat: _Flat) -> None:
    """``LI``/``I`` -> ``LIF``/``IF`` with nothing else attached is one CubaLIF neuron."""
    import nir

    for name in list(flat.nodes):
        node = flat.nodes[name]
        if not isinstance(node, nir.LI | nir.I):
            continue
        outs = flat.outs(name)
        target = flat.nodes.get(outs[0].dst) if len(outs) == 1 else None
        if (not isinstance(target, nir.LIF | nir.IF) or outs[0].delay
                or len(flat.ins(outs[0].dst)) != 1):
            raise UnsupportedError(
                f"NIR node type {_type(node)} (a non-spiking integrator) has no snnc layer "
                "unless it feeds exactly one LIF/IF neuron, which makes a CubaLIF", layer=name)
        dst = outs[0].dst
        flat.synapse[dst] = _SynapticIntegrator(node, name)
        flat.edges = ([e for e in flat.edges if name not in (e.src, e.dst)]
                      + [_Edge(e.src, dst, e.delay) for e in flat.ins(name)])
        del flat.nodes[name]


def _mark_cycles(flat: _Flat, source: str) -> None:
    """Give each cycle of instantaneous edges one step of delay on its DFS back edge."""
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    back: set[int] = set()
    index = {id(e): i for i, e in enumerate(flat.edges)}
    stack: list[tuple[str, list[_Edge]]] = [(source, [e for e in flat.outs(source)
                                                      if not e.delay])]
    state[source] = 1
    while stack:
        node, pending = stack[-1]
        if not pending:
            state[node] = 2
            stack.pop()
            continue
        edge = pending.pop(0)
        seen = state.get(edge.dst)
        if seen == 1:
            back.add(index[id(edge)])
        elif seen is None:
            state[edge.dst] = 1
            stack.append((edge.dst, [e for e in flat.outs(edge.dst) if not e.delay]))
    flat.edges = [_Edge(e.src, e.dst, 1) if i in back else e for i, e in enumerate(flat.edges)]


def _is_weights(node: Any) -> bool:
    import nir

    return isinstance(node, nir.Affine | nir.Linear)


def _resolve_delays(flat: _Flat) -> set[str]:
    """Put every delayed edge on a node that reads its single input one step late.

    The delay lands on the synapse after it, or moves up through the synapse before it when
    that synapse feeds nothing else (weights are stateless, so ``W x_{t-1} = (W x)_{t-1}`` up
    to a bias at step 0, which snnTorch's ``RLeaky`` also applies). Otherwise identity delays
    are inserted. Returns the names of the late-reading nodes.
    """
    late: set[str] = set()
    queue = [e for e in flat.edges if e.delay]
    while queue:
        edge = queue.pop(0)
        dst, src = flat.nodes[edge.dst], flat.nodes[edge.src]
        takes_late = len(flat.ins(edge.dst)) == 1 and (_is_weights(dst)
                                                       or isinstance(dst, _IdentityDelay))
        if edge.delay == 1 and takes_late:
            late.add(edge.dst)
            continue
        ups = flat.ins(edge.src)
        if (edge.delay == 1 and _is_weights(src) and len(ups) == 1 and not ups[0].delay
                and len(flat.outs(edge.src)) == 1):
            moved = _Edge(ups[0].src, ups[0].dst, 1)
            flat.edges = [moved if e is ups[0] else _Edge(e.src, e.dst) if e is edge else e
                          for e in flat.edges]
            queue.append(moved)
            continue
        chain, prev = [], edge.src
        size = _flat_size(flat, edge.src)
        for _ in range(edge.delay - 1 if takes_late else edge.delay):
            name = _fresh(flat.nodes, f"{edge.dst}.delay")
            flat.nodes[name] = _IdentityDelay(size)
            chain.append(_Edge(prev, name, 1))
            late.add(name)
            prev = name
        chain.append(_Edge(prev, edge.dst, 1 if takes_late else 0))
        if takes_late:
            late.add(edge.dst)
        pos = next(i for i, e in enumerate(flat.edges) if e is edge)
        flat.edges = flat.edges[:pos] + chain + flat.edges[pos + 1:]
    return late


def _flat_size(flat: _Flat, name: str) -> int:
    """Width of a node's output when it is a flat vector known without shape inference."""
    node = flat.nodes[name]
    if _is_weights(node):
        w = np.asarray(node.weight)
        if w.ndim == 2:
            return int(w.shape[0])
    if isinstance(node, _IdentityDelay):
        return node.size
    for attr in ("v_threshold", "threshold", "tau", "r"):
        value = getattr(node, attr, None)
        if value is not None and np.ndim(value) == 1:
            return int(np.shape(value)[0])
    if _type(node) == "Input":
        shape = _input_shape(name, node)
        if len(shape) == 1:
            return shape[0]
    raise UnsupportedError(f"a delayed or recurrent edge from NIR node type {_type(node)} "
                           "needs a flat (1-D) value or a synapse to carry the delay",
                           layer=name)


def _fresh(taken: Mapping[str, Any], base: str) -> str:
    name, i = base, 1
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    return name


def _topological(flat: _Flat, source: str, late: set[str]) -> list[str]:
    """Kahn's order over instantaneous edges, the input first, ties in file order."""
    indeg = {n: 0 for n in flat.nodes}
    for e in flat.edges:
        if e.dst not in late:
            indeg[e.dst] += 1
    for name in flat.nodes:
        if name != source and not flat.ins(name):
            raise InvalidModelError("node has no incoming edge (not connected to the input)",
                                    name)
    ready = [source] + [n for n in flat.nodes if indeg[n] == 0 and n != source]
    order: list[str] = []
    while ready:
        node = ready.pop(0)
        order.append(node)
        for e in flat.outs(node):
            if e.dst in late:
                continue
            indeg[e.dst] -= 1
            if indeg[e.dst] == 0:
                ready.append(e.dst)
    if len(order) != len(flat.nodes):
        stuck = next(n for n in flat.nodes if n not in order)
        raise InvalidModelError("cycle without a synapse to carry its one-step delay", stuck)
    return order


# --- node conversion ----------------------------------------------------------------------


@dataclass
class _Builder:
    """Accumulates layers and their shapes while nodes are converted in order."""

    reserved: set[str]
    layers: list[Layer] = field(default_factory=list)
    shapes: dict[str, Shape] = field(default_factory=dict)

    def name(self, base: str) -> str:
        taken = self.reserved | set(self.shapes)
        name = _fresh(dict.fromkeys(taken), base)
        self.reserved.add(name)
        return name

    def add(self, layer: Layer, shape: Shape | None = None) -> str:
        if shape is None:
            shape = layer.out_shape([self.shapes[s] for s in layer.inputs])
        if math.prod(shape) > MAX_VALUES:  # before any parameter is broadcast to the shape
            raise ShapeError(f"holds {math.prod(shape)} values per sample (limit "
                             f"{MAX_VALUES})", layer.name)
        self.layers.append(layer)
        self.shapes[layer.name] = shape
        return layer.name


def _convert(flat: _Flat, order: list[str], late: set[str],
             sem: NirSemantics) -> tuple[list[Layer], dict[str, str]]:
    import nir

    out = _Builder(reserved=set(flat.nodes))
    value: dict[str, str] = {}
    for name in order:
        node = flat.nodes[name]
        if isinstance(node, nir.Input):
            shape = _without_batch(_input_shape(name, node),
                                   [flat.nodes[e.dst] for e in flat.outs(name)])
            value[name] = out.add(Input(name, (), shape=shape))
            continue
        if isinstance(node, nir.Output):
            continue
        sources = [e.src for e in flat.ins(name)]
        if name in late:  # reads its one source a step late: a recurrent Dense
            weight, bias = _late_weights(name, node)
            value[name] = out.add(Dense(name, (sources[0],), weight=weight, bias=bias,
                                        recurrent=True), shape=(weight.shape[0],))
            continue
        src = _sum_inputs(out, name, [value[s] for s in sources])
        convert = _converters().get(type(node))
        if convert is None:
            raise UnsupportedError(f"NIR node type {_type(node)} is not supported", layer=name)
        value[name] = convert(out, name, node, src, sem, flat.synapse.get(name))
    return out.layers, value


def _late_weights(name: str, node: Any) -> tuple[np.ndarray, np.ndarray | None]:
    if isinstance(node, _IdentityDelay):
        return np.eye(node.size, dtype=F32), None
    return _weight2d(name, node), _bias(name, node)


def _sum_inputs(out: _Builder, name: str, sources: list[str]) -> str:
    """NIR adds every edge that enters a node; more than one becomes an Add layer."""
    if len(sources) == 1:
        return sources[0]
    return out.add(Add(out.name(f"{name}.sum"), tuple(sources)))


def _array(node: str, what: str, value: Any) -> np.ndarray:
    try:
        with warnings.catch_warnings():  # a bad cast becomes NaN/inf and is refused below
            warnings.simplefilter("ignore")
            arr = np.asarray(value, dtype=np.float64) if value is not None else np.zeros(0)
    except (TypeError, ValueError):
        raise InvalidModelError(f"parameter {what} is not numeric", node) from None
    if not np.all(np.isfinite(arr)):
        raise InvalidModelError(f"parameter {what} contains NaN or inf", node)
    return arr


def _ints(node: str, what: str, value: Any, n: int, low: int = 0) -> tuple[int, ...]:
    """``n`` integers >= ``low`` (a single value is repeated ``n`` times)."""
    arr = np.atleast_1d(np.asarray(value))
    if arr.size == 1:
        arr = np.repeat(arr, n)
    if (arr.size != n or arr.dtype.kind not in "iuf" or not np.all(np.isfinite(arr))
            or np.any(arr != np.rint(arr)) or np.any(arr < low)):
        raise InvalidModelError(f"{what} must be {n} integers >= {low}, got {value!r}", node)
    return tuple(int(x) for x in arr)


def _input_shape(name: str, node: Any) -> tuple[int, ...]:
    shape = node.input_type.get("input") if isinstance(node.input_type, dict) else None
    if shape is None:
        raise InvalidModelError("Input node has no shape", name)
    dims = _ints(name, "Input shape", shape, np.size(shape))
    if not dims or any(d <= 0 for d in dims):
        raise ShapeError(f"Input shape {dims} is empty", name)
    return dims


def _without_batch(shape: tuple[int, ...], consumers: list[Any]) -> tuple[int, ...]:
    """Drop a leading batch axis some exporters (Norse, Sinabs) leave in the Input shape.

    Only when every consumer declares its input shape and they all equal the rest.
    """
    declared = set()
    for node in consumers:
        types = getattr(node, "input_type", None)
        shape_in = types.get("input") if isinstance(types, dict) else None
        if shape_in is None or np.size(shape_in) == 0:
            return shape
        declared.add(tuple(int(d) for d in np.asarray(shape_in).reshape(-1)))
    if len(declared) == 1 and len(shape) > 1 and shape[1:] == next(iter(declared)):
        return shape[1:]
    return shape


def _weight2d(name: str, node: Any) -> np.ndarray:
    w = _array(name, "weight", node.weight)
    if w.ndim != 2:
        raise UnsupportedError(f"{_type(node)} weight of rank {w.ndim} (only 2-D weights map "
                               "to a Dense layer)", layer=name)
    return w.astype(F32)


def _bias(name: str, node: Any) -> np.ndarray | None:
    b = getattr(node, "bias", None)
    if b is None:
        return None
    return _array(name, "bias", b).astype(F32).reshape(-1)


def _dense(out: _Builder, name: str, node: Any, src: str, sem: NirSemantics,
           syn: _SynapticIntegrator | None) -> str:
    return out.add(Dense(name, (src,), weight=_weight2d(name, node), bias=_bias(name, node)))


def _scale(out: _Builder, name: str, node: Any, src: str, sem: NirSemantics,
           syn: _SynapticIntegrator | None) -> str:
    """Elementwise scale: a depthwise 1x1 conv when per channel, else a diagonal Dense."""
    shape = out.shapes[src]
    s = np.broadcast_to(_array(name, "scale", node.scale), shape) if _fits(
        np.shape(node.scale), shape) else None
    if s is None:
        raise ShapeError(f"Scale of shape {np.shape(node.scale)} does not fit input {shape}",
                         name)
    if len(shape) == 3 and np.all(s == s[:, :1, :1]):
        w = s[:, 0, 0].astype(F32).reshape(-1, 1, 1, 1)
        return out.add(Conv2d(name, (src,), weight=w, groups=shape[0]))
    n = math.prod(shape)
    if n > MAX_DIAGONAL:
        raise UnsupportedError(f"elementwise Scale over {n} values (a diagonal Dense is "
                               f"limited to {MAX_DIAGONAL})", layer=name)
    weight = np.diag(s.reshape(-1)).astype(F32)
    if len(shape) == 1:
        return out.add(Dense(name, (src,), weight=weight))
    flat = out.add(Flatten(out.name(f"{name}.flat"), (src,)))
    scaled = out.add(Dense(out.name(f"{name}.diag"), (flat,), weight=weight))
    return out.add(Reshape(name, (scaled,), shape=shape))


def _fits(param: tuple[int, ...], shape: Shape) -> bool:
    try:
        return np.broadcast_shapes(param, shape) == tuple(shape)
    except ValueError:
        return False


def _conv_padding(name: str, node: Any, spatial: tuple[int, ...], kernel: tuple[int, ...],
                  dilation: tuple[int, ...], stride: tuple[int, ...]) -> tuple[int, ...]:
    """NIR padding (symmetric ints, 'valid' or 'same') as (before..., after...) per axis."""
    pad = node.padding
    if isinstance(pad, bytes):
        pad = pad.decode()
    n = len(spatial)
    if isinstance(pad, str) or (isinstance(pad, np.ndarray) and pad.dtype.kind in "SUO"):
        pad = str(np.asarray(pad).reshape(-1)[0]) if isinstance(pad, np.ndarray) else pad
        pad = pad.decode() if isinstance(pad, bytes) else pad
        if pad == "valid":
            return (0,) * (2 * n)
        if pad != "same":
            raise InvalidModelError(f"padding must be 'same', 'valid' or integers, got {pad}",
                                    name)
        if any(s != 1 for s in stride):
            raise UnsupportedError("padding='same' with stride > 1", layer=name)
        total = [d * (k - 1) for d, k in zip(dilation, kernel, strict=True)]
        return tuple(t // 2 for t in total) + tuple(t - t // 2 for t in total)
    sym = _ints(name, "padding", pad, n)
    return sym + sym


def _conv2d(out: _Builder, name: str, node: Any, src: str, sem: NirSemantics,
            syn: _SynapticIntegrator | None) -> str:
    w = _array(name, "weight", node.weight).astype(F32)
    if w.ndim != 4:
        raise ShapeError(f"Conv2d weight must be (O, C/groups, kh, kw), got {w.shape}", name)
    shape = out.shapes[src]
    if len(shape) != 3:
        raise ShapeError(f"Conv2d expects a (C, H, W) input, got {shape}", name)
    stride = _ints(name, "stride", node.stride, 2, low=1)
    dilation = _ints(name, "dilation", node.dilation, 2, low=1)
    top, left, bottom, right = _conv_padding(name, node, shape[1:], w.shape[2:], dilation,
                                             stride)
    return out.add(Conv2d(name, (src,), weight=w, bias=_bias(name, node), stride=stride,
                          padding=(top, left, bottom, right), dilation=dilation,
                          groups=_ints(name, "groups", node.groups, 1, low=1)[0]))


def _conv1d(out: _Builder, name: str, node: Any, src: str, sem: NirSemantics,
            syn: _SynapticIntegrator | None) -> str:
    """Conv1d on (C, L) runs as a Conv2d on (C, 1, L) between two reshapes."""
    w = _array(name, "weight", node.weight).astype(F32)
    shape = out.shapes[src]
    if w.ndim != 3 or len(shape) != 2:
        raise ShapeError(f"Conv1d needs weight (O, C/groups, k) and input (C, L), got "
                         f"{w.shape} and {shape}", name)
    (stride,) = _ints(name, "stride", node.stride, 1, low=1)
    (dilation,) = _ints(name, "dilation", node.dilation, 1, low=1)
    before, after = _conv_padding(name, node, shape[1:], w.shape[2:], (dilation,), (stride,))
    wide = out.add(Reshape(out.name(f"{name}.to2d"), (src,), shape=(shape[0], 1, shape[1])))
    conv = out.add(Conv2d(out.name(f"{name}.conv2d"), (wide,), weight=w[:, :, None, :],
                          bias=_bias(name, node), stride=(1, stride),
                          padding=(0, before, 0, after), dilation=(1, dilation),
                          groups=_ints(name, "groups", node.groups, 1, low=1)[0]))
    c, _, length = out.shapes[conv]
    return out.add(Reshape(name, (conv,), shape=(c, length)))


def _pool(kind: Literal["sum", "avg"]) -> Callable[..., str]:
    def convert(out: _Builder, name: str, node: Any, src: str, sem: NirSemantics,
                syn: _SynapticIntegrator | None) -> str:
        kernel = _ints(name, "kernel_size", node.kernel_size, 2, low=1)
        stride = _ints(name, "stride", node.stride, 2, low=1)
        ph, pw = _ints(name, "padding", node.padding, 2)
        return out.add(Pool2d(name, (src,), pool=kind, kernel=kernel, stride=stride,
                              padding=(ph, pw, ph, pw)))
    return convert


def _flatten_node(out: _Builder, name: str, node: Any, src: str, sem: NirSemantics,
                  syn: _SynapticIntegrator | None) -> str:
    shape = out.shapes[src]
    rank = len(shape)
    (start,) = _ints(name, "start_dim", node.start_dim, 1, low=-rank)
    (end,) = _ints(name, "end_dim", node.end_dim, 1, low=-rank)
    start, end = start + rank if start < 0 else start, end + rank if end < 0 else end
    if not 0 <= start <= end < rank:
        raise ShapeError(f"Flatten dims {node.start_dim}..{node.end_dim} do not fit input "
                         f"{shape}", name)
    if start == 0 and end == rank - 1:
        return out.add(Flatten(name, (src,)))
    new = (*shape[:start], math.prod(shape[start:end + 1]), *shape[end + 1:])
    return out.add(Reshape(name, (src,), shape=new))


def _compact(a: np.ndarray) -> np.ndarray:
    """float32; one value for the whole layer becomes a 0-d array (broadcasts, round-trips)."""
    a = np.asarray(a, np.float64)
    with np.errstate(over="ignore"):  # beyond float32 becomes inf, which the layer view refuses
        if a.size and np.all(a == a.flat[0]):
            return np.asarray(a.flat[0], F32)
        return a.astype(F32)


def _neuron_params(out: _Builder, name: str, node: Any, src: str,
                   fields: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Named float64 parameters broadcast to the neuron layer's shape."""
    shape = out.shapes[src]
    params = {}
    for f in fields:
        arr = _array(name, f, getattr(node, f))
        if not _fits(arr.shape, shape):
            raise ShapeError(f"parameter {f} of shape {arr.shape} does not fit input {shape}",
                             name)
        params[f] = np.broadcast_to(arr, shape)
    return params


def _behaviour(node: Any, sem: NirSemantics, name: str) -> dict[str, str]:
    """Reset kind, timing and comparison: the node's snnc metadata, else the semantics."""
    meta = _metadata(node)
    chosen = {"reset": str(meta.get(META_RESET, sem.reset)),
              "reset_timing": str(meta.get(META_TIMING, sem.reset_timing)),
              "compare": str(meta.get(META_COMPARE, sem.compare))}
    allowed = {"reset": ("zero", "subtract", "none"), "reset_timing": ("same", "next"),
               "compare": ("gt", "ge")}
    for key, val in chosen.items():
        if val not in allowed[key]:
            raise InvalidModelError(f"metadata snnc.{key}='{val}' is not one of "
                                    f"{', '.join(allowed[key])}", name)
    return chosen


def _check_reset(name: str, v_reset: np.ndarray | None, reset: str) -> None:
    if reset == "zero" and v_reset is not None and np.any(v_reset != 0):
        raise UnsupportedError("v_reset other than 0 (snnc neurons reset to 0 or by "
                               "subtracting the threshold)", layer=name)


def _gain(name: str, what: str, g: np.ndarray) -> np.ndarray:
    if np.any(g <= 0):
        raise UnsupportedError(f"{what} must be positive (it scales the input current)",
                               layer=name)
    return np.where(np.abs(g - 1.0) <= UNIT_GAIN_TOLERANCE, 1.0, g)


def _decay_rate(name: str, what: str, tau: np.ndarray, sem: NirSemantics) -> np.ndarray:
    """``dt/tau`` per step, ``tau`` as written times the reading's ``tau_scale``."""
    if np.any(tau <= 0):
        raise InvalidModelError(f"time constant {what} must be positive", name)
    if sem.tau_scale != 1.0:  # in float64, so that 1e3 * float32(1e-3/200) gives back 0.2
        tau = np.asarray(tau, np.float64) * sem.tau_scale
    if np.any(tau < sem.dt):
        # Forward Euler with dt > tau overshoots: the state flips sign and grows every step.
        raise InvalidModelError(f"time constant {what} = {float(np.min(tau)):.3g} s is shorter "
                                f"than the step dt = {sem.dt:g} s (decay rate dt/{what} > 1); "
                                "pass a smaller --dt (Norse 1.1 exports write dt*tau: read "
                                "them with the 'norse' semantics)", name)
    return sem.dt / tau


def _lif(out: _Builder, name: str, node: Any, src: str, sem: NirSemantics,
         syn: _SynapticIntegrator | None) -> str:
    if syn is not None:
        return _cuba(out, name, node, src, sem, syn)
    p = _neuron_params(out, name, node, src, ("tau", "r", "v_leak", "v_threshold"))
    how = _behaviour(node, sem, name)
    _check_reset(name, getattr(node, "v_reset", None), how["reset"])
    rate = _decay_rate(name, "tau", p["tau"], sem)
    g = _gain(name, "r", rate * p["r"])
    bias = p["v_leak"] / p["r"]
    return out.add(LIF(name, (src,), beta=_compact(1.0 - rate),
                       threshold=_compact(p["v_threshold"] / g),
                       bias=_compact(bias) if np.any(bias != 0) else None, **how))


def _if(out: _Builder, name: str, node: Any, src: str, sem: NirSemantics,
        syn: _SynapticIntegrator | None) -> str:
    if syn is not None:
        return _cuba(out, name, node, src, sem, syn)
    p = _neuron_params(out, name, node, src, ("r", "v_threshold"))
    how = _behaviour(node, sem, name)
    _check_reset(name, getattr(node, "v_reset", None), how["reset"])
    g = _gain(name, "r", p["r"] * (sem.dt if sem.if_uses_dt else 1.0))
    return out.add(LIF(name, (src,), beta=np.asarray(1.0, F32),
                       threshold=_compact(p["v_threshold"] / g), **how))


def _threshold(out: _Builder, name: str, node: Any, src: str, sem: NirSemantics,
               syn: _SynapticIntegrator | None) -> str:
    """Heaviside ``x > theta``: a LIF that forgets its membrane every step (``beta = 0``)."""
    p = _neuron_params(out, name, node, src, ("threshold",))
    how = _behaviour(node, sem, name)
    return out.add(LIF(name, (src,), beta=np.asarray(0.0, F32),
                       threshold=_compact(p["threshold"]), reset="zero",
                       reset_timing="same", compare=how["compare"]))


def _cuba(out: _Builder, name: str, node: Any, src: str, sem: NirSemantics,
          syn: _SynapticIntegrator | None) -> str:
    """CubaLIF, or an LI/I synapse fused with the LIF/IF after it.

    Current gain ``g1 = w_in*dt/tau_syn`` and membrane gain ``g2 = R*dt/tau_mem`` go into the
    state units (``u' = u/g1``, ``v' = v/(g1*g2)``) so that the layer adds its input as is.
    """
    import nir

    if isinstance(node, nir.CubaLIF):
        p = _neuron_params(out, name, node, src, ("tau_syn", "tau_mem", "r", "v_leak",
                                                  "v_threshold", "w_in"))
        syn_rate = _decay_rate(name, "tau_syn", p["tau_syn"], sem)
        g1 = p["w_in"] if sem.current_jumps else syn_rate * p["w_in"]
        mem_rate = _decay_rate(name, "tau_mem", p["tau_mem"], sem)
        g2 = mem_rate * p["r"]
        leak = mem_rate * p["v_leak"]
    else:
        assert syn is not None  # only called with a fused synapse for LIF/IF
        syn_rate, g1 = _integrator(out, syn, src, sem)
        if isinstance(node, nir.LIF):
            p = _neuron_params(out, name, node, src, ("tau", "r", "v_leak", "v_threshold"))
            mem_rate = _decay_rate(name, "tau", p["tau"], sem)
            g2, leak = mem_rate * p["r"], mem_rate * p["v_leak"]
        else:
            p = _neuron_params(out, name, node, src, ("r", "v_threshold"))
            mem_rate = np.zeros_like(p["r"])
            g2, leak = p["r"] * (sem.dt if sem.if_uses_dt else 1.0), mem_rate
    how = _behaviour(node, sem, name)
    _check_reset(name, getattr(node, "v_reset", None), how["reset"])
    g1 = _gain(name, "w_in*dt/tau_syn (synaptic input gain)", g1)
    g2 = _gain(name, "r*dt/tau_mem (membrane input gain)", g2)
    unit = g1 * g2
    bias = leak / unit
    return out.add(CubaLIF(name, (src,), current_decay=_compact(syn_rate),
                           voltage_decay=_compact(mem_rate),
                           threshold=_compact(p["v_threshold"] / unit),
                           bias=_compact(bias) if np.any(bias != 0) else None, **how))


def _integrator(out: _Builder, syn: _SynapticIntegrator, src: str,
                sem: NirSemantics) -> tuple[np.ndarray, np.ndarray]:
    """Decay rate and input gain of a fused LI (Euler, like the LIF) or I (no dt, like IF)."""
    import nir

    node, name = syn.node, syn.name
    if isinstance(node, nir.LI):
        p = _neuron_params(out, name, node, src, ("tau", "r", "v_leak"))
        if np.any(p["v_leak"] != 0):
            raise UnsupportedError("an LI synapse with v_leak other than 0 (a CubaLIF current "
                                   "has no bias)", layer=name)
        rate = _decay_rate(name, "tau", p["tau"], sem)
        return rate, rate * p["r"]
    p = _neuron_params(out, name, node, src, ("r",))
    return np.zeros_like(p["r"]), p["r"] * (sem.dt if sem.if_uses_dt else 1.0)


@functools.cache
def _converters() -> dict[type, Callable[..., str]]:
    """NIR node class -> converter (built on first use: importing snnc never imports nir)."""
    import nir

    table: dict[type, Callable[..., str]] = {
        nir.Affine: _dense, nir.Linear: _dense, nir.Scale: _scale, nir.Conv1d: _conv1d,
        nir.Conv2d: _conv2d, nir.SumPool2d: _pool("sum"), nir.AvgPool2d: _pool("avg"),
        nir.Flatten: _flatten_node, nir.LIF: _lif, nir.IF: _if, nir.CubaLIF: _cuba,
        nir.Threshold: _threshold,
    }
    return table



def _output_value(flat: _Flat, sink: str, value: dict[str, str], layers: list[Layer]) -> str:
    sources = [value[e.src] for e in flat.ins(sink)]
    if len(sources) == 1:
        return sources[0]
    taken = {lay.name for lay in layers}
    name = _fresh(dict.fromkeys(taken), f"{sink}.sum")
    layers.append(Add(name, tuple(sources)))
    return name


def _metadata(node: Any) -> dict[str, Any]:
    meta = getattr(node, "metadata", None)
    if not isinstance(meta, dict):
        return {}
    out = {}
    for k, v in meta.items():
        if isinstance(v, np.ndarray) and v.shape == ():
            v = v.item()
        out[str(k)] = v.decode() if isinstance(v, bytes) else v
    return out


def _int_meta(meta: Mapping[str, Any], key: str) -> int | None:
    value = meta.get(key)
    try:
        return int(value) if value is not None and int(value) >= 1 else None
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def save_nir(graph: Graph, path: str | Path, dt: float = DEFAULT_DT) -> None:
    """Write ``graph`` as a ``.nir`` file (see :func:`graph_to_nir`)."""
    import nir

    from snnc.outputs import write_bytes_atomic

    buffer = io.BytesIO()
    nir.write(buffer, graph_to_nir(graph, dt))
    write_bytes_atomic(Path(path), buffer.getvalue())


def graph_to_nir(graph: Graph, dt: float = DEFAULT_DT) -> Any:
    """The layer view as a ``nir.NIRGraph`` that :func:`load_nir` reads back to the same
    reference outputs.

    Neurons are written with unit gains (``r = tau/dt``, ``w_in = tau_syn/dt``) so that the
    Euler reading with the same ``dt`` gives back the layer's parameters; reset behaviour NIR
    cannot state (subtract, next-step, ``>=``) goes into ``snnc.*`` node metadata. Max pooling,
    multi-level spikes and attention have no NIR node and raise :class:`UnsupportedError`.
    """
    nir_graph = _export(graph, dt, explicit_delays=False)
    expected = {lay.name for lay in graph.layers if getattr(lay, "recurrent", False)}
    if _late_nodes(nir_graph, dt) != expected:
        nir_graph = _export(graph, dt, explicit_delays=True)
    return nir_graph


def _late_nodes(nir_graph: Any, dt: float) -> set[str]:
    """Which nodes the reader would make read one step late (to check a cycle's delay)."""
    flat = _flatten(nir_graph)
    _contract_virtual(flat, dt)
    source, _ = _endpoints(flat)
    _fuse_synaptic_integrators(flat)
    _mark_cycles(flat, source)
    return _resolve_delays(flat)


@dataclass
class _Writer:
    nodes: dict[str, Any] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)


def _export(graph: Graph, dt: float, explicit_delays: bool) -> Any:
    import nir

    w = _Writer()
    feeds = _sources(graph)
    skip = _conv1d_chains(graph)
    for lay in graph.layers:
        if isinstance(lay, Add) or lay.name in skip:
            continue
        if isinstance(lay, Input):
            w.nodes[lay.name] = nir.Input(input_type={"input": np.array(lay.shape)})
            continue
        reads = lay.inputs
        if lay.name in skip.values():  # a Conv1d reads what its first reshape read
            reads = graph.layer(graph.layer(lay.inputs[0]).inputs[0]).inputs
        sources = [s for src in reads for s in feeds[src]]
        if getattr(lay, "recurrent", False):
            sources = _delay_sources(graph, w, lay, sources, dt, explicit_delays)
        chain = _export_layer(graph, lay, dt, skip)
        names = [_fresh({**w.nodes, **feeds}, f"{lay.name}.{i}")
                 for i in range(len(chain) - 1)] + [lay.name]
        for nname, node in zip(names, chain, strict=True):
            w.nodes[nname] = node
        w.edges.extend((s, names[0]) for s in sources)
        w.edges.extend(itertools.pairwise(names))
    out_name = _fresh(w.nodes, "output")
    w.nodes[out_name] = nir.Output(output_type={"output": np.array(graph.shape(graph.output))})
    for s in feeds[graph.output]:
        w.edges.append((s, out_name))
    meta = {META_TIMESTEPS: int(graph.timesteps), META_ENCODING: graph.encoding}
    return nir.NIRGraph(nodes=w.nodes, edges=w.edges, metadata=meta, type_check=False)


def _sources(graph: Graph) -> dict[str, list[str]]:
    """NIR node(s) whose sum is each layer's value: Add layers dissolve into edges."""
    feeds: dict[str, list[str]] = {}
    for lay in graph.layers:
        if isinstance(lay, Add):
            feeds[lay.name] = [s for src in lay.inputs for s in feeds.get(src, [src])]
        else:
            feeds[lay.name] = [lay.name]
    return feeds


def _delay_sources(graph: Graph, w: _Writer, lay: Layer, sources: list[str], dt: float,
                   explicit: bool) -> list[str]:
    """A recurrent synapse inside a cycle is written as a plain edge (the cycle implies the
    step of delay); otherwise, or when asked, through an explicit one-step Delay node."""
    import nir

    if not isinstance(lay, Dense):
        raise UnsupportedError("a recurrent Conv2d has no NIR form", layer=lay.name)
    if not explicit and _reaches(graph, lay.name, set(lay.inputs)):
        return sources
    name = _fresh(w.nodes, f"{lay.name}.delay")
    size = lay.weight.shape[1]
    w.nodes[name] = nir.Delay(delay=np.full(size, dt))
    for s in sources:
        w.edges.append((s, name))
    return [name]


def _reaches(graph: Graph, start: str, targets: set[str]) -> bool:
    """Whether ``targets`` depend on ``start`` through instantaneous connections."""
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        for lay in graph.consumers(node):
            if getattr(lay, "recurrent", False) or lay.name in seen:
                continue
            if lay.name in targets:
                return True
            seen.add(lay.name)
            todo.append(lay.name)
    return False


def _conv1d_chains(graph: Graph) -> dict[str, str]:
    """Reshape (C,L)->(C,1,L) -> Conv2d(kh=1) -> Reshape back: the two first layers are
    written as part of one NIR Conv1d named after the last reshape."""
    skip: dict[str, str] = {}
    for lay in graph.layers:
        if not isinstance(lay, Reshape):
            continue
        conv = graph.layer(lay.inputs[0])
        if not isinstance(conv, Conv2d) or conv.weight.shape[2] != 1:
            continue
        wide = graph.layer(conv.inputs[0])
        if not isinstance(wide, Reshape):
            continue
        c, length = graph.shape(wide.inputs[0]) + (0,) * (2 - len(graph.shape(wide.inputs[0])))
        if (graph.shape(wide.name) != (c, 1, length) or len(graph.consumers(wide.name)) != 1
                or len(graph.consumers(conv.name)) != 1 or conv.recurrent
                or lay.shape != (graph.shape(conv.name)[0], graph.shape(conv.name)[2])
                or conv.padding[0] or conv.padding[2] or conv.stride[0] != 1
                or conv.padding[1] != conv.padding[3]):
            continue
        skip[wide.name] = lay.name
        skip[conv.name] = lay.name
    return skip


def _export_layer(graph: Graph, lay: Layer, dt: float, skip: dict[str, str]) -> list[Any]:
    """NIR node(s) for one layer, in data-flow order; the last is named after the layer."""
    import nir

    if isinstance(lay, Dense):
        w = lay.weight.astype(F32)
        if lay.bias is None:
            return [nir.Linear(weight=w)]
        return [nir.Affine(weight=w, bias=lay.bias.astype(F32))]
    if isinstance(lay, Conv2d):
        return [_export_conv2d(graph, lay)]
    if isinstance(lay, Pool2d):
        return [_export_pool(lay)]
    if isinstance(lay, Flatten):
        return [nir.Flatten(input_type={"input": np.array(graph.shape(lay.inputs[0]))},
                            start_dim=0, end_dim=-1)]
    if isinstance(lay, Reshape):
        if lay.name in skip.values() and lay.inputs[0] in skip:
            return [_export_conv1d(graph, lay)]
        return [_export_reshape(graph, lay)]
    if isinstance(lay, LIF):
        return [_export_lif(graph, lay, dt)]
    if isinstance(lay, CubaLIF):
        return _export_cuba(graph, lay, dt)
    raise UnsupportedError(f"layer type {type(lay).__name__} has no NIR node", layer=lay.name)


def _symmetric(lay: Layer, padding: tuple[int, int, int, int]) -> np.ndarray:
    top, left, bottom, right = padding
    if top != bottom or left != right:
        raise UnsupportedError(f"asymmetric padding {padding} (NIR pads both sides equally)",
                               layer=lay.name)
    return np.array([top, left])


def _export_conv2d(graph: Graph, lay: Conv2d) -> Any:
    import nir

    bias = lay.bias if lay.bias is not None else np.zeros(lay.weight.shape[0], F32)
    return nir.Conv2d(input_shape=tuple(graph.shape(lay.inputs[0])[1:]),
                      weight=lay.weight.astype(F32), stride=np.array(lay.stride),
                      padding=_symmetric(lay, lay.padding), dilation=np.array(lay.dilation),
                      groups=int(lay.groups), bias=np.asarray(bias, F32))


def _export_conv1d(graph: Graph, lay: Reshape) -> Any:
    import nir

    conv = graph.layer(lay.inputs[0])
    assert isinstance(conv, Conv2d)
    wide = graph.layer(conv.inputs[0])
    bias = conv.bias if conv.bias is not None else np.zeros(conv.weight.shape[0], F32)
    return nir.Conv1d(input_shape=int(graph.shape(wide.inputs[0])[1]),
                      weight=conv.weight[:, :, 0, :].astype(F32), stride=int(conv.stride[1]),
                      padding=int(conv.padding[1]), dilation=int(conv.dilation[1]),
                      groups=int(conv.groups), bias=np.asarray(bias, F32))


def _export_pool(lay: Pool2d) -> Any:
    import nir

    kinds = {"sum": nir.SumPool2d, "avg": nir.AvgPool2d}
    if lay.pool not in kinds:
        raise UnsupportedError(f"{lay.pool} pooling has no NIR node (NIR has sum and average "
                               "pooling)", layer=lay.name)
    return kinds[lay.pool](kernel_size=np.array(lay.kernel), stride=np.array(lay.stride),
                           padding=_symmetric(lay, lay.padding))


def _export_reshape(graph: Graph, lay: Reshape) -> Any:
    """A reshape that merges one run of consecutive axes is a NIR Flatten."""
    import nir

    src = graph.shape(lay.inputs[0])
    for start in range(len(src)):
        for end in range(start, len(src)):
            merged = (*src[:start], math.prod(src[start:end + 1]), *src[end + 1:])
            if merged == tuple(lay.shape):
                return nir.Flatten(input_type={"input": np.array(src)}, start_dim=start,
                                   end_dim=end)
    raise UnsupportedError(f"reshape {src} -> {lay.shape} is not a flatten (NIR has no "
                           "general reshape)", layer=lay.name)


def _full(graph: Graph, lay: Layer, value: Any) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, np.float64), graph.shape(lay.name)).copy()


def _behaviour_meta(lay: LIF | CubaLIF) -> dict[str, str]:
    """NIR means reset to 0 at the same step with ``>``; anything else is recorded."""
    meta = {}
    if lay.reset != "zero":
        meta[META_RESET] = lay.reset
    if lay.reset_timing != "same":
        meta[META_TIMING] = lay.reset_timing
    if lay.compare != "gt":
        meta[META_COMPARE] = lay.compare
    return meta


def _export_lif(graph: Graph, lay: LIF, dt: float) -> Any:
    import nir

    beta = _full(graph, lay, lay.beta)
    theta = _full(graph, lay, lay.threshold)
    bias = _full(graph, lay, lay.bias if lay.bias is not None else 0.0)
    meta = _behaviour_meta(lay)
    if np.all(beta == 0) and not np.any(bias) and lay.reset_timing == "same":
        meta = {META_COMPARE: lay.compare} if lay.compare != "gt" else {}
        return nir.Threshold(threshold=theta, metadata=meta)
    if np.all(beta == 1):
        if np.any(bias):
            raise UnsupportedError("an IF neuron with a bias has no NIR form (NIR IF has no "
                                   "leak voltage)", layer=lay.name)
        return nir.IF(r=np.ones_like(theta), v_threshold=theta, v_reset=np.zeros_like(theta),
                      metadata=meta)
    if np.any(beta < 0) or np.any(beta >= 1):
        raise UnsupportedError("NIR LIF needs 0 <= beta < 1 for every neuron (beta = 1 - "
                               "dt/tau)", layer=lay.name)
    tau = dt / (1.0 - beta)
    r = tau / dt
    return nir.LIF(tau=tau, r=r, v_leak=bias * r, v_threshold=theta,
                   v_reset=np.zeros_like(theta), metadata=meta)


def _export_cuba(graph: Graph, lay: CubaLIF, dt: float) -> list[Any]:
    """CubaLIF with unit gains; a decay of 0 (tau = inf) is written as an I or IF node."""
    import nir

    cd = _full(graph, lay, lay.current_decay)
    vd = _full(graph, lay, lay.voltage_decay)
    theta = _full(graph, lay, lay.threshold)
    bias = _full(graph, lay, lay.bias if lay.bias is not None else 0.0)
    meta = _behaviour_meta(lay)
    for what, d in (("current_decay", cd), ("voltage_decay", vd)):
        if np.any(d < 0) or np.any(d > 1) or (np.any(d == 0) and not np.all(d == 0)):
            raise UnsupportedError(f"{what} must lie in (0, 1] for every neuron, or be 0 for "
                                   "all of them, to have a NIR form", layer=lay.name)
    zero = np.zeros_like(theta)
    if np.all(cd > 0) and np.all(vd > 0):
        tau_syn, tau_mem = dt / cd, dt / vd
        return [nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, r=tau_mem / dt,
                            v_leak=bias * tau_mem / dt, v_threshold=theta, v_reset=zero,
                            w_in=tau_syn / dt, metadata=meta)]
    if np.all(cd > 0):  # unit gain: r = tau_syn/dt
        syn: Any = nir.LI(tau=dt / cd, r=1.0 / cd, v_leak=zero.copy())
    else:
        syn = nir.I(r=np.ones_like(theta))
    if np.all(vd > 0):
        tau_mem = dt / vd
        cell: Any = nir.LIF(tau=tau_mem, r=tau_mem / dt, v_leak=bias * tau_mem / dt,
                            v_threshold=theta, v_reset=zero, metadata=meta)
    else:
        if np.any(bias):
            raise UnsupportedError("a CubaLIF without voltage decay and with a bias has no NIR "
                                   "form", layer=lay.name)
        cell = nir.IF(r=np.ones_like(theta), v_threshold=theta, v_reset=zero, metadata=meta)
    return [syn, cell]


__all__ = [
    "DEFAULT_DT",
    "PRESETS",
    "NirSemantics",
    "graph_to_nir",
    "load_nir",
    "nir_to_graph",
    "save_nir",
    "semantics_for",
]
