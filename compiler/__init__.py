"""snnc: a compiler from spiking neural networks (ONNX / NIR) to neuromorphic and MCU targets.

The public API mirrors the command line::

    import snnc
    graph = snnc.load("model.onnx")                         # layer view (Relax-raised)
    trace = snnc.simulate(graph, x, steps=8)                 # float reference
    trace = snnc.simulate(graph, x, target="cortex-m4", backend="qemu")
    result = snnc.compile(graph, "loihi2", "out/")           # -> out/loihi/
    results = snnc.compile_all(graph, ["loihi2", "cortex-m4", "spinnaker2"], "out/")  # all or none
    cost = snnc.report(graph, "spinnaker2", calib=x)         # SNN vs QNN energy per layer

Everything else is importable but not promised.
"""

from snnc import errors
from snnc.api import compile, compile_all, load, optimize, predict, quantize, report, simulate
from snnc.ir.layers import Graph
from snnc.reference.simulate import Trace
from snnc.target import Target, list_targets, load_target
from snnc.version import __version__

__all__ = [
    "Graph",
    "Target",
    "Trace",
    "__version__",
    "compile",
    "compile_all",
    "errors",
    "list_targets",
    "load",
    "load_target",
    "optimize",
    "predict",
    "quantize",
    "report",
    "simulate",
]
