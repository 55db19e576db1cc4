"""Run an ONNX step model exactly as it was exported: the framework's own float arithmetic.

The layer view gives every neuron one float expression (``beta*v + I``); an exporter writes the
framework's (SpikingJelly's ``v + (x - v)/tau``, Norse's ``v + c*((v_leak - v) + i)``). The two
are equal in real arithmetic and, measured, practically never move a spike (``docs/onnx-ops.md``),
but only running the exported graph itself reproduces the framework bit for bit. This module does
that: the step graph (a whole exported loop already folded into one step, no-op shape chains
removed, ``snnc`` ops expanded) is evaluated node by node with ONNX's reference evaluator and
looped over the steps from a zero state. It is the "as exported" run to compare the compiled
model with, not a backend: nothing here is quantized or mapped. The drive is the one every
executor gets (``snnc.reference.encode.encode``).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx.reference import ReferenceEvaluator

from snnc.errors import InputError
from snnc.frontend.onnx import ImportedModel

F32 = np.float32


def run_exported(imported: ImportedModel, drive: np.ndarray) -> np.ndarray:
    """The data output per step, (steps, batch, *out), of the exported step graph on ``drive``
    (steps, batch, *input). A graph exported for a fixed batch size runs in chunks of it."""
    model = imported.exported
    if model is None:
        raise InputError("this model was not read from ONNX")
    layout = imported.layout
    evaluator = ReferenceEvaluator(model)
    dims = {v.name: [d.dim_value if d.HasField("dim_value") else None
                     for d in v.type.tensor_type.shape.dim] for v in model.graph.input}
    chunk = dims[layout.data_input][0] or drive.shape[1]
    parts = [_run(evaluator, model, imported, drive[:, i:i + chunk], dims)
             for i in range(0, drive.shape[1], chunk)]
    return np.concatenate(parts, axis=1)


def _run(evaluator: ReferenceEvaluator, model: onnx.ModelProto, imported: ImportedModel,
         drive: np.ndarray, dims: dict[str, list[int | None]]) -> np.ndarray:
    layout = imported.layout
    batch = drive.shape[1]
    state = {name: np.zeros((batch, *dims[name][1:]), F32) for name, _ in layout.pairs}
    names = [o.name for o in model.graph.output]
    outputs = []
    for step in drive:
        feeds = {layout.data_input: np.ascontiguousarray(step, F32), **state}
        values = dict(zip(names, evaluator.run(names, feeds), strict=True))
        outputs.append(np.asarray(values[layout.data_output], F32))
        state = {inp: np.asarray(values[out], F32) for inp, out in layout.pairs}
    return np.stack(outputs)
