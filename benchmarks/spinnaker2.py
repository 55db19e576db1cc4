"""SpiNNaker 2 layout figures for networks of 10^3 to 10^6 synapses.

For each generated network: PEs and chips used, router entries before and after compression,
total link hops of all multicast trees, and the compile time (quantize + partition, place, route,
images, files written). Writes ``benchmarks/results/spinnaker2.json`` and prints a table.

    .venv/bin/python benchmarks/spinnaker2.py [--max-synapses 1000000] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from snnc.backends.spinnaker2.emit import summary, write_layout
from snnc.backends.spinnaker2.layout import build_layout
from snnc.ir.layers import LIF, Conv2d, Dense, Flatten, Graph, Input, Layer
from snnc.passes.quantize import quantize
from snnc.target import load_target

F32 = np.float32


def _lif(name: str, src: str) -> LIF:
    return LIF(name, (src,), beta=F32(0.9), threshold=F32(1.0), reset="subtract")


def dense_net(synapses: int, rng: np.random.Generator) -> Graph:
    """in -> hidden -> 10, fully connected, in = hidden."""
    n = max(4, int(math.sqrt(synapses)))
    layers = (Input("x", (), shape=(n,)),
              Dense("fc1", ("x",), weight=rng.normal(0, 1, (n, n)).astype(F32)),
              _lif("h", "fc1"),
              Dense("fc2", ("h",), weight=rng.normal(0, 1, (10, n)).astype(F32)),
              _lif("out", "fc2"))
    return Graph(layers, output="out", timesteps=8, encoding="rate", name="dense")


def sparse_net(synapses: int, rng: np.random.Generator) -> Graph:
    """in -> hidden -> 10 with 10 % connectivity: four times the neurons of ``dense_net``."""
    n = max(4, int(math.sqrt(synapses / 0.1)))
    w = rng.normal(0, 1, (n, n)).astype(F32)
    w[rng.random(w.shape) >= 0.1] = 0
    layers = (Input("x", (), shape=(n,)), Dense("fc1", ("x",), weight=w), _lif("h", "fc1"),
              Dense("fc2", ("h",), weight=rng.normal(0, 1, (10, n)).astype(F32)),
              _lif("out", "fc2"))
    return Graph(layers, output="out", timesteps=8, encoding="rate", name="sparse")


def conv_net(synapses: int, rng: np.random.Generator) -> Graph:
    """Two 3x3 convolutions (4 channels, same padding), a strided 3x3 convolution and a 10-way
    readout: many neurons with small fan-in, so layers spread over many PEs and chips."""
    c = 4
    per_pixel = 9 * c + 9 * c * c + (9 * c * c + 10 * c) / 16
    side = max(8, int(math.sqrt(synapses / per_pixel)) // 4 * 4)
    pad = (1, 1, 1, 1)

    def conv(name: str, src: str, c_in: int, stride: int = 1) -> Conv2d:
        return Conv2d(name, (src,), weight=rng.normal(0, 1, (c, c_in, 3, 3)).astype(F32),
                      padding=pad, stride=(stride, stride))

    small = (side - 1) // 4 + 1
    layers: list[Layer] = [
        Input("x", (), shape=(1, side, side)),
        conv("c1", "x", 1), _lif("s1", "c1"), conv("c2", "s1", c), _lif("s2", "c2"),
        conv("c3", "s2", c, stride=4), _lif("s3", "c3"), Flatten("flat", ("s3",)),
        Dense("fc", ("flat",), weight=rng.normal(0, 1, (10, c * small * small)).astype(F32)),
        _lif("out", "fc")]
    return Graph(tuple(layers), output="out", timesteps=8, encoding="rate", name="conv")


FAMILIES = {"dense": dense_net, "sparse": sparse_net, "conv": conv_net}


def measure(graph: Graph) -> dict[str, Any]:
    target = load_target("spinnaker2")
    start = time.perf_counter()
    qg = quantize(graph, target.numeric, target=target.name)
    layout = build_layout(qg, target)
    with tempfile.TemporaryDirectory() as work:
        write_layout(layout, Path(work))
    seconds = time.perf_counter() - start
    return {**summary(layout), "compile_seconds": round(seconds, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-synapses", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parent / "results" / "spinnaker2.json")
    args = parser.parse_args()
    sizes = [10 ** k for k in range(3, 7) if 10 ** k <= args.max_synapses]
    rows = []
    for family, build in FAMILIES.items():
        for size in sizes:
            row = {"family": family, "target_synapses": size,
                   **measure(build(size, np.random.default_rng(size)))}
            rows.append(row)
            print(f"{family:7s} {row['synapses']:>9d} syn  {row['pes']:4d} PEs "
                  f"{row['chips']:3d} chips  entries {row['routing_entries_uncompressed']:5d}"
                  f" -> {row['routing_entries']:4d}  hops {row['total_hops']:6d}  "
                  f"{row['compile_seconds']:7.3f} s", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"benchmark": "spinnaker2", "rows": rows}, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
