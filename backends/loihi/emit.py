"""Write ``out/loihi/``: the Lava network, its weights, a runner, resources and netx HDF5.

Files (all byte-identical for identical input: sorted keys, no timestamps):

- ``network.py``  builds the Lava processes from ``weights.npz`` (template ``network.py.j2``);
- ``run.py``      runs them with ``Loihi2SimCfg(select_tag="fixed_pt")`` and writes the trace;
- ``weights.npz`` every integer: synapse matrices (COO, weights doubled, see ``lower``), biases,
  per-neuron parameters;
- ``network.json`` layer <-> process names, shapes, input quantisation, output kind, latency;
- ``resources.json`` cores, neurons and synapses per core against the Loihi 2 limits;
- ``network.net`` lava-dl netx HDF5, when the network is a netx chain (else the reason is in
  ``network.json``);
- ``lava_compat.py``, ``snnc_processes.py`` copies of this package's ``compat.py`` and
  ``processes.py``, so the folder runs with Lava alone.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from jinja2 import Environment, PackageLoader, StrictUndefined

from snnc.backends import RESOURCES_FILE, Artifact, chosen_widths, resources_json
from snnc.ir.names import c_ident
from snnc.ir.quantized import QuantizedGraph
from snnc.reference.integer import latency, layer_latencies
from snnc.target import Target
from snnc.version import __version__

from .check import allocate
from .lower import LoihiNet, Population, lower
from .netx import netx_blocks, write_netx

ENV = Environment(loader=PackageLoader(__package__, "templates"), undefined=StrictUndefined,
                  trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)

COPIED_SOURCES = {"lava_compat.py": "compat.py", "snnc_processes.py": "processes.py"}
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
# zlib level 3 deflates a million synapses in a fifth of the default level's time for about 10 %
# more bytes (sorted row indices and small weights compress well at any level).
NPZ_COMPRESSLEVEL = 3
WEIGHTS_FILE = "weights.npz"

_ARRAY_PARAMS = {
    "lif": ("bias_mant", "bias_exp"),
    "lif_variant": ("du", "dv", "vth", "bias_mant", "bias_exp", "current_bias"),
    "multilevel": ("bias",),
    "qnn": ("bias",),
    "attention": ("mask", "post_bias"),
    "max_pool": ("post_bias",),
    "readout": ("bias",),
}


def weight_arrays(net: LoihiNet) -> dict[str, Callable[[], np.ndarray]]:
    """Every array ``network.py`` reads, by key, each made in its file type when called (the
    synapses' int32 copies then exist one at a time, not all together). Synapse values are
    Lava's doubled weights."""
    arrays: dict[str, Callable[[], np.ndarray]] = {}

    def as_type(value: Any, dtype: type, factor: int = 1) -> Callable[[], np.ndarray]:
        if factor == 1:
            return lambda: np.asarray(value).astype(dtype, copy=False)
        return lambda: np.multiply(value, factor, dtype=dtype)

    for pop in net.populations:
        for key in _ARRAY_PARAMS.get(pop.kind, ()):
            arrays[f"{pop.name}/{key}"] = as_type(pop.params[key], np.int32)
        if pop.kind in ("attention", "max_pool"):
            arrays[f"{pop.name}/post/rows"] = as_type(pop.params["post_rows"], np.int32)
            arrays[f"{pop.name}/post/cols"] = as_type(pop.params["post_cols"], np.int32)
            arrays[f"{pop.name}/post/values"] = as_type(pop.params["post_values"], np.int64)
    for syn in net.synapses:
        arrays[f"{syn.name}/rows"] = as_type(syn.rows, np.int32)
        arrays[f"{syn.name}/cols"] = as_type(syn.cols, np.int32)
        arrays[f"{syn.name}/values"] = as_type(syn.values, np.int32, 2)
    return arrays


def write_npz(file: BinaryIO, arrays: Mapping[str, Callable[[], np.ndarray]]) -> None:
    """An ``.npz`` archive with fixed member dates into the seekable ``file``, so equal arrays
    give equal bytes; each array is made only while its member is written, and the archive is
    never held in memory as a whole."""
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arrays[key]()),
                                      allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with member.getbuffer() as data:  # no copy of the member's bytes
                archive.writestr(info, data, compresslevel=NPZ_COMPRESSLEVEL)


def _recorded(net: LoihiNet) -> list[Population]:
    return [p for p in net.populations if p.kind in ("lif", "lif_variant", "multilevel", "qnn")]


def network_meta(net: LoihiNet, qg: QuantizedGraph, netx_reason: str | None) -> dict[str, Any]:
    """``network.json``: what run.py and readers need besides the arrays."""
    source = next(p for p in net.populations if p.kind == "input")
    out = net.population(net.output)
    lags = layer_latencies(qg.graph, qg.profile)
    total = latency(qg.graph, qg.profile)
    return {
        "generator": f"snnc {__version__}",
        "model": net.model,
        "target": qg.target,
        "timesteps": net.timesteps,
        "encoding": net.encoding,
        "latency": latency(qg.graph, qg.profile),
        "input": {"layer": source.layer, "population": source.name,
                  "shape": list(source.shape), "graded": bool(source.message_bits),
                  "scale": net.input_scale, "max": net.input_max},
        "layers": [{"layer": p.layer, "population": p.name, "kind": p.kind,
                    "shape": list(p.shape), "voltage": p.kind in ("lif", "lif_variant"),
                    "latency": lags.get(p.layer, total), "offset": p.offset,
                    "level": int(p.params.get("send_level", 0))}
                   for p in _recorded(net)],
        "output": {"layer": net.output_layer, "population": out.name,
                   "kind": "readout" if out.kind == "readout" else "spikes",
                   "shape": list(out.shape), "latency": total, "offset": out.offset,
                   **({"bias_on": int(out.params.get("bias_on", 0))}
                      if out.kind == "readout" else {})},
        "run_steps": net.run_steps,
        "netx": {"written": netx_reason is None, "reason": netx_reason or ""},
    }


def _package_source(name: str) -> bytes:
    return resources.files(__package__).joinpath(name).read_bytes()


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()


def render(net: LoihiNet, qg: QuantizedGraph) -> dict[str, str]:
    """The two generated Python files."""
    source = next(p for p in net.populations if p.kind == "input")
    context = {
        "version": __version__,
        "model_literal": repr(c_ident(net.model, "model")),
        "target_literal": repr(c_ident(qg.target, "target")),
        "input": source,
        "input_size": source.size,
        "input_shape_text": ", ".join(map(str, source.shape)),
        "latency": latency(qg.graph, qg.profile),
        "populations": [p for p in net.populations if p.kind != "input"],
        "synapses": list(net.synapses),
        "links": list(net.links),
        "recorded": _recorded(net),
    }
    return {name: ENV.get_template(f"{name}.j2").render(**context)
            for name in ("network.py", "run.py")}


def emit(qg: QuantizedGraph, target: Target, out_dir: Path) -> Artifact:
    """Write the Loihi artifact into ``out_dir`` (see the module docstring)."""
    net = lower(qg, target.name)
    figures = {**allocate(net, target), **chosen_widths(qg, target)}
    blocks = netx_blocks(qg, net)
    netx_reason = blocks if isinstance(blocks, str) else None
    files: dict[str, bytes] = {
        "network.json": _json_bytes(network_meta(net, qg, netx_reason)),
        RESOURCES_FILE: resources_json(figures),
    }
    files.update({name: text.encode() for name, text in render(net, qg).items()})
    files.update({copy: _package_source(orig) for copy, orig in COPIED_SOURCES.items()})
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / WEIGHTS_FILE, "wb") as weights:  # straight to the file: no copy
        write_npz(weights, weight_arrays(net))
    for name, data in files.items():
        (out_dir / name).write_bytes(data)
    files[WEIGHTS_FILE] = b""
    if not isinstance(blocks, str):
        write_netx(out_dir / "network.net", blocks, net.timesteps + latency(qg.graph, qg.profile))
        files["network.net"] = b""
    return Artifact("loihi", out_dir, tuple(sorted(files)), figures)
