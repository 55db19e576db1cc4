"""Run a one-step ONNX model or its raised Relax module for T steps, feeding state back.

Both runners return ``{output name: (steps, batch, ...)}`` for every graph output, so a test
can compare the data output (spikes) and the state outputs (membranes) with the reference.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import tvm
from tvm import relax

from snnc.frontend.expand import expand_snnc_ops
from snnc.frontend.onnx import ImportedModel
from snnc.frontend.state import StateLayout

F32 = np.float32


def _zeros(model: onnx.ModelProto, name: str, batch: int) -> np.ndarray:
    value = next(v for v in model.graph.input if v.name == name)
    dims = [d.dim_value for d in value.type.tensor_type.shape.dim[1:]]
    return np.zeros((batch, *dims), F32)


def _loop(step, model: onnx.ModelProto, layout: StateLayout, drive: np.ndarray,
          outputs: list[str]) -> dict[str, np.ndarray]:
    batch = drive.shape[1]
    state = {name: _zeros(model, name, batch) for name, _ in layout.pairs}
    trace: dict[str, list[np.ndarray]] = {name: [] for name in outputs}
    for t in range(drive.shape[0]):
        values = dict(zip(outputs, step({layout.data_input: drive[t], **state}), strict=True))
        for name in outputs:
            trace[name].append(values[name])
        state = {inp: values[out] for inp, out in layout.pairs}
    return {name: np.stack(v) for name, v in trace.items()}


def run_onnxruntime(model: onnx.ModelProto, layout: StateLayout,
                    drive: np.ndarray) -> dict[str, np.ndarray]:
    """onnxruntime on the model; ``snnc`` ops are expanded first (ORT cannot run them)."""
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    runnable, _ = expand_snnc_ops(model, opset)
    session = ort.InferenceSession(runnable.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    outputs = [o.name for o in runnable.graph.output]

    def step(feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return session.run(outputs, feeds)

    return _loop(step, model, layout, drive, outputs)


def run_tvm(imported: ImportedModel, model: onnx.ModelProto,
            drive: np.ndarray) -> dict[str, np.ndarray]:
    """The raised Relax module compiled for llvm and run on the VM, one call per step."""
    executable = tvm.compile(imported.module, target="llvm")
    vm = relax.VirtualMachine(executable, tvm.cpu())
    main = vm["main"]
    inputs, outputs = imported.input_names, list(imported.output_names)

    def step(feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        result = main(*(tvm.runtime.tensor(np.ascontiguousarray(feeds[n])) for n in inputs))
        if len(outputs) == 1:
            return [result.numpy()]
        return [result[i].numpy() for i in range(len(outputs))]

    return _loop(step, model, imported.layout, drive, outputs)
