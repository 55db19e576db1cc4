"""The SpiNNaker 2 machine a layout is built for, read from the target's ``[limits]`` table.

A board is a ``mesh_width x mesh_height`` grid of chips joined by four links (no wrap-around);
each chip has ``pes_per_chip`` processing elements, of which the first
``reserved_pes_per_chip`` run system software and never receive application slices. Every
number comes from the target file, so tests can shrink the machine to force multi-PE and
multi-chip layouts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from snnc.errors import InputError

# Link numbering of the router's route word: bit i = send on link i (travel direction).
LINKS: tuple[str, ...] = ("E", "N", "W", "S")
LINK_STEP: tuple[tuple[int, int], ...] = ((1, 0), (0, 1), (-1, 0), (0, -1))

_REQUIRED = ("pes_per_chip", "reserved_pes_per_chip", "sram_per_pe_bytes", "code_reserve_bytes",
             "stack_reserve_bytes", "max_neurons_per_pe", "router_entries", "mesh_width",
             "mesh_height")

Chip = tuple[int, int]


@dataclass(frozen=True)
class Machine:
    """Resource limits of one board; ``data_bytes`` is what a PE has left for model data."""

    target: str
    mesh_width: int
    mesh_height: int
    pes_per_chip: int
    reserved_pes_per_chip: int
    sram_per_pe_bytes: int
    code_reserve_bytes: int
    stack_reserve_bytes: int
    max_neurons_per_pe: int
    router_entries: int

    @property
    def chips(self) -> int:
        return self.mesh_width * self.mesh_height

    @property
    def app_pes_per_chip(self) -> int:
        return self.pes_per_chip - self.reserved_pes_per_chip

    @property
    def app_pes(self) -> int:
        return self.chips * self.app_pes_per_chip

    @property
    def reserve_bytes(self) -> int:
        """SRAM every PE spends before any model data: application code plus stack."""
        return self.code_reserve_bytes + self.stack_reserve_bytes

    @property
    def data_bytes(self) -> int:
        return self.sram_per_pe_bytes - self.reserve_bytes

    def on_mesh(self, chip: Chip) -> bool:
        return 0 <= chip[0] < self.mesh_width and 0 <= chip[1] < self.mesh_height

    def chip_id(self, chip: Chip) -> int:
        return chip[1] * self.mesh_width + chip[0]

    def pe_id(self, chip: Chip, core: int) -> int:
        """Board-wide PE number, the ``XXX`` of ``pe_XXX.bin``."""
        return self.chip_id(chip) * self.pes_per_chip + core


def machine_from_limits(target: str, limits: Mapping[str, Any]) -> Machine:
    """Validate the ``[limits]`` table; a missing or non-positive entry is a one-line error."""
    missing = [key for key in _REQUIRED if key not in limits]
    if missing:
        raise InputError(f"target '{target}': [limits] lacks {', '.join(missing)}")
    values: dict[str, int] = {}
    for key in _REQUIRED:
        value = limits[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InputError(f"target '{target}': [limits] {key} must be a non-negative "
                             f"integer, got {value!r}")
        values[key] = value
    machine = Machine(target=target, **values)
    if machine.app_pes_per_chip < 1 or machine.chips < 1:
        raise InputError(f"target '{target}': the machine has no PE for application code")
    if machine.data_bytes <= 0:
        raise InputError(f"target '{target}': code and stack reserve exceed the PE's SRAM")
    if machine.mesh_width > 256 or machine.mesh_height > 256 or machine.pes_per_chip > 0xFFFF:
        raise InputError(f"target '{target}': PE images address at most a 256 x 256 mesh of "
                         "chips with 65535 PEs each")
    if machine.max_neurons_per_pe < 1 or machine.max_neurons_per_pe > 0xFFFF:
        raise InputError(f"target '{target}': max_neurons_per_pe must lie in 1..65535 "
                         "(the synapse word holds a 16-bit neuron index)")
    return machine
