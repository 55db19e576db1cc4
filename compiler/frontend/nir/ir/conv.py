"""``Conv1d`` and ``Conv2d`` nodes <-> Conv2d layers (a Conv1d is a Conv2d of kernel height 1
between two reshapes)."""

from __future__ import annotations

from typing import Any

import numpy as np

from snnc.errors import InvalidModelError, ShapeError, UnsupportedError
from snnc.frontend.nir.ir.base import Builder, SynapticIntegrator
from snnc.frontend.nir.ir.linear import bias_of
from snnc.frontend.nir.semantics import NirSemantics
from snnc.frontend.nir.values import F32, integers, numeric, symmetric
from snnc.ir.layers import Conv2d, Graph, Reshape


def conv_padding(name: str, node: Any, spatial: tuple[int, ...], kernel: tuple[int, ...],
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
    sym = integers(name, "padding", pad, n)
    return sym + sym


def read_conv2d(out: Builder, name: str, node: Any, src: str, sem: NirSemantics,
            syn: SynapticIntegrator | None) -> str:
    w = numeric(name, "weight", node.weight).astype(F32)
    if w.ndim != 4:
        raise ShapeError(f"Conv2d weight must be (O, C/groups, kh, kw), got {w.shape}", name)
    shape = out.shapes[src]
    if len(shape) != 3:
        raise ShapeError(f"Conv2d expects a (C, H, W) input, got {shape}", name)
    stride = integers(name, "stride", node.stride, 2, low=1)
    dilation = integers(name, "dilation", node.dilation, 2, low=1)
    top, left, bottom, right = conv_padding(name, node, shape[1:], w.shape[2:], dilation,
                                             stride)
    return out.add(Conv2d(name, (src,), weight=w, bias=bias_of(name, node), stride=stride,
                          padding=(top, left, bottom, right), dilation=dilation,
                          groups=integers(name, "groups", node.groups, 1, low=1)[0]))


def read_conv1d(out: Builder, name: str, node: Any, src: str, sem: NirSemantics,
            syn: SynapticIntegrator | None) -> str:
    """Conv1d on (C, L) runs as a Conv2d on (C, 1, L) between two reshapes."""
    w = numeric(name, "weight", node.weight).astype(F32)
    shape = out.shapes[src]
    if w.ndim != 3 or len(shape) != 2:
        raise ShapeError(f"Conv1d needs weight (O, C/groups, k) and input (C, L), got "
                         f"{w.shape} and {shape}", name)
    (stride,) = integers(name, "stride", node.stride, 1, low=1)
    (dilation,) = integers(name, "dilation", node.dilation, 1, low=1)
    before, after = conv_padding(name, node, shape[1:], w.shape[2:], (dilation,), (stride,))
    wide = out.add(Reshape(out.name(f"{name}.to2d"), (src,), shape=(shape[0], 1, shape[1])))
    conv = out.add(Conv2d(out.name(f"{name}.conv2d"), (wide,), weight=w[:, :, None, :],
                          bias=bias_of(name, node), stride=(1, stride),
                          padding=(0, before, 0, after), dilation=(1, dilation),
                          groups=integers(name, "groups", node.groups, 1, low=1)[0]))
    c, _, length = out.shapes[conv]
    return out.add(Reshape(name, (conv,), shape=(c, length)))


def conv1d_chains(graph: Graph) -> dict[str, str]:
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


def write_conv2d(graph: Graph, lay: Conv2d) -> Any:
    import nir

    bias = lay.bias if lay.bias is not None else np.zeros(lay.weight.shape[0], F32)
    return nir.Conv2d(input_shape=tuple(graph.shape(lay.inputs[0])[1:]),
                      weight=lay.weight.astype(F32), stride=np.array(lay.stride),
                      padding=symmetric(lay, lay.padding), dilation=np.array(lay.dilation),
                      groups=int(lay.groups), bias=np.asarray(bias, F32))


def write_conv1d(graph: Graph, lay: Reshape) -> Any:
    import nir

    conv = graph.layer(lay.inputs[0])
    assert isinstance(conv, Conv2d)
    wide = graph.layer(conv.inputs[0])
    bias = conv.bias if conv.bias is not None else np.zeros(conv.weight.shape[0], F32)
    return nir.Conv1d(input_shape=int(graph.shape(wide.inputs[0])[1]),
                      weight=conv.weight[:, :, 0, :].astype(F32), stride=int(conv.stride[1]),
                      padding=int(conv.padding[1]), dilation=int(conv.dilation[1]),
                      groups=int(conv.groups), bias=np.asarray(bias, F32))
