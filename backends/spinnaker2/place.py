"""Place slices on PEs so that slices which talk to each other sit on the same or nearby chips.

Populations come in graph (topological) order, so a layer's slices usually talk to the slices
placed just before and after them. Chips are filled along a serpentine path over the mesh (left
to right on even rows, right to left on odd rows): consecutive chips on the path are always
neighbours, so a layer that spills over to the next chip is one hop from its sources. The figure
of merit, total link hops of all multicast trees, is computed by routing and reported in
``layout.json``.
"""

from __future__ import annotations

from dataclasses import dataclass

from snnc.backends.spinnaker2.machine import Chip, Machine
from snnc.backends.spinnaker2.partition import Partition, Slice
from snnc.errors import ResourceError


@dataclass(frozen=True)
class Site:
    """Where a slice runs: chip coordinates, core number on the chip, board-wide PE id."""

    chip: Chip
    core: int
    pe_id: int


def serpentine(machine: Machine) -> list[Chip]:
    """Chips in filling order; consecutive chips are mesh neighbours."""
    order: list[Chip] = []
    for y in range(machine.mesh_height):
        xs = range(machine.mesh_width)
        order.extend((x, y) for x in (xs if y % 2 == 0 else reversed(xs)))
    return order


def place(parts: Partition, machine: Machine) -> dict[Slice, Site]:
    """Assign every slice a PE, in population then slice order; ResourceError when full."""
    slices = [s for pop in sorted(parts) for s in parts[pop]]
    if len(slices) > machine.app_pes:
        raise ResourceError(machine.target, "PEs", len(slices), machine.app_pes,
                            f"{machine.chips} chips x {machine.app_pes_per_chip} application PEs")
    chips = serpentine(machine)
    sites: dict[Slice, Site] = {}
    for i, sl in enumerate(slices):
        chip = chips[i // machine.app_pes_per_chip]
        core = machine.reserved_pes_per_chip + i % machine.app_pes_per_chip
        sites[sl] = Site(chip, core, machine.pe_id(chip, core))
    return sites
