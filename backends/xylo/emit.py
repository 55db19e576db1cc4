"""Write ``out/xylo/``: ``spec.npz`` (XyloSim.from_specification's arrays), ``run.py`` and
``resources.json`` (neuron counts, the layer -> hidden id map, where the output is read)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
from jinja2 import Environment, PackageLoader, StrictUndefined

from snnc.backends import RESOURCES_FILE, Artifact, resources_json
from snnc.backends.xylo.spec import build_spec, family, resources_document
from snnc.ir.names import c_ident
from snnc.ir.quantized import QuantizedGraph
from snnc.target import Target
from snnc.version import __version__

ENV = Environment(loader=PackageLoader(__package__, "templates"), undefined=StrictUndefined,
                  keep_trailing_newline=True)
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


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
    document = resources_document(spec, target)
    (out / RESOURCES_FILE).write_bytes(resources_json(document))
    files = tuple(sorted(p.name for p in out.iterdir()))
    return Artifact("xylo", out, files, document)
