"""Model time and hardware time.

On a target whose synapses deliver a step late (Loihi 2, SpiNNaker 2: ``synapse_delay = 1``) a
layer ``k`` synaptic stages from the input sees model step ``t`` at hardware step ``t + k``: the
raw run of ``T`` steps starts with empty steps and loses the last spikes. Run ``T + latency``
steps instead, with empty input after the model's ``T``, and read each layer from its own
latency on: the arrays then hold model steps ``0 .. T-1`` on every target, and compare with the
framework step for step. Raw inputs are encoded for all ``T + latency`` steps (the input goes
on as its encoding defines: the same value, or the rate code's next spikes), so a layer fed by
paths of different latency (a residual skip) sees the input it would see if the model ran
longer; an encoded drive shorter than that is extended with empty steps. On a single path the
steps after ``T`` reach no value that is kept. A layer's biases start with its input
(:func:`snnc.reference.integer.bias_onsets`), so nothing drives it before its first step.
"""

from __future__ import annotations

import numpy as np

from snnc.ir.layers import Graph
from snnc.ir.quantized import NumericProfile
from snnc.reference.encode import encode
from snnc.reference.integer import latency, layer_latencies
from snnc.reference.simulate import Trace


def padded(drive: np.ndarray, extra: int) -> np.ndarray:
    """``drive`` (steps, batch, ...) followed by ``extra`` steps of zero input."""
    if extra <= 0:
        return drive
    tail = np.zeros((extra, *drive.shape[1:]), dtype=drive.dtype)
    return np.concatenate([drive, tail], axis=0)


def model_drive(inputs: np.ndarray, steps: int, lag: int, encoding: str,
                sample_shape: tuple[int, ...]) -> np.ndarray:
    """The drive of a model-time run of ``steps`` model steps on a target of latency ``lag``
    (``steps + lag`` steps; see the module docstring)."""
    x = np.asarray(inputs)
    if lag and x.ndim == len(sample_shape) + 2 and x.shape[0] < steps + lag:
        return padded(encode(x, steps, encoding, sample_shape), lag)
    return encode(x, steps + lag, encoding, sample_shape)


def to_model_time(trace: Trace, graph: Graph, profile: NumericProfile, steps: int) -> Trace:
    """A run of ``steps + latency`` steps, each layer's arrays cut to its ``steps`` model
    steps (output from the output layer's latency, spikes and membranes from their layer's)."""
    lags = layer_latencies(graph, profile)
    total = latency(graph, profile)

    def cut(values: np.ndarray, lag: int) -> np.ndarray:
        return values[lag:lag + steps]

    return Trace(output=cut(trace.output, total),
                 spikes={name: cut(v, lags.get(name, total)) for name, v in trace.spikes.items()},
                 v={name: cut(v, lags.get(name, total)) for name, v in trace.v.items()},
                 latency=total, hardware_timing=False)


def hardware_trace(trace: Trace, graph: Graph, profile: NumericProfile) -> Trace:
    """``trace`` as run, step for step, labelled with the target's latency."""
    return Trace(trace.output, trace.spikes, trace.v, latency=latency(graph, profile),
                 hardware_timing=True)
