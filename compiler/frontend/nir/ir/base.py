"""What a node converter receives: the layers read so far and a fused synaptic integrator."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from snnc.errors import ShapeError
from snnc.frontend.nir.values import fresh_name
from snnc.ir.layers import MAX_VALUES, Layer, Shape


@dataclass
class SynapticIntegrator:
    """An LI/I node fused into the spiking node after it: the synaptic current of a CubaLIF."""

    node: Any
    name: str


@dataclass
class Builder:
    """Accumulates layers and their shapes while nodes are converted in order."""

    reserved: set[str]
    layers: list[Layer] = field(default_factory=list)
    shapes: dict[str, Shape] = field(default_factory=dict)

    def name(self, base: str) -> str:
        taken = self.reserved | set(self.shapes)
        name = fresh_name(dict.fromkeys(taken), base)
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
