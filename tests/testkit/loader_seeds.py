"""Valid model files the loader fuzzers start from, and the one rule they check.

Seeds: ONNX models of several layer families written by :func:`graph_to_onnx` (snnc ops), the
NIR fixtures of ``tests/fuzz``'s sibling ``tests/fixtures/nir`` and NIR files written by
:func:`save_nir`. :func:`load_bytes` writes mutated bytes to a file of the right suffix and loads
it; the rule: loading either returns a layer view or raises :class:`snnc.errors.SnncError`.
Anything else escaping is a bug.
"""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path

import numpy as np

from snnc.errors import SnncError
from snnc.frontend import load
from snnc.frontend.nir import save_nir
from snnc.ir.layers import (
    LIF,
    Add,
    Conv2d,
    CubaLIF,
    Dense,
    Flatten,
    Graph,
    Input,
    MultiLevelSpike,
    Pool2d,
)
from snnc.onnx_builder import graph_to_onnx

F32 = np.float32
NIR_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "nir"


def _graphs() -> list[Graph]:
    rng = np.random.default_rng(0)

    def w(*shape: int) -> np.ndarray:
        return rng.normal(0, 0.5, shape).astype(F32)

    mlp = Graph((Input("x", (), shape=(5,)), Dense("fc", ("x",), weight=w(4, 5), bias=w(4)),
                 LIF("lif", ("fc",), beta=F32(0.9), reset="subtract"),
                 Dense("rec", ("lif",), weight=w(4, 4), recurrent=True),
                 Dense("fc2", ("lif",), weight=w(4, 4)), Add("sum", ("fc2", "rec")),
                 CubaLIF("cuba", ("sum",), current_decay=F32(0.2), voltage_decay=F32(0.1))),
                output="cuba", timesteps=5, encoding="rate", name="mlp")
    conv = Graph((Input("img", (), shape=(1, 6, 6)),
                  Conv2d("conv", ("img",), weight=w(2, 1, 3, 3), padding=(1, 1, 1, 1)),
                  LIF("lc", ("conv",), beta=F32(0.8)),
                  Pool2d("pool", ("lc",), pool="avg"), Flatten("flat", ("pool",)),
                  Dense("fc", ("flat",), weight=w(3, 18)), LIF("out", ("fc",), beta=F32(0.5))),
                 output="out", timesteps=4, name="conv")
    levels = Graph((Input("x", (), shape=(2, 4)), Dense("fc", ("x",), weight=w(3, 4)),
                    MultiLevelSpike("ml", ("fc",), levels=3, axis=-1, alpha=0.5)),
                   output="ml", timesteps=3, name="levels")
    return [mlp, conv, levels]


@cache
def onnx_seeds() -> tuple[bytes, ...]:
    return tuple(graph_to_onnx(g).SerializeToString() for g in _graphs())


@cache
def nir_seeds() -> tuple[bytes, ...]:
    found = [p.read_bytes() for p in sorted(NIR_FIXTURES.glob("*.nir"))
             if p.stat().st_size < 200_000]
    with tempfile.TemporaryDirectory() as tmp:
        for graph in _graphs()[:2]:
            path = Path(tmp) / f"{graph.name}.nir"
            save_nir(graph, path)
            found.append(path.read_bytes())
    return tuple(found)


def load_bytes(data: bytes, suffix: str, folder: Path) -> Graph | None:
    """Load ``data`` as a ``suffix`` model file; None when snnc refused it (SnncError)."""
    path = folder / f"fuzzed{suffix}"
    path.write_bytes(data)
    try:
        return load(path)
    except SnncError:
        return None
    finally:
        path.unlink(missing_ok=True)
