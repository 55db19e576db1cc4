"""The layer view: a typed, ordered list of layers with numpy parameters.

It is read from the raised Relax module's matches (``snnc.frontend.layer_walk``) and is what the
reference executor, the passes that need numbers (calibration, quantization, pruning) and every
backend read. Shapes are per sample: the batch axis is never part of a layer's shape. Layers are
listed in topological order; the only back edges are ``recurrent`` synapses, which read their
source's value from the previous step (zero at step 0).

Every neuron layer documents its discrete-time update; the float reference implements exactly
these equations and the integer reference their fixed-point counterparts.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any, ClassVar, Literal

import numpy as np

from snnc.errors import InvalidModelError, ShapeError

Shape = tuple[int, ...]
ResetKind = Literal["zero", "subtract", "none"]
ResetTiming = Literal["same", "next"]
Compare = Literal["gt", "ge"]
PoolKind = Literal["max", "avg", "sum"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, eq=False)
class Layer:
    """A node of the layer view. ``inputs`` names the layers it reads, in argument order.

    ``attrs`` carries annotations added by passes (mapping, spike rates, kernel choice); it never
    changes what the layer computes.
    """

    name: str
    inputs: tuple[str, ...]
    attrs: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, kw_only=True)

    kind: ClassVar[str] = "layer"
    is_neuron: ClassVar[bool] = False

    def out_shape(self, in_shapes: list[Shape]) -> Shape:  # pragma: no cover - abstract
        raise NotImplementedError

    def parameter_count(self) -> int:
        return 0

    def with_attrs(self, **attrs: Any) -> Layer:
        return replace(self, attrs=MappingProxyType({**self.attrs, **attrs}))


@dataclass(frozen=True, eq=False)
class Input(Layer):
    """Graph input. ``shape`` excludes the batch axis."""

    shape: Shape = ()
    kind: ClassVar[str] = "input"

    def out_shape(self, in_shapes: list[Shape]) -> Shape:
        return self.shape


@dataclass(frozen=True, eq=False)
class Dense(Layer):
    """Synapse ``y = x @ W.T + b`` over the last axis. ``weight`` is (out, in).

    ``recurrent`` means the source is read one step late (state of a recurrent projection).
    """

    weight: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    bias: np.ndarray | None = None
    recurrent: bool = False
    kind: ClassVar[str] = "dense"

    def out_shape(self, in_shapes: list[Shape]) -> Shape:
        (shape,) = in_shapes
        if not shape or shape[-1] != self.weight.shape[1]:
            raise ShapeError(
                f"Dense expects last axis {self.weight.shape[1]}, got input shape {shape}",
                self.name,
            )
        return (*shape[:-1], self.weight.shape[0])

    def parameter_count(self) -> int:
        return int(self.weight.size + (0 if self.bias is None else self.bias.size))


@dataclass(frozen=True, eq=False)
class Conv2d(Layer):
    """Synapse: 2-D cross-correlation on (C, H, W), weight (O, C/groups, kh, kw), ONNX semantics.

    ``padding`` is (top, left, bottom, right), zeros.
    """

    weight: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 1, 1), np.float32))
    bias: np.ndarray | None = None
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int, int, int] = (0, 0, 0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    recurrent: bool = False
    kind: ClassVar[str] = "conv2d"

    def out_shape(self, in_shapes: list[Shape]) -> Shape:
        (shape,) = in_shapes
        out_c, in_c_per_group, kh, kw = self.weight.shape
        if self.groups < 1 or out_c % self.groups:
            raise ShapeError(f"{out_c} output channels do not split into {self.groups} groups",
                             self.name)
        if len(shape) != 3 or shape[0] != in_c_per_group * self.groups:
            raise ShapeError(
                f"Conv expects (C={in_c_per_group * self.groups}, H, W), got {shape}", self.name
            )
        h = _conv_out(shape[1], kh, self.stride[0], self.padding[0] + self.padding[2],
                      self.dilation[0])
        w = _conv_out(shape[2], kw, self.stride[1], self.padding[1] + self.padding[3],
                      self.dilation[1])
        if h <= 0 or w <= 0:
            raise ShapeError(f"Conv output would be empty for input {shape}", self.name)
        return (out_c, h, w)

    def parameter_count(self) -> int:
        return int(self.weight.size + (0 if self.bias is None else self.bias.size))


@dataclass(frozen=True, eq=False)
class Pool2d(Layer):
    """Max, average or sum pooling on (C, H, W). Average divides by the full window area
    (padding counts as zeros), so it is a sum pool scaled by 1/(kh*kw)."""

    pool: PoolKind = "max"
    kernel: tuple[int, int] = (2, 2)
    stride: tuple[int, int] = (2, 2)
    padding: tuple[int, int, int, int] = (0, 0, 0, 0)
    kind: ClassVar[str] = "pool2d"

    def out_shape(self, in_shapes: list[Shape]) -> Shape:
        (shape,) = in_shapes
        if len(shape) != 3:
            raise ShapeError(f"pooling expects (C, H, W), got {shape}", self.name)
        h = _conv_out(shape[1], self.kernel[0], self.stride[0],
                      self.padding[0] + self.padding[2], 1)
        w = _conv_out(shape[2], self.kernel[1], self.stride[1],
                      self.padding[1] + self.padding[3], 1)
        if h <= 0 or w <= 0:
            raise ShapeError(f"pooling output would be empty for input {shape}", self.name)
        return (shape[0], h, w)


@dataclass(frozen=True, eq=False)
class Flatten(Layer):
    """Row-major flatten of the per-sample tensor to one axis (ONNX Flatten with axis=1)."""

    kind: ClassVar[str] = "flatten"

    def out_shape(self, in_shapes: list[Shape]) -> Shape:
        (shape,) = in_shapes
        return (math.prod(shape),)


@dataclass(frozen=True, eq=False)
class Reshape(Layer):
    """Row-major reshape of the per-sample tensor."""

    shape: Shape = ()
    kind: ClassVar[str] = "reshape"

    def out_shape(self, in_shapes: list[Shape]) -> Shape:
        (shape,) = in_shapes
        if math.prod(shape) != math.prod(self.shape):
            raise ShapeError(f"cannot reshape {shape} to {self.shape}", self.name)
        return self.shape


@dataclass(frozen=True, eq=False)
class Add(Layer):
    """Elementwise sum of equally shaped inputs (residual or multi-source currents).

    ``into_neuron``: a LIF reading this layer adds the operands to its decayed membrane one at
    a time, ``(beta*v + a_0) + a_1``, instead of adding their sum (snnTorch's ``RLeaky``
    order). It only fixes float32 rounding: integer profiles sum first (exact either way) and
    every other reader gets the sum.
    """

    into_neuron: bool = False
    kind: ClassVar[str] = "add"

    def out_shape(self, in_shapes: list[Shape]) -> Shape:
        first = in_shapes[0]
        for s in in_shapes[1:]:
            if s != first:
                raise ShapeError(f"Add inputs differ in shape: {in_shapes}", self.name)
        return first


@dataclass(frozen=True, eq=False)
class StepProgram:
    """A neuron step in the exporter's own float32 arithmetic (``v + (x - v)/tau`` where the
    layer's equation says ``beta*v + I``): equal in real arithmetic to the layer's update, and
    what the float reference runs so that it reproduces the exported graph bit for bit.

    ``ops`` are ONNX elementwise operators ``(op_type, arguments, result, attributes)`` in
    order. Arguments name the step's inputs (``I0``, ``I1``, ...: the input currents in the
    order of the layer's inputs; ``v``: the membrane; ``u``: the synaptic current), earlier
    results, or ``const:<name>`` entries of ``constants``. Results ``s``, ``v_next`` and
    ``u_next`` are the spikes and the next state. Integer targets never read it: they run the
    layer's equations on its quantized parameters.
    """

    ops: tuple[tuple[str, tuple[str, ...], str, tuple[tuple[str, Any], ...]], ...]
    constants: Mapping[str, np.ndarray]
    inputs: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class LIF(Layer):
    """Leaky integrate-and-fire neuron; ``IF`` is the special case ``beta = 1``.

    Per step, with input current ``I`` and membrane ``v`` (float32):

    - ``reset_timing = "same"``: ``v = beta*v + I + bias``; ``s = v > theta`` (``>=`` if
      ``compare = "ge"``); then ``v = 0`` where ``s`` (``"zero"``) or ``v -= theta*s``
      (``"subtract"``) or nothing (``"none"``).
    - ``reset_timing = "next"`` (snnTorch): the reset uses the previous membrane:
      ``r = v_prev > theta``; ``h = beta*v_prev + I + bias``; ``v = h - theta*r``
      (``"subtract"``) or ``v = h*(1-r)`` (``"zero"``); ``s = v > theta``.

    ``beta``, ``theta`` and ``bias`` broadcast against the layer's shape (scalar or per neuron).
    Output: the spikes ``s`` as 0/1; with ``graded`` (Sinabs' MultiSpike, same-step subtract
    reset) the spike count ``s = floor(v / theta)`` where ``v > 0`` (else 0) and the reset
    ``v -= theta * s``. Integer targets send the same count up to their profile's
    ``max_spikes`` per step (``snnc.reference.integer.graded_fire``): a larger count saturates
    there and the charge it could not send stays on the membrane for the next steps.
    """

    beta: np.ndarray = field(default_factory=lambda: np.float32(1.0))
    threshold: np.ndarray = field(default_factory=lambda: np.float32(1.0))
    bias: np.ndarray | None = None
    reset: ResetKind = "zero"
    reset_timing: ResetTiming = "same"
    compare: Compare = "gt"
    program: StepProgram | None = None
    graded: bool = False
    kind: ClassVar[str] = "lif"
    is_neuron: ClassVar[bool] = True

    def out_shape(self, in_shapes: list[Shape]) -> Shape:
        (shape,) = in_shapes
        _check_broadcast(self.name, shape, beta=self.beta, threshold=self.threshold,
                         bias=self.bias)
        return shape

    def parameter_count(self) -> int:
        return int(np.size(self.beta) + np.size(self.threshold)
                   + (0 if self.bias is None else np.size(self.bias)))


@dataclass(frozen=True, eq=False)
class CubaLIF(Layer):
    """Current-based LIF (Loihi CUBA): a synaptic current ``u`` feeds the membrane ``v``.

    ``u = (1 - current_decay)*u + I``; ``v = (1 - voltage_decay)*v + u + bias``;
    ``s = v > theta``; reset of ``v`` as in :class:`LIF` (``u`` is never reset).
    """

    current_decay: np.ndarray = field(default_factory=lambda: np.float32(0.0))
    voltage_decay: np.ndarray = field(default_factory=lambda: np.float32(0.0))
    threshold: np.ndarray = field(default_factory=lambda: np.float32(1.0))
    bias: np.ndarray | None = None
    reset: ResetKind = "zero"
    reset_timing: ResetTiming = "same"
    compare: Compare = "gt"
    program: StepProgram | None = None
    kind: ClassVar[str] = "cubalif"
    is_neuron: ClassVar[bool] = True

    def out_shape(self, in_shapes: list[Shape]) -> Shape:
        (shape,) = in_shapes
        _check_broadcast(self.name, shape, current_decay=self.current_decay,
                         voltage_decay=self.voltage_decay, threshold=self.threshold,
                         bias=self.bias)
        return shape

    def parameter_count(self) -> int:
        return int(np.size(self.current_decay) + np.size(self.voltage_decay)
                   + np.size(self.threshold) + (0 if self.bias is None else np.size(self.bias)))


@dataclass(frozen=True, eq=False)
class MultiLevelSpike(Layer):
    """Input-aware multi-level spiking neuron (IMLS): up to ``levels`` spikes in one step.

    ``theta = alpha * mean(|I|)`` over ``axis`` of the per-sample tensor (input-aware), or the
    constant ``theta`` when ``axis`` is None; ``s = clip(floor(I/theta + 1/2), 0, levels)``;
    ``s = 0`` where ``theta <= 0``. Stateless; output: integer levels ``s`` as float.
    """

    levels: int = 4
    alpha: float = 1.0
    axis: int | None = -1
    theta: float | None = None
    kind: ClassVar[str] = "multilevel"
    is_neuron: ClassVar[bool] = True

    def out_shape(self, in_shapes: list[Shape]) -> Shape:
        (shape,) = in_shapes
        if self.axis is not None and not -len(shape) <= self.axis < len(shape):
            raise ShapeError(f"axis {self.axis} out of range for shape {shape}", self.name)
        return shape


@dataclass(frozen=True, eq=False)
class SpikingSelfAttention(Layer):
    """Softmax-free spiking self-attention with a hierarchical decay mask (HD-RepSSA).

    Inputs ``(Q, K, V)`` of shape (L, D), D = heads * d_head. Per head h:
    ``A_h = (Q_h @ K_h.T) * scale * M_h`` with ``M_h[n, m] = gammas[h] ** |n - m|``;
    ``out_h = A_h @ V_h``; heads are concatenated back to (L, D).
    """

    heads: int = 1
    scale: float = 1.0
    gammas: np.ndarray = field(default_factory=lambda: np.ones(1, np.float32))
    kind: ClassVar[str] = "attention"

    def out_shape(self, in_shapes: list[Shape]) -> Shape:
        if len(in_shapes) != 3 or len({*in_shapes}) != 1 or len(in_shapes[0]) != 2:
            raise ShapeError(f"attention needs Q, K, V of one shape (L, D), got {in_shapes}",
                             self.name)
        if in_shapes[0][1] % self.heads:
            raise ShapeError(f"D={in_shapes[0][1]} is not divisible by heads={self.heads}",
                             self.name)
        if np.shape(self.gammas) != (self.heads,):
            raise ShapeError(f"gammas must have one value per head ({self.heads})", self.name)
        return in_shapes[0]

    def decay_mask(self, length: int) -> np.ndarray:
        """(heads, L, L) float32 mask ``gamma_h ** |n - m|``."""
        dist = np.abs(np.arange(length)[:, None] - np.arange(length)[None, :])
        return np.power(self.gammas.astype(np.float64)[:, None, None], dist).astype(np.float32)


NEURON_KINDS = (LIF, CubaLIF, MultiLevelSpike)
ALL_LAYER_TYPES = (Input, Dense, Conv2d, Pool2d, Flatten, Reshape, Add, LIF, CubaLIF,
                   MultiLevelSpike, SpikingSelfAttention)


@dataclass(frozen=True, eq=False)
class Graph:
    """A whole model: layers in topological order, the first an :class:`Input`.

    ``timesteps`` is the default number of steps (model metadata ``snnc.timesteps``);
    ``encoding`` says how a (batch x inputs) array becomes a spike train: ``"direct"``
    (the same current every step) or ``"rate"`` (deterministic rate code, see
    ``snnc.reference.encode``).
    """

    layers: tuple[Layer, ...]
    output: str
    timesteps: int = 8
    encoding: str = "direct"
    name: str = "model"
    # how the model's input and output arrays hold steps and batch when they came from a
    # whole-sequence export (JSON from snnc.frontend.timeline; "" for one-step models)
    layout: str = ""
    _shapes: dict[str, Shape] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        names = [layer.name for layer in self.layers]
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise InvalidModelError("duplicate layer name", dup)
        if not self.layers or not isinstance(self.layers[0], Input):
            raise InvalidModelError("the first layer must be the graph input")
        seen: set[str] = set()
        for layer in self.layers:
            _check_values(layer)
            for src in layer.inputs:
                late = getattr(layer, "recurrent", False)
                if src not in names:
                    raise InvalidModelError(f"reads unknown tensor '{src}'", layer.name)
                if src not in seen and not late:
                    raise InvalidModelError(
                        f"reads '{src}' before it is computed (a cycle without state)",
                        layer.name)
            seen.add(layer.name)
        if self.output not in seen:
            raise InvalidModelError(f"output '{self.output}' is not a layer")
        if self.timesteps < 1:
            raise InvalidModelError(f"timesteps must be >= 1, got {self.timesteps}")
        self._shapes.update(self._infer_shapes())
        for name, shape in self._shapes.items():
            if math.prod(shape) > MAX_VALUES:
                raise ShapeError(f"holds {math.prod(shape)} values per sample (limit "
                                 f"{MAX_VALUES})", name)

    def _infer_shapes(self) -> dict[str, Shape]:
        # Recurrent synapses read layers defined later, so sweep until every shape is known.
        # A recurrent Dense on a loop is first assumed to read a flat vector of its input
        # width; every assumption is checked once the loop's shapes are known.
        shapes: dict[str, Shape] = {}
        assumed: list[Layer] = []
        for _ in range(2 * len(self.layers) + 1):
            progress = False
            for layer in self.layers:
                if layer.name not in shapes and all(s in shapes for s in layer.inputs):
                    shapes[layer.name] = layer.out_shape([shapes[s] for s in layer.inputs])
                    progress = True
            if len(shapes) == len(self.layers):
                break
            if not progress:
                loop = next((lay for lay in self.layers if lay.name not in shapes
                             and isinstance(lay, Dense) and lay.recurrent), None)
                if loop is None:
                    stuck = next(lay.name for lay in self.layers if lay.name not in shapes)
                    raise InvalidModelError("shape depends on itself (a cycle without state)",
                                            stuck)
                shapes[loop.name] = (loop.weight.shape[0],)
                assumed.append(loop)
        for layer in assumed:
            if layer.out_shape([shapes[s] for s in layer.inputs]) != shapes[layer.name]:
                raise ShapeError("recurrent projection must read a flat (1-D) layer", layer.name)
        return shapes

    @property
    def input(self) -> Input:
        first = self.layers[0]
        assert isinstance(first, Input)
        return first

    def shape(self, name: str) -> Shape:
        return self._shapes[name]

    def size(self, name: str) -> int:
        return math.prod(self._shapes[name])

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def consumers(self, name: str) -> list[Layer]:
        return [layer for layer in self.layers if name in layer.inputs]

    def neurons(self) -> list[Layer]:
        return [layer for layer in self.layers if layer.is_neuron]

    def replace_layers(self, layers: list[Layer] | tuple[Layer, ...], **changes: Any) -> Graph:
        """A copy with new layers (shapes are re-inferred and re-checked)."""
        return Graph(tuple(layers), changes.get("output", self.output),
                     changes.get("timesteps", self.timesteps),
                     changes.get("encoding", self.encoding), changes.get("name", self.name),
                     changes.get("layout", self.layout))

    def with_layer(self, new: Layer) -> Graph:
        return self.replace_layers([new if lay.name == new.name else lay for lay in self.layers])

    def parameter_count(self) -> int:
        return sum(layer.parameter_count() for layer in self.layers)


# Largest tensor (values per sample) a layer may produce: the ONNX reader's limit on declared
# sizes, applied to every inferred shape, so no model makes an executor allocate more.
MAX_VALUES = 100_000_000
# Largest parameter magnitude accepted. A tensor holds at most 1e8 elements (the ONNX reader's
# limit), so a synaptic sum of up to 1e8 products of values below 1e15 stays below float32's
# 3.4e38: the float reference never overflows on parameters the view accepts.
MAX_MAGNITUDE = 1e15
# Parameters that are decays (a fraction of the state kept or lost per step) and thresholds.
_UNIT_INTERVAL = ("beta", "current_decay", "voltage_decay", "gammas")
_POSITIVE = ("threshold", "theta", "alpha")


def nonzero_count(a: np.ndarray) -> int:
    """``np.count_nonzero`` (NaN counts, -0.0 does not) through a boolean mask: numpy counts
    booleans several times faster than floats, which matters for million-weight layers."""
    return int(np.count_nonzero(np.asarray(a) != 0))


def _check_values(layer: Layer) -> None:
    """Refuse non-finite or huge parameters, decays outside [0, 1] and thresholds <= 0: the
    reference would compute NaN or overflow, or a neuron would fire on no input at all."""
    for spec in fields(layer):
        value = getattr(layer, spec.name)
        if spec.name == "attrs" or value is None or isinstance(value, bool | int | str | tuple
                                                               | StepProgram):
            continue
        arr = np.asarray(value)
        if arr.dtype.kind != "f":
            arr = np.asarray(value, np.float64)
        if arr.dtype.kind != "f" or arr.size == 0:
            continue
        # One min and one max pass (NaN propagates into both): every graph rebuilt by a pass
        # re-checks its weights, so a million-weight model pays this a dozen times.
        lo, hi = float(arr.min()), float(arr.max())
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise InvalidModelError(f"{spec.name} holds NaN or inf", layer.name)
        if max(-lo, hi) > MAX_MAGNITUDE:
            raise InvalidModelError(f"{spec.name} holds {max(-lo, hi):.3g}, beyond the "
                                    f"supported magnitude {MAX_MAGNITUDE:.0e}", layer.name)
        if spec.name in _UNIT_INTERVAL and (lo < 0 or hi > 1):
            raise InvalidModelError(f"{spec.name} must lie in [0, 1], got values in "
                                    f"[{lo:.4g}, {hi:.4g}]", layer.name)
        if spec.name in _POSITIVE and lo <= 0:
            raise InvalidModelError(f"{spec.name} must be positive, got {lo:.4g}",
                                    layer.name)


def _conv_out(size: int, kernel: int, stride: int, pad_total: int, dilation: int) -> int:
    return (size + pad_total - dilation * (kernel - 1) - 1) // stride + 1


def _check_broadcast(node: str, shape: Shape, **params: np.ndarray | None) -> None:
    for pname, value in params.items():
        if value is None:
            continue
        try:
            np.broadcast_shapes(np.shape(value), shape)
        except ValueError:
            raise ShapeError(
                f"parameter {pname} of shape {np.shape(value)} does not fit layer shape {shape}",
                node) from None
        if np.shape(value) and np.broadcast_shapes(np.shape(value), shape) != shape:
            raise ShapeError(
                f"parameter {pname} of shape {np.shape(value)} would widen layer shape {shape}",
                node)
