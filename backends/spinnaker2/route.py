"""Routing keys, multicast trees on the chip mesh, router tables and their compression.

**Keys.** Every slice that has targets owns one key space: ``key = slice_number << index_bits``
with the same ``index_bits`` for all slices (enough for the largest slice), so a neuron's packet
key is ``key | neuron_index`` and the mask ``~(2^index_bits - 1)`` selects the slice. A shared
index width makes every router entry cover whole slices, which keeps compression exact and simple.

**Trees.** A packet leaves its PE's chip and follows dimension-ordered (X then Y) paths to every
chip that hosts one of its targets; the union of these paths from one source is a tree. A chip
where the packet only passes straight through needs no entry: the router's default route sends an
unmatched packet out of the link opposite to the one it came in on.

**Compression** (order-exploiting, after Mundy, Heathcote & Garside 2016): entries are kept sorted
from most to least specific and the first match wins. Entries with the same route are merged into
one entry whose mask keeps only the bits they agree on; a merge is accepted when every allocated
key it covers still gets its original route, either from the merged entry or from a more specific
entry placed before it. Keys a table did not route (default route or never arriving) must stay
unmatched, so the compressed table routes *every* allocated key exactly as the original.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from snnc.backends.spinnaker2.machine import LINK_STEP, Chip
from snnc.errors import VerifyError

FULL = 0xFFFFFFFF


@dataclass(frozen=True, order=True)
class Route:
    """A router's route word: ``links`` bit i sends on link ``LINKS[i]``; ``cores`` receive a
    copy on this chip."""

    links: int
    cores: tuple[int, ...]


@dataclass(frozen=True, order=True)
class Entry:
    """Matches key ``k`` when ``k & mask == key``."""

    key: int
    mask: int
    route: Route

    @property
    def dont_care(self) -> int:
        return bin(~self.mask & FULL).count("1")


@dataclass(frozen=True)
class KeySpace:
    key: int
    mask: int
    n: int

    def keys(self) -> np.ndarray:
        return self.key + np.arange(self.n, dtype=np.int64)


def index_bits(sizes: Iterable[int]) -> int:
    """Bits of the neuron index inside a key: enough for the largest keyed slice."""
    return max((max(0, n - 1).bit_length() for n in sizes), default=0)


def key_spaces(sizes: Sequence[int], bits: int) -> list[KeySpace]:
    """One key space per slice, numbered in the given order."""
    mask = (FULL << bits) & FULL
    return [KeySpace(i << bits, mask, n) for i, n in enumerate(sizes)]


@dataclass(frozen=True)
class TreeNode:
    """A chip on a multicast tree: the direction the packet travelled to reach it (None at the
    source chip) and the route it takes there."""

    arrival: int | None
    route: Route

    @property
    def needs_entry(self) -> bool:
        """False when the default route (straight on, no local copy) already does the job."""
        return not (self.arrival is not None and not self.route.cores
                    and self.route.links == 1 << self.arrival)


def _direction(a: Chip, b: Chip) -> int:
    return LINK_STEP.index((b[0] - a[0], b[1] - a[1]))


def multicast_tree(source: Chip, targets: Mapping[Chip, Iterable[int]]
                   ) -> dict[Chip, TreeNode]:
    """X-then-Y paths from ``source`` to every target chip, merged into one tree."""
    links: dict[Chip, int] = {source: 0}
    arrival: dict[Chip, int | None] = {source: None}
    cores: dict[Chip, set[int]] = {source: set()}
    for dest in sorted(targets):
        cur = source
        while cur != dest:
            if cur[0] != dest[0]:
                nxt = (cur[0] + (1 if dest[0] > cur[0] else -1), cur[1])
            else:
                nxt = (cur[0], cur[1] + (1 if dest[1] > cur[1] else -1))
            d = _direction(cur, nxt)
            links[cur] |= 1 << d
            links.setdefault(nxt, 0)
            arrival.setdefault(nxt, d)
            cores.setdefault(nxt, set())
            cur = nxt
        cores[dest].update(targets[dest])
    return {chip: TreeNode(arrival[chip], Route(links[chip], tuple(sorted(cores[chip]))))
            for chip in sorted(links)}


def tree_hops(tree: dict[Chip, TreeNode]) -> int:
    """Chip-to-chip link traversals of one multicast tree."""
    return sum(bin(node.route.links).count("1") for node in tree.values())


def _order(entry: Entry) -> tuple[int, int, int]:
    return (entry.dont_care, entry.key, entry.mask)


def first_match(entries: Sequence[Entry], keys: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Index of the first entry matching each key, -1 where none does (the default route)."""
    keys = np.asarray(keys, np.int64).astype(np.uint32)  # keys and masks are 32-bit words
    out = np.full(keys.size, -1, np.int64)
    if not entries:
        return out
    ek = np.array([e.key for e in entries], np.uint32)
    em = np.array([e.mask for e in entries], np.uint32)
    for start in range(0, keys.size, chunk):
        part = keys[start:start + chunk]
        hit = (part[:, None] & em[None, :]) == ek[None, :]
        first = hit.argmax(axis=1)  # the first True, or 0 when no entry matches
        matched = hit[np.arange(part.size), first]
        out[start:start + chunk] = np.where(matched, first, -1)
    return out


def routes_of(entries: Sequence[Entry], keys: np.ndarray) -> list[Route | None]:
    """The route each key takes (None = no entry matches)."""
    idx = first_match(entries, keys)
    return [entries[i].route if i >= 0 else None for i in idx]


def _route_ids(entries: Sequence[Entry], keys: np.ndarray,
               ids: dict[Route, int]) -> np.ndarray:
    idx = first_match(entries, keys)
    table = np.array([ids[e.route] for e in entries] + [-1], np.int64)
    return table[idx]


def _merge(entries: Sequence[Entry]) -> Entry:
    mask = FULL
    for e in entries:
        mask &= e.mask & ~(e.key ^ entries[0].key)
    return Entry(entries[0].key & mask, mask, entries[0].route)


def _split_bit(entries: Sequence[Entry]) -> int:
    """Highest key bit (inside every mask) on which the entries disagree."""
    common = FULL
    for e in entries:
        common &= e.mask
    diff = 0
    for e in entries:
        diff |= (e.key ^ entries[0].key) & common
    return diff.bit_length() - 1


class _Compressor:
    def __init__(self, entries: Sequence[Entry], points: np.ndarray) -> None:
        self.table = sorted(entries, key=_order)
        routes = sorted({e.route for e in entries})
        self.ids = {r: i for i, r in enumerate(routes)}
        self.points = np.asarray(points, np.int64)
        self.want = _route_ids(self.table, self.points, self.ids)

    def valid(self, merged: Entry, members: Sequence[Entry]) -> list[Entry] | None:
        """The table with ``members`` replaced by ``merged`` if no covered key changes route."""
        gone = {id(e) for e in members}  # members are this table's own entries
        table = [e for e in self.table if id(e) not in gone]
        bisect.insort(table, merged, key=_order)
        covered = (self.points & merged.mask) == merged.key
        pts = self.points[covered]
        if np.array_equal(_route_ids(table, pts, self.ids), self.want[covered]):
            return table
        return None

    def try_merge(self, members: list[Entry]) -> bool:
        if len(members) < 2:
            return False
        table = self.valid(_merge(members), members)
        if table is not None:
            self.table = table
            return True
        bit = _split_bit(members)
        if bit < 0:
            return False
        low = [e for e in members if not (e.key >> bit) & 1]
        high = [e for e in members if (e.key >> bit) & 1]
        return self.try_merge(low) | self.try_merge(high)

    def run(self) -> list[Entry]:
        """Passes over the routes, largest group first, until a pass merges nothing."""
        changed = True
        while changed:
            changed = False
            groups: dict[Route, int] = {}
            for e in self.table:
                groups[e.route] = groups.get(e.route, 0) + 1
            for route in sorted(groups, key=lambda r: (-groups[r], r)):
                members = sorted((e for e in self.table if e.route == route),
                                 key=lambda e: (e.key, e.mask))
                changed |= self.try_merge(members)
        return self.table


def compress(entries: Sequence[Entry], points: np.ndarray) -> list[Entry]:
    """A table no longer than ``entries`` that routes every key in ``points`` (one key per
    allocated slice; every mask covers whole slices) exactly as ``entries`` does."""
    if len(entries) < 2:
        return sorted(entries, key=_order)
    return _Compressor(entries, points).run()


def verify_equivalent(original: Sequence[Entry], compressed: Sequence[Entry],
                      keys: np.ndarray, where: str) -> None:
    """Every allocated key takes the same route through both tables, or VerifyError."""
    routes = sorted({e.route for e in original} | {e.route for e in compressed})
    ids = {r: i for i, r in enumerate(routes)}
    before = _route_ids(list(original), keys, ids)
    after = _route_ids(list(compressed), keys, ids)
    bad = np.flatnonzero(before != after)
    if bad.size:
        key = int(np.asarray(keys)[bad[0]])
        raise VerifyError(f"routing-table compression on chip {where} changed the route of "
                          f"key 0x{key:08x}")
