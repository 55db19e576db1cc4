"""Reading NIR: a ``nir.NIRGraph`` (or a ``.nir`` file) into snnc's layer view.

The graph is flattened (subgraphs inlined), pass-through and Delay nodes are contracted into
edge delays, LI/I integrators are fused into the spiking node they feed, every cycle gets its
one step of delay on a synapse, and the nodes are converted in topological order by the
converters of :mod:`snnc.frontend.nir.ir`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from snnc.errors import InputError, InvalidModelError, ShapeError, UnsupportedError
from snnc.frontend.isolated import ReaderFailed, run_isolated
from snnc.frontend.nir.ir.base import Builder, SynapticIntegrator
from snnc.frontend.nir.ir.conv import read_conv1d, read_conv2d
from snnc.frontend.nir.ir.linear import bias_of, read_dense, read_scale, weight2d
from snnc.frontend.nir.ir.neurons import read_cuba, read_if, read_lif, read_threshold
from snnc.frontend.nir.ir.pooling import read_pool
from snnc.frontend.nir.ir.reshape import read_flatten
from snnc.frontend.nir.semantics import (
    DEFAULT_TIMESTEPS,
    DELAY_TOLERANCE,
    META_ENCODING,
    META_TIMESTEPS,
    NirSemantics,
    semantics_for,
)
from snnc.frontend.nir.values import (
    F32,
    fresh_name,
    int_meta,
    integers,
    metadata,
    node_type,
    numeric,
)
from snnc.ir.layers import Add, Dense, Graph, Input, Layer


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
    meta = metadata(root)
    steps = sem.timesteps or int_meta(meta, META_TIMESTEPS) or DEFAULT_TIMESTEPS
    encoding = str(meta.get(META_ENCODING, "direct"))
    return Graph(tuple(layers), output, timesteps=steps, encoding=encoding, name=name)


def late_nodes(nir_graph: Any, dt: float) -> set[str]:
    """Which nodes the reader would make read one step late (to check a cycle's delay)."""
    flat = _flatten(nir_graph)
    _contract_virtual(flat, dt)
    source, _ = _endpoints(flat)
    _fuse_synaptic_integrators(flat)
    _mark_cycles(flat, source)
    return _resolve_delays(flat)


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
class _Flat:
    """A NIR graph with subgraphs inlined, as ordered nodes and delay-annotated edges."""

    nodes: dict[str, Any]
    edges: list[_Edge]
    synapse: dict[str, SynapticIntegrator] = field(default_factory=dict)

    def ins(self, name: str) -> list[_Edge]:
        return [e for e in self.edges if e.dst == name]

    def outs(self, name: str) -> list[_Edge]:
        return [e for e in self.edges if e.src == name]


def _flatten(graph: Any, prefix: str = "") -> _Flat:
    """Inline nested NIRGraphs; a subgraph's own Input/Output nodes stay as pass-throughs."""
    import nir

    if not isinstance(graph, nir.NIRGraph):
        raise InputError(f"expected a NIR graph, got {node_type(graph)}")
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
        if isinstance(node, _PassThrough) or node_type(node) == "Identity":
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
    delay = numeric(name, "delay", node.delay)
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
                f"NIR node type {node_type(node)} (a non-spiking integrator) has no snnc layer "
                "unless it feeds exactly one LIF/IF neuron, which makes a CubaLIF", layer=name)
        dst = outs[0].dst
        flat.synapse[dst] = SynapticIntegrator(node, name)
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
            name = fresh_name(flat.nodes, f"{edge.dst}.delay")
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
    if node_type(node) == "Input":
        shape = _input_shape(name, node)
        if len(shape) == 1:
            return shape[0]
    raise UnsupportedError(f"a delayed or recurrent edge from NIR node type {node_type(node)} "
                           "needs a flat (1-D) value or a synapse to carry the delay",
                           layer=name)


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


def _convert(flat: _Flat, order: list[str], late: set[str],
             sem: NirSemantics) -> tuple[list[Layer], dict[str, str]]:
    import nir

    out = Builder(reserved=set(flat.nodes))
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
            raise UnsupportedError(f"NIR node type {node_type(node)} is not supported", layer=name)
        value[name] = convert(out, name, node, src, sem, flat.synapse.get(name))
    return out.layers, value


def _late_weights(name: str, node: Any) -> tuple[np.ndarray, np.ndarray | None]:
    if isinstance(node, _IdentityDelay):
        return np.eye(node.size, dtype=F32), None
    return weight2d(name, node), bias_of(name, node)


def _sum_inputs(out: Builder, name: str, sources: list[str]) -> str:
    """NIR adds every edge that enters a node; more than one becomes an Add layer."""
    if len(sources) == 1:
        return sources[0]
    return out.add(Add(out.name(f"{name}.sum"), tuple(sources)))


def _input_shape(name: str, node: Any) -> tuple[int, ...]:
    shape = node.input_type.get("input") if isinstance(node.input_type, dict) else None
    if shape is None:
        raise InvalidModelError("Input node has no shape", name)
    dims = integers(name, "Input shape", shape, np.size(shape))
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


@functools.cache
def _converters() -> dict[type, Callable[..., str]]:
    """NIR node class -> converter (built on first use: importing snnc never imports nir)."""
    import nir

    table: dict[type, Callable[..., str]] = {
        nir.Affine: read_dense, nir.Linear: read_dense, nir.Scale: read_scale,
        nir.Conv1d: read_conv1d, nir.Conv2d: read_conv2d, nir.SumPool2d: read_pool("sum"),
        nir.AvgPool2d: read_pool("avg"), nir.Flatten: read_flatten, nir.LIF: read_lif,
        nir.IF: read_if, nir.CubaLIF: read_cuba, nir.Threshold: read_threshold,
    }
    return table


def _output_value(flat: _Flat, sink: str, value: dict[str, str], layers: list[Layer]) -> str:
    sources = [value[e.src] for e in flat.ins(sink)]
    if len(sources) == 1:
        return sources[0]
    taken = {lay.name for lay in layers}
    name = fresh_name(dict.fromkeys(taken), f"{sink}.sum")
    layers.append(Add(name, tuple(sources)))
    return name
