"""Lava processes that snnc adds to Lava's own library (fixed point, ``fixed_pt`` tag).

The Loihi emitter copies this file next to the generated ``network.py`` as
``snnc_processes.py``; it needs only numpy, scipy and Lava (``lava_compat.activate()`` must have
run on Python 3.11+). Each process documents where it runs:

- ``VariantLIF`` - Lava's bit-accurate LIF dynamics (``AbstractPyLifModelFixed``: 12-bit
  decays, wrapped 24-bit current, saturated 24-bit voltage, ``<< 6`` alignment) with per-neuron
  ``du``/``dv``/``vth``, reset by subtraction or none, ``>=`` and snnTorch's reset from the
  previous membrane, plus a constant synaptic current; or graded spikes (Sinabs' MultiSpike):
  the count ``clip(floor(v / theta), 0, graded)`` sent as the graded payload, ``theta`` per spike
  subtracted. Lava's stock LIF fixes all of these; a
  Loihi 2 chip runs them as a custom neuron program (microcode), which Lava's open-source
  release does not include, so this model is the simulation of that program.
- ``MultiLevel`` - graded spikes ``clip(floor(I/theta + 1/2), 0, levels)``. With a constant
  threshold it is neuron-local (a custom neuron program on chip); the input-aware threshold
  needs a mean over neurons and runs off-chip, on the host.
- ``HostAttention`` - spiking self-attention (two dynamic operands, no synapse form): off-chip.
- ``HostMaxPool`` - max pooling of a neuron layer's spike counts or levels (a maximum is not a
  sum, so no synapse computes it; binary spikes are pooled by an OR neuron instead): off-chip.
- ``SpikeRecorder`` / ``StateRecorder`` - host-side probes that save what they saw with
  ``numpy.save`` after the last step (Lava's ``Var.get`` moves arrays element by element).
"""

from __future__ import annotations

import typing as ty

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort, PyRefPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort, RefPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.lif.models import AbstractPyLifModelFixed
from scipy import sparse

Shape = tuple[int, ...]


class VariantLIF(AbstractProcess):
    """LIF with per-neuron parameters and a choice of reset (see the module docstring).

    ``reset``: "zero" | "subtract" | "none"; ``reset_timing``: "same" | "next" (the reset uses
    the previous step's membrane); ``compare``: "gt" | "ge" against ``vth << 6``.
    ``current_bias`` is added to the synaptic input before the ``<< 6`` alignment. Both biases
    are added from the 0-based step ``bias_on`` on (when the layer's input first arrives).
    ``graded`` > 0: send spike counts up to ``graded`` (a graded payload) with a reset by
    subtraction.
    """

    def __init__(self, *, shape: Shape, du: np.ndarray, dv: np.ndarray, vth: np.ndarray,
                 bias_mant: np.ndarray, bias_exp: np.ndarray, current_bias: np.ndarray,
                 reset: str, reset_timing: str, compare: str, graded: int = 0,
                 start: int = 0, bias_on: int = 0, name: str | None = None) -> None:
        super().__init__(shape=shape, reset=reset, reset_timing=reset_timing, compare=compare,
                         graded=graded, start=start, bias_on=bias_on, name=name)
        self.a_in = InPort(shape=shape)
        self.s_out = OutPort(shape=shape)
        self.u = Var(shape=shape, init=0)
        self.v = Var(shape=shape, init=0)
        self.du = Var(shape=shape, init=du)
        self.dv = Var(shape=shape, init=dv)
        self.vth = Var(shape=shape, init=vth)
        self.bias_mant = Var(shape=shape, init=bias_mant)
        self.bias_exp = Var(shape=shape, init=bias_exp)
        self.current_bias = Var(shape=shape, init=current_bias)


@implements(proc=VariantLIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyVariantLIFModelFixed(AbstractPyLifModelFixed):
    """Lava's fixed-point LIF step with the variant's reset, comparison and timing."""

    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    du: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=12)
    dv: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=12)
    vth: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=17)
    current_bias: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)

    def __init__(self, proc_params: ty.Any) -> None:
        super().__init__(proc_params)
        self.effective_vth = np.zeros(1, np.int64)

    def subthr_dynamics(self, activation_in: np.ndarray) -> None:
        """Lava's fixed-point update with the 24-bit current wrapped modulo 2^24 into
        (-2^23, 2^23] for any input (the stock model corrects an overflow once, which is exact
        only for inputs up to 2^18 a step): the register arithmetic of the integer reference.
        Decays round toward zero, the membrane saturates at +-(2^23 - 1)."""
        half, unity, shift = self.max_uv_val, self.decay_unity, self.decay_shift
        u = self.u.astype(np.int64) * (unity - (self.du.astype(np.int64) + self.ds_offset))
        u = np.sign(u) * (np.abs(u) >> shift)
        u = u + (np.asarray(activation_in, np.int64) << self.act_shift)
        u = ((u - 1 + half) & (2 * half - 1)) - half + 1
        v = self.v.astype(np.int64) * (unity - (self.dv.astype(np.int64) + self.dm_offset))
        v = np.sign(v) * (np.abs(v) >> shift) + u + self.effective_bias
        self.u[:] = u
        self.v[:] = np.clip(v, 1 - half, half - 1)

    def scale_threshold(self) -> None:
        self.effective_vth = np.left_shift(self.vth.astype(np.int64), self.vth_shift)
        self.isthrscaled = True

    def fired(self) -> np.ndarray:
        if self.proc_params["compare"] == "ge":
            return self.v >= self.effective_vth
        return self.v > self.effective_vth

    def reset(self, spikes: np.ndarray) -> None:
        kind = self.proc_params["reset"]
        if kind == "zero":
            self.v[spikes] = 0
        elif kind == "subtract":
            self.v[spikes] -= self.effective_vth[spikes].astype(np.int32)

    def graded_counts(self) -> np.ndarray:
        """Graded spikes: ``clip(floor(v / theta), 0, graded)``, ``theta`` subtracted per spike."""
        theta = np.broadcast_to(self.effective_vth, self.v.shape)
        counts = np.clip(np.floor_divide(self.v.astype(np.int64), theta), 0,
                         self.proc_params["graded"])
        self.v[:] = (self.v - theta * counts).astype(self.v.dtype)
        return counts.astype(np.int32)

    def run_spk(self) -> None:
        if self.time_step <= self.proc_params["start"]:  # runs behind a QNN stage: not yet
            self.a_in.recv()
            self.s_out.send(np.zeros(self.s_out.shape, np.int32))
            return
        on = self.time_step > self.proc_params["bias_on"]  # time_step counts from 1
        activation = self.a_in.recv().astype(np.int32) + (self.current_bias if on else 0)
        self.scale_bias()
        if not on:
            self.effective_bias = np.zeros_like(self.effective_bias)
        if not self.isthrscaled:
            self.scale_threshold()
        late = self.proc_params["reset_timing"] == "next"
        previous = self.fired() if late else None
        self.subthr_dynamics(activation_in=activation)
        if self.proc_params["graded"] > 0:
            self.s_out.send(self.graded_counts())
            return
        if previous is not None:
            self.reset(previous)
            spikes = self.fired()
        else:
            spikes = self.fired()
            self.reset(spikes)
        self.s_out.send(spikes)


def multilevel_levels(current: np.ndarray, levels: int, axis: int, alpha_mant: int,
                      alpha_frac_bits: int, vth: int) -> np.ndarray:
    """Integer spike levels of a (batch, *shape) current; ``axis`` -1 means constant ``vth``.

    theta is the exact rational ``alpha_mant * sum|I| / (n * 2^alpha_frac_bits)`` over the
    sample axis ``axis`` (or ``vth``), and ``floor(I/theta + 1/2)`` is one integer division.
    """
    current = current.astype(np.int64)
    if axis < 0:
        num = np.full_like(current, 2 * vth)
        top = 2 * current + vth
    else:
        batch_axis = axis + 1
        n = current.shape[batch_axis]
        theta_num = alpha_mant * np.abs(current).sum(axis=batch_axis, keepdims=True)
        top = 2 * current * (n << alpha_frac_bits) + theta_num
        num = np.broadcast_to(2 * theta_num, current.shape)
    level = np.clip(np.floor_divide(top, np.where(num > 0, num, 1)), 0, levels)
    return np.where(num > 0, level, 0)


class MultiLevel(AbstractProcess):
    """Graded-spike neuron: levels of ``a_in + bias`` per step (the bias from the 0-based step
    ``bias_on`` on), stateless."""

    def __init__(self, *, shape: Shape, sample_shape: Shape, levels: int, axis: int,
                 alpha_mant: int, alpha_frac_bits: int, vth: int, bias: np.ndarray,
                 start: int = 0, bias_on: int = 0, name: str | None = None) -> None:
        super().__init__(shape=shape, sample_shape=tuple(sample_shape), levels=levels,
                         axis=axis, alpha_mant=alpha_mant, alpha_frac_bits=alpha_frac_bits,
                         vth=vth, start=start, bias_on=bias_on, name=name)
        self.a_in = InPort(shape=shape)
        self.s_out = OutPort(shape=shape)
        self.bias = Var(shape=shape, init=bias)


@implements(proc=MultiLevel, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyMultiLevelModelFixed(PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    bias: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)

    def run_spk(self) -> None:
        p = self.proc_params
        if self.time_step <= p["start"]:  # runs behind a QNN stage: not yet
            self.a_in.recv()
            self.s_out.send(np.zeros(self.s_out.shape, np.int32))
            return
        bias = self.bias if self.time_step > p["bias_on"] else 0
        current = (self.a_in.recv().astype(np.int64) + bias).reshape(
            (-1, *p["sample_shape"]))
        out = multilevel_levels(current, p["levels"], p["axis"], p["alpha_mant"],
                                p["alpha_frac_bits"], p["vth"])
        self.s_out.send(out.reshape(-1).astype(np.int32))


def spread_step(level: np.ndarray, t: int, steps: int) -> np.ndarray:
    """Step ``t`` of a level sent as its even spike train: ``floor((t+1) c/T) - floor(t c/T)``
    (the count-to-steps rule of ``snnc.reference.mapped``)."""
    level = level.astype(np.int64)
    return (t + 1) * level // steps - t * level // steps


class QnnTwin(AbstractProcess):
    """A QNN-mapped stage: sums ``a_in`` over the steps before ``compute`` (0-based step of the
    run), adds ``bias`` once and turns the total into a level ``0..levels`` in that step
    (``floor(I/vth + 1/2)``, the twin's constant threshold). It then sends the level as one
    graded spike (``send_level``: every reader is a QNN stage) or, from that step on, its even
    spike train over ``steps`` steps."""

    def __init__(self, *, shape: Shape, levels: int, vth: int, bias: np.ndarray, compute: int,
                 steps: int, send_level: int, name: str | None = None) -> None:
        super().__init__(shape=shape, levels=levels, vth=vth, compute=compute, steps=steps,
                         send_level=send_level, name=name)
        self.a_in = InPort(shape=shape)
        self.s_out = OutPort(shape=shape)
        self.bias = Var(shape=shape, init=bias)
        self.total = Var(shape=shape, init=0)
        self.level = Var(shape=shape, init=0)


@implements(proc=QnnTwin, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyQnnTwinModelFixed(PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    bias: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=32)
    total: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=64)
    level: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=32)

    def run_spk(self) -> None:
        p = self.proc_params
        t = self.time_step - 1 - p["compute"]
        arrived = self.a_in.recv().astype(np.int64)
        if t <= 0:
            self.total = self.total + arrived
        if t == 0:
            current = (self.total + self.bias)[None]
            self.level = multilevel_levels(current, p["levels"], -1, 0, 0, p["vth"])[0]
        out = np.zeros(self.s_out.shape, np.int64)
        if p["send_level"] and t == 0:
            out = self.level
        elif not p["send_level"] and 0 <= t < p["steps"]:
            out = spread_step(self.level, t, p["steps"])
        self.s_out.send(out.astype(np.int32))


def attention_values(q: np.ndarray, k: np.ndarray, v: np.ndarray, heads: int,
                     mask: np.ndarray, mask_frac_bits: int) -> np.ndarray:
    """``(sum_m (Q K^T)[n, m] * mask[h, n, m] * V[m]) >> mask_frac_bits`` on (batch, L, D)."""
    b, length, d = q.shape
    split = (b, length, heads, d // heads)
    qh, kh, vh = (t.reshape(split).transpose(0, 2, 1, 3) for t in (q, k, v))
    scores = np.matmul(qh, kh.transpose(0, 1, 3, 2)) * mask[None]
    out = np.matmul(scores, vh) >> mask_frac_bits
    return out.transpose(0, 2, 1, 3).reshape(b, length, d)


class _LateHostStageModel(PyLoihiProcessModel):
    """What the off-chip stages share: one step late like the synapse they replace, each step
    sends ``post @ values + post_bias`` of the previous step's inputs (the bias from the 0-based
    step ``bias_on`` on), then reads this step's (:meth:`values`, (batch, n) int64)."""

    def __init__(self, proc_params: ty.Any) -> None:
        super().__init__(proc_params)
        p = proc_params
        self.bias = np.tile(np.asarray(p["post_bias"], np.int64), p["batch"])
        self.pending = np.zeros_like(self.bias)

    def values(self) -> np.ndarray:
        raise NotImplementedError

    def run_spk(self) -> None:
        p = self.proc_params
        on = self.time_step > p["bias_on"]
        self.s_out.send((self.pending + self.bias if on else self.pending).astype(np.int32))
        post = p["post"].astype(np.int64)
        self.pending = np.asarray(post @ self.values().T).T.reshape(-1)


class HostAttention(AbstractProcess):
    """Off-chip attention stage: ``post @ attention(Q, K, V) + post_bias``, one step late like a
    synapse (it sends the previous step's result before it receives this step's spikes); the
    bias from the 0-based step ``bias_on`` on."""

    def __init__(self, *, batch: int, length: int, dim: int, heads: int, mask: np.ndarray,
                 mask_frac_bits: int, post: sparse.csr_matrix, post_bias: np.ndarray,
                 bias_on: int = 0, name: str | None = None) -> None:
        super().__init__(batch=batch, length=length, dim=dim, heads=heads, mask=mask,
                         mask_frac_bits=mask_frac_bits, post=post, post_bias=post_bias,
                         bias_on=bias_on, name=name)
        size = batch * length * dim
        self.q_in = InPort(shape=(size,))
        self.k_in = InPort(shape=(size,))
        self.v_in = InPort(shape=(size,))
        self.s_out = OutPort(shape=(batch * post.shape[0],))


@implements(proc=HostAttention, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyHostAttentionModel(_LateHostStageModel):
    q_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    k_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    v_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)

    def values(self) -> np.ndarray:
        p = self.proc_params
        shape = (p["batch"], p["length"], p["dim"])
        q, k, v = (port.recv().astype(np.int64).reshape(shape)
                   for port in (self.q_in, self.k_in, self.v_in))
        return attention_values(q, k, v, p["heads"], np.asarray(p["mask"], np.int64),
                                p["mask_frac_bits"]).reshape(p["batch"], -1)


def max_pool_values(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
                    padding: tuple[int, int, int, int]) -> np.ndarray:
    """Max pooling of (batch, C, H, W) integers, ``padding`` (top, left, bottom, right) never
    chosen (it holds the smallest int64)."""
    top, left, bottom, right = padding
    low = np.iinfo(np.int64).min
    x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=low)
    (kh, kw), (sh, sw) = kernel, stride
    rows = (x.shape[2] - kh) // sh + 1
    cols = (x.shape[3] - kw) // sw + 1
    out = np.full((*x.shape[:2], rows, cols), low, np.int64)
    for i in range(kh):
        for j in range(kw):
            window = x[:, :, i:i + sh * (rows - 1) + 1:sh, j:j + sw * (cols - 1) + 1:sw]
            np.maximum(out, window, out=out)
    return out


class HostMaxPool(AbstractProcess):
    """Off-chip max pooling stage: ``post @ maxpool(s) + post_bias`` of a neuron layer's values
    ``s`` (spike counts or levels), one step late like a synapse (it sends the previous step's
    result before it receives this step's values); the bias from the 0-based step ``bias_on``
    on."""

    def __init__(self, *, batch: int, in_shape: Shape, kernel: tuple[int, int],
                 stride: tuple[int, int], padding: tuple[int, int, int, int],
                 post: sparse.csr_matrix, post_bias: np.ndarray, bias_on: int = 0,
                 name: str | None = None) -> None:
        super().__init__(batch=batch, in_shape=in_shape, kernel=kernel, stride=stride,
                         padding=padding, post=post, post_bias=post_bias, bias_on=bias_on,
                         name=name)
        self.a_in = InPort(shape=(batch * int(np.prod(in_shape)),))
        self.s_out = OutPort(shape=(batch * post.shape[0],))


@implements(proc=HostMaxPool, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyHostMaxPoolModel(_LateHostStageModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)

    def values(self) -> np.ndarray:
        p = self.proc_params
        x = self.a_in.recv().astype(np.int64).reshape(p["batch"], *p["in_shape"])
        pooled = max_pool_values(x, p["kernel"], p["stride"], p["padding"])
        return pooled.reshape(p["batch"], -1)


class SpikeRecorder(AbstractProcess):
    """Host-side probe: saves ``a_in`` of every step, (steps, size) int32, to ``path``."""

    def __init__(self, *, shape: Shape, steps: int, path: str,
                 name: str | None = None) -> None:
        super().__init__(shape=shape, steps=steps, path=path, name=name)
        self.a_in = InPort(shape=shape)


@implements(proc=SpikeRecorder, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySpikeRecorderModel(PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)

    def __init__(self, proc_params: ty.Any) -> None:
        super().__init__(proc_params)
        self.buffer = np.zeros((proc_params["steps"], *proc_params["shape"]), np.int32)

    def run_spk(self) -> None:
        self.buffer[self.time_step - 1] = self.a_in.recv()
        if self.time_step == self.proc_params["steps"]:
            np.save(self.proc_params["path"], self.buffer)


class StateRecorder(AbstractProcess):
    """Host-side probe of a state Var (e.g. a LIF's ``v``) after every step, saved to ``path``."""

    def __init__(self, *, shape: Shape, steps: int, path: str,
                 name: str | None = None) -> None:
        super().__init__(shape=shape, steps=steps, path=path, name=name)
        self.state = RefPort(shape=shape)


@implements(proc=StateRecorder, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyStateRecorderModel(PyLoihiProcessModel):
    state: PyRefPort = LavaPyType(PyRefPort.VEC_DENSE, np.int32, precision=24)

    def __init__(self, proc_params: ty.Any) -> None:
        super().__init__(proc_params)
        self.buffer = np.zeros((proc_params["steps"], *proc_params["shape"]), np.int32)

    def post_guard(self) -> bool:
        return True

    def run_post_mgmt(self) -> None:
        self.buffer[self.time_step - 1] = self.state.read()
        if self.time_step == self.proc_params["steps"]:
            np.save(self.proc_params["path"], self.buffer)
