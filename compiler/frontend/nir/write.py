"""Writing NIR: snnc's layer view as a ``nir.NIRGraph`` (or a ``.nir`` file) that the reader gives
back as the same reference outputs; one node family's nodes come from :mod:`snnc.frontend.nir.ir`.
"""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from snnc.errors import UnsupportedError
from snnc.frontend.nir.ir.conv import conv1d_chains, write_conv1d, write_conv2d
from snnc.frontend.nir.ir.linear import write_dense
from snnc.frontend.nir.ir.neurons import write_cuba, write_lif
from snnc.frontend.nir.ir.pooling import write_pool
from snnc.frontend.nir.ir.reshape import write_flatten, write_reshape
from snnc.frontend.nir.read import late_nodes
from snnc.frontend.nir.semantics import DEFAULT_DT, META_ENCODING, META_TIMESTEPS
from snnc.frontend.nir.values import fresh_name
from snnc.ir.layers import (
    LIF,
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
)


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
    if late_nodes(nir_graph, dt) != expected:
        nir_graph = _export(graph, dt, explicit_delays=True)
    return nir_graph


@dataclass
class _Writer:
    nodes: dict[str, Any] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)


def _export(graph: Graph, dt: float, explicit_delays: bool) -> Any:
    import nir

    w = _Writer()
    feeds = _sources(graph)
    skip = conv1d_chains(graph)
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
        names = [fresh_name({**w.nodes, **feeds}, f"{lay.name}.{i}")
                 for i in range(len(chain) - 1)] + [lay.name]
        for nname, node in zip(names, chain, strict=True):
            w.nodes[nname] = node
        w.edges.extend((s, names[0]) for s in sources)
        w.edges.extend(itertools.pairwise(names))
    out_name = fresh_name(w.nodes, "output")
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
    name = fresh_name(w.nodes, f"{lay.name}.delay")
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


def _export_layer(graph: Graph, lay: Layer, dt: float, skip: dict[str, str]) -> list[Any]:
    """NIR node(s) for one layer, in data-flow order; the last is named after the layer."""
    if isinstance(lay, Dense):
        return [write_dense(lay)]
    if isinstance(lay, Conv2d):
        return [write_conv2d(graph, lay)]
    if isinstance(lay, Pool2d):
        return [write_pool(lay)]
    if isinstance(lay, Flatten):
        return [write_flatten(graph, lay)]
    if isinstance(lay, Reshape):
        if lay.name in skip.values() and lay.inputs[0] in skip:
            return [write_conv1d(graph, lay)]
        return [write_reshape(graph, lay)]
    if isinstance(lay, LIF):
        return [write_lif(graph, lay, dt)]
    if isinstance(lay, CubaLIF):
        return write_cuba(graph, lay, dt)
    raise UnsupportedError(f"layer type {type(lay).__name__} has no NIR node", layer=lay.name)
