"""Max pooling of binary spikes as an OR neuron, for hardware whose synapses only add.

On 0/1 spikes, the maximum over a pooling window is 1 exactly when any member spiked: a sum pool
(weight 1 per window member) into a neuron with threshold just above 0, reset to zero and no
leak computes it. On Loihi that neuron is one more population behind one more synapse, so the
pooled spikes arrive one step later: the rewritten graph has one synaptic stage more, and the
integer reference, which adds ``synapse_delay`` per stage, carries that step of latency.

The float reference computes identical spikes before and after (the float neuron's membrane is
the window's spike count, a small integer, so ``count > 0.5`` is exact). Max pools of anything
else (currents, spike levels, real-valued inputs) stay as they are; a backend that cannot run
them refuses them with the reason.

Applied by :func:`snnc.passes.quantize.quantize` when the profile sets ``max_pool_neuron``.
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np

from snnc.ir.layers import LIF, Graph, Layer, Pool2d
from snnc.ir.stages import sends_binary

# Any value in (0, 1) works: the neuron's input is a whole number of spikes. 0.5 quantizes
# to the integer threshold 0 (fire on v > 0) in spike units.
OR_THRESHOLD = np.float32(0.5)
OR_ATTR = "or_pool"


def _free_name(base: str, taken: set[str]) -> str:
    name, i = f"{base}_window", 1
    while name in taken:
        i += 1
        name = f"{base}_window{i}"
    taken.add(name)
    return name


def or_neurons(graph: Graph) -> Graph:
    """``graph`` with every max pool of binary spikes replaced by sum pool + OR neuron.

    The OR neuron keeps the pool's name (readers, the output and the trace still find it); the
    sum pool is named ``<pool>_window``. The neuron carries ``attrs["or_pool"] = True`` so that
    passes choosing thresholds leave it as it is.
    """
    taken = {lay.name for lay in graph.layers}
    layers: list[Layer] = []
    for lay in graph.layers:
        if isinstance(lay, Pool2d) and lay.pool == "max" and sends_binary(graph, lay.inputs[0]):
            window = Pool2d(_free_name(lay.name, taken), lay.inputs, pool="sum",
                            kernel=lay.kernel, stride=lay.stride, padding=lay.padding)
            marked = MappingProxyType({**lay.attrs, OR_ATTR: True})
            layers += [window, LIF(lay.name, (window.name,), beta=np.float32(1.0),
                                   threshold=OR_THRESHOLD, reset="zero", reset_timing="same",
                                   compare="gt", attrs=marked)]
        else:
            layers.append(lay)
    return graph if len(layers) == len(graph.layers) else graph.replace_layers(layers)


def is_or_neuron(layer: Layer) -> bool:
    return bool(layer.attrs.get(OR_ATTR, False))
