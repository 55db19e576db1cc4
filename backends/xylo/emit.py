"""Write ``out/xylo/``: ``spec.npz`` (XyloSim.from_specification's arrays), ``run.py`` and
``resources.json`` (neuron counts, the layer -> hidden id map, where the output is read)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
from jinja2 import Environment, PackageLoader, StrictUndefined

from snnc import __version__
from snnc.backends import Artifact
from snnc.backends.xylo.spec import build_spec
from snnc.ir.names import c_ident
from snnc.ir.quantized import QuantizedGraph
from snnc.target import Target

ENV = Environment(loader=PackageLoader(__package__, "templates"), undefined=StrictUndefined,
                  keep_trailing_newline=True)
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def family(target: Target) -> str:
    """The rockpool device module of ``target`` (``[xylo] family``)."""
    return str(target.raw.get("xylo", {}).get("family", "syns61201"))


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An ``.npz`` with fixed entry order and timestamps: byte-identical for equal arrays."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for key in sorted(arrays):
            buffer = io.BytesIO()
            np.save(buffer, arrays[key], allow_pickle=False)
            archive.writestr(zipfile.ZipInfo(f"{key}.npy", ZIP_EPOCH), buffer.getvalue())


def emit(qg: QuantizedGraph, target: Target, out_dir: Path) -> Artifact:
    """Check the layout, then write the specification, its runner and the figures."""
    spec = build_spec(qg, target)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_npz(out / "spec.npz", spec.arrays)
    (out / "run.py").write_text(ENV.get_template("run.py.j2").render(
        name=c_ident(qg.graph.name, "model"), version=__version__, inputs=spec.figures["inputs"],
        family=family(target), dt=1e-3))
    document = {"target": target.name, "family": family(target), **spec.figures}
    (out / "resources.json").write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    files = tuple(sorted(p.name for p in out.iterdir()))
    return Artifact("xylo", out, files, spec.figures)
