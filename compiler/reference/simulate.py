"""The float reference executor: the living definition of every layer's semantics.

It runs the layer view step by step on a batch, in float32 like the exported model, and records
what every backend must reproduce: the output layer's value per step and, per neuron layer, its
spikes and membrane. The integer executor (``snnc.reference.integer``) mirrors this structure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from snnc.ir import layers as ir
from snnc.reference import kernels
from snnc.reference.blas import one_blas_thread
from snnc.reference.encode import encode

F32 = np.float32


@dataclass
class Trace:
    """What a run produced: ``output`` is (steps, batch, *out_shape); per neuron layer
    ``spikes[name]`` and, where the neuron has a membrane, ``v[name]`` of (steps, batch, *shape)."""

    output: np.ndarray
    spikes: dict[str, np.ndarray] = field(default_factory=dict)
    v: dict[str, np.ndarray] = field(default_factory=dict)
    # Steps the target needs before an input shows at the output, and whether the arrays keep
    # that raw schedule (True) or were aligned to the model's own steps (False, the default of
    # snnc.api.simulate: step t is model step t on every target).
    latency: int = 0
    hardware_timing: bool = False

    def arrays(self) -> dict[str, np.ndarray]:
        """The flat ``--output`` npz layout: ``output``, ``<layer>/spikes``, ``<layer>/v``, and
        the scalars ``steps`` (steps in the arrays), ``latency`` and ``hardware_timing``."""
        out = {"output": self.output}
        for name in sorted(self.spikes):
            out[f"{name}/spikes"] = self.spikes[name]
        for name in sorted(self.v):
            out[f"{name}/v"] = self.v[name]
        out["steps"] = np.asarray(self.output.shape[0], dtype=np.int64)
        out["latency"] = np.asarray(self.latency, dtype=np.int64)
        out["hardware_timing"] = np.asarray(int(self.hardware_timing), dtype=np.int64)
        return out

    def spike_counts(self) -> np.ndarray:
        """Output summed over steps: (batch, *out_shape)."""
        return self.output.sum(axis=0)


def _reset(v: np.ndarray, fired: np.ndarray, theta: np.ndarray, kind: str) -> np.ndarray:
    if kind == "zero":
        return np.where(fired, F32(0), v).astype(F32)
    if kind == "subtract":
        return (v - theta * fired.astype(F32)).astype(F32)
    return v


def _fire(v: np.ndarray, theta: np.ndarray, compare: str) -> np.ndarray:
    return v >= theta if compare == "ge" else v > theta


def _membrane_update(layer: ir.LIF | ir.CubaLIF, v: np.ndarray, drive: np.ndarray,
                     theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shared tail of LIF and CubaLIF: ``drive`` is the decayed membrane plus its input."""
    if layer.reset_timing == "next":
        was = _fire(v, theta, layer.compare)
        v = _reset(drive, was, theta, layer.reset)
        return v, _fire(v, theta, layer.compare)
    fired = _fire(drive, theta, layer.compare)
    return _reset(drive, fired, theta, layer.reset), fired


def _cast(x: np.ndarray, attrs: dict) -> np.ndarray:
    to = int(attrs["to"])
    dtype = {1: F32, 9: np.bool_, 6: np.int32, 7: np.int64, 11: np.float64}.get(to)
    if dtype is None:
        raise TypeError(f"no float kernel for Cast to ONNX type {to}")
    return np.asarray(x).astype(dtype)


_PROGRAM_OPS: dict[str, Callable[..., np.ndarray]] = {
    "Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide,
    "Neg": np.negative, "Greater": np.greater, "GreaterOrEqual": np.greater_equal,
    "Less": np.less, "LessOrEqual": np.less_equal, "Not": np.logical_not,
    "Relu": lambda x: np.maximum(x, np.zeros((), x.dtype)), "Floor": np.floor,
    "Sign": np.sign, "Abs": np.abs, "Identity": lambda x: x, "Max": np.maximum,
    "Min": np.minimum, "Where": np.where,
}


def run_program(program: ir.StepProgram, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Execute a :class:`StepProgram` on ``values`` (``I0``.., ``v``, ``u``) in float32 numpy,
    the same IEEE operations the exported graph performs."""
    env = dict(values)
    for op, args, result, attrs in program.ops:
        operands = [program.constants[a.removeprefix("const:")] if a.startswith("const:")
                    else env[a] for a in args if a]
        if op == "Cast":
            env[result] = _cast(operands[0], dict(attrs))
        else:
            env[result] = np.asarray(_PROGRAM_OPS[op](*operands))
    return env


def _program_step(program: ir.StepProgram, currents: tuple[np.ndarray, ...],
                  state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One step of a program; currents the program takes as one arrive summed."""
    if len(currents) != len(program.inputs) and len(program.inputs) == 1:
        total = currents[0]
        for extra in currents[1:]:
            total = total + extra
        currents = (total,)
    feeds = dict(zip(program.inputs, currents, strict=True))
    return run_program(program, {**feeds, **state})


def lif_step(layer: ir.LIF, current: np.ndarray, v: np.ndarray,
             more: tuple[np.ndarray, ...] = ()) -> tuple[np.ndarray, np.ndarray]:
    """One float LIF step (see :class:`snnc.ir.layers.LIF`); returns (spikes, new v).
    ``more``: currents added after ``current``, one at a time (an ``into_neuron`` Add)."""
    if layer.program is not None:
        env = _program_step(layer.program, (current, *more), {"v": v})
        return env["s"].astype(F32), env["v_next"].astype(F32)
    beta = np.asarray(layer.beta, F32)
    theta = np.asarray(layer.threshold, F32)
    drive = beta * v + current
    for extra in more:
        drive = drive + extra
    if layer.bias is not None:
        drive = drive + np.asarray(layer.bias, F32)
    if layer.graded:
        h = drive.astype(F32)
        counts = np.where(h > 0, np.floor(h / theta), F32(0)).astype(F32)
        return counts, (h - theta * counts).astype(F32)
    v, fired = _membrane_update(layer, v, drive.astype(F32), theta)
    return fired.astype(F32), v


def cuba_step(layer: ir.CubaLIF, current: np.ndarray, u: np.ndarray,
              v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One float CUBA step; returns (spikes, new u, new v)."""
    if layer.program is not None and len(layer.program.inputs) == 1:
        env = _program_step(layer.program, (current,), {"v": v, "u": u})
        return env["s"].astype(F32), env["u_next"].astype(F32), env["v_next"].astype(F32)
    u = ((F32(1) - np.asarray(layer.current_decay, F32)) * u + current).astype(F32)
    drive = (F32(1) - np.asarray(layer.voltage_decay, F32)) * v + u
    if layer.bias is not None:
        drive = drive + np.asarray(layer.bias, F32)
    v, fired = _membrane_update(layer, v, drive.astype(F32), np.asarray(layer.threshold, F32))
    return fired.astype(F32), u, v


def multilevel_step(layer: ir.MultiLevelSpike, current: np.ndarray) -> np.ndarray:
    """Integer spike levels ``clip(floor(I/theta + 1/2), 0, D)``, ``theta`` input-aware."""
    if layer.axis is None:
        theta = np.full_like(current, F32(layer.theta if layer.theta is not None else 1.0))
    else:
        axis = layer.axis if layer.axis < 0 else layer.axis + 1  # skip the batch axis
        theta = (F32(layer.alpha) * np.mean(np.abs(current), axis=axis, keepdims=True,
                                            dtype=F32)).astype(F32)
        theta = np.broadcast_to(theta, current.shape)
    safe = np.where(theta > 0, theta, F32(1))
    level = np.floor(current / safe + F32(0.5))
    level = np.clip(level, 0, layer.levels)
    return np.where(theta > 0, level, F32(0)).astype(F32)


def attention(layer: ir.SpikingSelfAttention, q: np.ndarray, k: np.ndarray,
              v: np.ndarray) -> np.ndarray:
    """Float HD-RepSSA on (B, L, D) inputs."""
    b, length, d = q.shape
    h = layer.heads
    split = (b, length, h, d // h)
    qh, kh, vh = (t.reshape(split).transpose(0, 2, 1, 3) for t in (q, k, v))
    scores = np.matmul(qh, kh.transpose(0, 1, 3, 2)) * F32(layer.scale)
    scores = scores * layer.decay_mask(length)[None]
    out = np.matmul(scores.astype(F32), vh)
    return out.transpose(0, 2, 1, 3).reshape(b, length, d).astype(F32)


def _synapse(layer: ir.Layer, args: list[np.ndarray]) -> np.ndarray:
    if isinstance(layer, ir.Dense):
        return kernels.dense(args[0], layer.weight.astype(F32), _f32(layer.bias))
    if isinstance(layer, ir.Conv2d):
        return kernels.conv2d(args[0], layer.weight.astype(F32), _f32(layer.bias), layer.stride,
                              layer.padding, layer.dilation, layer.groups)
    if isinstance(layer, ir.Pool2d):
        return kernels.pool2d(args[0], layer.pool, layer.kernel, layer.stride, layer.padding)
    if isinstance(layer, ir.Flatten | ir.Reshape):
        return args[0].reshape(args[0].shape[0], -1) if isinstance(layer, ir.Flatten) else \
            args[0].reshape((args[0].shape[0], *layer.shape))
    if isinstance(layer, ir.Add):
        total = args[0]
        for a in args[1:]:
            total = total + a
        return total
    if isinstance(layer, ir.SpikingSelfAttention):
        return attention(layer, *args)
    raise TypeError(f"no float kernel for layer type {type(layer).__name__}")


def _f32(a: np.ndarray | None) -> np.ndarray | None:
    return None if a is None else np.asarray(a, F32)


StepHook = Callable[[str, np.ndarray], None]


@one_blas_thread()
def run_graph(graph: ir.Graph, drive: np.ndarray, record: bool = True) -> Trace:
    """Run ``graph`` on an encoded drive of shape (steps, batch, *input_shape)."""
    steps, batch = drive.shape[:2]
    values: dict[str, np.ndarray] = {}
    state_v: dict[str, np.ndarray] = {}
    state_u: dict[str, np.ndarray] = {}
    previous: dict[str, np.ndarray] = {}
    rec_s: dict[str, list[np.ndarray]] = {}
    rec_v: dict[str, list[np.ndarray]] = {}
    outputs = []
    recurrent_sources = {src for lay in graph.layers if getattr(lay, "recurrent", False)
                         for src in lay.inputs}
    split = {lay.name: lay.inputs for lay in graph.layers  # sums a LIF adds term by term
             if isinstance(lay, ir.Add) and lay.into_neuron}
    for lay in graph.layers:
        shape = (batch, *graph.shape(lay.name))
        if isinstance(lay, ir.LIF | ir.CubaLIF):
            state_v[lay.name] = np.zeros(shape, F32)
            rec_v[lay.name] = []
        if isinstance(lay, ir.CubaLIF):
            state_u[lay.name] = np.zeros(shape, F32)
        if lay.is_neuron:
            rec_s[lay.name] = []
        if lay.name in recurrent_sources:
            previous[lay.name] = np.zeros(shape, F32)
    for t in range(steps):
        for lay in graph.layers:
            if isinstance(lay, ir.Input):
                values[lay.name] = drive[t].astype(F32)
                continue
            late = getattr(lay, "recurrent", False)
            args = [previous[s] if late else values[s] for s in lay.inputs]
            if isinstance(lay, ir.LIF):
                currents = [values[s] for s in split.get(lay.inputs[0], ())] or args
                out, state_v[lay.name] = lif_step(lay, currents[0], state_v[lay.name],
                                                  tuple(currents[1:]))
            elif isinstance(lay, ir.CubaLIF):
                out, state_u[lay.name], state_v[lay.name] = cuba_step(
                    lay, args[0], state_u[lay.name], state_v[lay.name])
            elif isinstance(lay, ir.MultiLevelSpike):
                out = multilevel_step(lay, args[0])
            else:
                out = _synapse(lay, args).astype(F32)
            values[lay.name] = out
            if record and lay.is_neuron:
                rec_s[lay.name].append(out)
                if lay.name in rec_v:
                    rec_v[lay.name].append(state_v[lay.name].copy())
        for name in previous:
            previous[name] = values[name]
        outputs.append(values[graph.output])
    return Trace(
        output=np.stack(outputs),
        spikes={k: np.stack(v) for k, v in rec_s.items()} if record else {},
        v={k: np.stack(v) for k, v in rec_v.items()} if record else {},
    )


def simulate(graph: ir.Graph, x: np.ndarray, steps: int | None = None,
             record: bool = True) -> Trace:
    """Float reference run: encode ``x`` (see :func:`snnc.reference.encode.encode`), then step."""
    steps = steps or graph.timesteps
    drive = encode(x, steps, graph.encoding, graph.input.shape)
    return run_graph(graph, drive, record=record)
