"""Write ``out/akida/``: ``model.fbz`` (the ``akida.Model``), ``run.py`` and ``resources.json``.

``model.fbz`` is akida's own serialisation (``Model.save``), loadable with
``akida.Model("model.fbz")``; ``resources.json`` holds the AKD1000 mapping figures and the
layer correspondence (snnc Dense/neuron layer -> Akida FullyConnected layer).
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined

from snnc.backends import RESOURCES_FILE, Artifact, resources_json
from snnc.backends.akida.check import map_model
from snnc.backends.akida.plan import build_plan
from snnc.ir.names import c_ident
from snnc.ir.quantized import QuantizedGraph
from snnc.target import Target
from snnc.version import __version__

ENV = Environment(loader=PackageLoader(__package__, "templates"), undefined=StrictUndefined,
                  keep_trailing_newline=True)


def emit(qg: QuantizedGraph, target: Target, out_dir: Path) -> Artifact:
    """Check the mapping, then write the model, its runner and the resource figures."""
    plan = build_plan(qg)
    model, figures = map_model(plan, target)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save(str(out / "model.fbz"))
    (out / "run.py").write_text(ENV.get_template("run.py.j2").render(
        name=c_ident(qg.graph.name, "model"), version=__version__, inputs=plan.inputs,
        steps=qg.graph.timesteps, input_max=(1 << plan.input_bits) - 1,
        outputs=int(plan.layers[-1].weights.shape[-1])))
    (out / RESOURCES_FILE).write_bytes(resources_json(figures))
    files = tuple(sorted(p.name for p in out.iterdir()))
    return Artifact("akida", out, files, figures)
