"""The ONNX frontend: a one-step ONNX model -> raised Relax module -> layer view.

Path (DESIGN.md section 1): read defensively (:mod:`.reader`), validate early
(:mod:`.validate`: known ops and domains, attributes, finite constants, acyclic, unique names),
resolve the state pairing (:mod:`.state`), expand ``snnc`` ops into standard primitives
(:mod:`.expand`), rewrite exporters' clips into the idiom patterns see (:mod:`.normalize`),
check shapes with strict ONNX shape inference, import once with
``tvm.relax.frontend.onnx.from_onnx``, fold constants, raise ``snn.*`` composites with
``FuseOpsByPattern`` (:mod:`.patterns`), name them after their ONNX nodes
(:mod:`.relax_import`), and read the typed layer view from the matches themselves
(:mod:`.layer_walk`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import onnx
import tvm
from onnx import shape_inference

from snnc.errors import InvalidModelError, ModelError, ShapeError, UnsupportedError
from snnc.frontend.expand import expand_snnc_ops
from snnc.frontend.fold import fold_constants
from snnc.frontend.idioms import remove_noop_chains, rewrite_framework_neurons
from snnc.frontend.inference import infer_shapes
from snnc.frontend.layer_walk import Contract, graph_from_matches
from snnc.frontend.neurons import rewrite_neurons
from snnc.frontend.normalize import normalize_clips
from snnc.frontend.reader import read_model
from snnc.frontend.relax_import import composites, import_raised, layer_name_of, layer_names
from snnc.frontend.rewrites import rewrite_step
from snnc.frontend.state import StateLayout, state_layout
from snnc.frontend.timeline import INPUT_LAYOUT_KEY, OUTPUT_LAYOUT_KEY, recover_time
from snnc.frontend.unroll import fold_unrolled_loop
from snnc.frontend.validate import default_opset, shown, validate_ops, validate_structure
from snnc.ir.layers import LIF, CubaLIF, Graph, StepProgram

TIMESTEPS_KEY = "snnc.timesteps"
ENCODING_KEY = "snnc.encoding"
ENCODINGS = ("direct", "rate")
BATCH = "N"


@dataclass(frozen=True)
class ImportedModel:
    """The layer view and the raised Relax module it was read from.

    ``module``'s ``main`` takes the ONNX graph inputs in order (data and state) and returns the
    graph outputs; ``layout`` says which is which and how state is carried between steps.
    """

    graph: Graph
    module: tvm.IRModule
    layout: StateLayout
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    step: onnx.ModelProto | None = field(default=None, repr=False)  # before expansion
    opset: int = 0

    @cached_property
    def exported(self) -> onnx.ModelProto | None:
        """The step as exported with ``snnc`` ops expanded, runnable (see :mod:`.exported`);
        built on first use, since compiling never needs it."""
        return None if self.step is None else expand_snnc_ops(self.step, self.opset)[0]


def import_onnx(model_or_path: str | Path | bytes | onnx.ModelProto) -> ImportedModel:
    """Read, validate, expand, import and raise an ONNX step model (see the module doc)."""
    model, label = read_model(model_or_path)
    validate_structure(model)
    first: ModelError | None = None
    folded = fold_constants(model)
    del model  # the folded copy (or the model itself) is all that is read from here on
    for step in _step_models(folded):
        try:
            imported = _import_step(step, label)
        except ModelError as exc:  # another reading of the time structure may raise
            first = first or exc
            continue
        reason = acceptance_failure(folded, imported)
        if reason is None:
            return imported
        first = first or ModelError(f"the recovered layers do not reproduce the exported graph "
                                    f"({reason}); refusing rather than compiling a different "
                                    "network")
    if first is None:  # pragma: no cover - _step_models yields or raises
        raise ModelError("no reading of the model")
    raise first


ACCEPT_STEPS = 12  # steps of the acceptance run of a one-step model


def acceptance_failure(exported: onnx.ModelProto, imported: ImportedModel) -> str | None:
    """Run the layer graph against onnxruntime on the exported graph, on a random input: the
    float reference with the exporters' step programs must agree bit for bit, and the layers'
    own equations (what integer targets quantize) must give the same spikes. None when both
    hold (or when nothing was recovered from exporter arithmetic); else what differs."""
    graph = imported.graph
    recovered = [layer for layer in graph.layers
                 if isinstance(layer, LIF | CubaLIF) and layer.program is not None]
    if not recovered and not graph.layout:
        return None
    from snnc.reference.simulate import run_graph

    try:
        drive, want = _exported_run(exported, imported)
    except Exception:  # onnxruntime cannot run it: the later stages name what is wrong
        return None
    got = run_graph(graph, drive, record=False).output
    if got.shape != want.shape or not np.array_equal(got, want):
        return "the float reference differs from onnxruntime on a random input"
    if recovered:
        plain = graph.replace_layers([replace(layer, program=None)
                                      if layer in recovered else layer
                                      for layer in graph.layers])
        equations = run_graph(plain, drive, record=False).output
        spiking = graph.layer(graph.output).is_neuron
        same = np.array_equal(equations, want) if spiking else np.allclose(
            equations, want, rtol=1e-4, atol=1e-5)
        if not same:
            return "the recovered neuron equations differ from onnxruntime on a random input"
    return None


def _exported_run(exported: onnx.ModelProto,
                  imported: ImportedModel) -> tuple[np.ndarray, np.ndarray]:
    """A random (steps, batch, ...) drive and onnxruntime's output on the exported graph, as
    (steps, batch, ...)."""
    import onnxruntime as ort

    from snnc.frontend.timeline import from_steps, layouts, to_steps

    rng = np.random.default_rng(11)
    options = ort.SessionOptions()
    options.log_severity_level = 4
    session = ort.InferenceSession(exported.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    feeds = session.get_inputs()
    graph = imported.graph
    found = layouts(graph.layout)
    if found is not None:
        inp, out, steps = found
        dims = [d if isinstance(d, int) else 2 for d in feeds[0].shape]
        x = rng.uniform(0.0, 2.0, dims).astype(np.float32)
        y = session.run(None, {feeds[0].name: x})[0]
        drive = to_steps(x, inp, steps)
        return drive, to_steps(y, out, steps)
    del from_steps
    layout = imported.layout
    shapes = {f.name: [d if isinstance(d, int) else 2 for d in f.shape] for f in feeds}
    batch = shapes[layout.data_input][0]
    drive = rng.uniform(0.0, 2.0, (ACCEPT_STEPS, *shapes[layout.data_input])).astype(
        np.float32)
    state = {name: np.zeros((batch, *shapes[name][1:]), np.float32) for name, _ in layout.pairs}
    names = [o.name for o in session.get_outputs()]
    ys = []
    for x in drive:
        values = dict(zip(names, session.run(names, {layout.data_input: x, **state}),
                          strict=True))
        ys.append(values[layout.data_output])
        state = {i: values[o] for i, o in layout.pairs}
    return drive, np.stack(ys)


def _import_step(model: onnx.ModelProto, label: str) -> ImportedModel:
    """Import one step with state (see the module doc)."""
    model = rewrite_step(model)
    opset = default_opset(model)
    graph = model.graph
    constant = {t.name for t in graph.initializer}
    inputs = [v.name for v in graph.input if v.name not in constant]
    outputs = [v.name for v in graph.output]
    metadata = {p.key: p.value for p in model.metadata_props}
    layout = state_layout(inputs, outputs, metadata)
    as_exported = model
    failures: dict[str, str] = {}
    model, rewritten, programs = rewrite_neurons(model, layout.pairs,
                                                 lambda nodes: layer_name_of(nodes, {}),
                                                 failures)
    model, spelled = rewrite_framework_neurons(model, layout.pairs,
                                               lambda nodes: layer_name_of(nodes, {}))
    rewritten.update(spelled)
    validate_ops(model)
    _check_io_dims(model, inputs)
    timesteps, encoding = _run_metadata(metadata)
    expanded, origin = expand_snnc_ops(model, opset)
    del model  # each copy of the model holds every weight: keep only those still read
    origin.update(rewritten)
    expanded = normalize_clips(expanded)
    _check_shapes(expanded, layout, origin)
    state_params = [inputs.index(name) for name, _ in layout.pairs]
    raised = import_raised(expanded, state_params)
    del expanded  # the module holds the weights now; a node of the model would keep it alive
    try:
        names = layer_names(raised, origin, {layout.data_input})
    except ModelError as exc:
        if exc.node in failures:  # say what the neuron around the node does instead
            raise ModelError(f"not a neuron snnc can compile: {failures[exc.node]}",
                             exc.node) from None
        raise
    contract = Contract(tuple(inputs), tuple(outputs), inputs.index(layout.data_input),
                        outputs.index(layout.data_output),
                        {inputs.index(i): outputs.index(o) for i, o in layout.pairs},
                        timesteps, encoding, graph.name or label)
    module = _annotate(raised.module, names, contract)
    graph = _with_programs(graph_from_matches(module, raised.matches, raised.recorder, names,
                                              contract), programs)
    if INPUT_LAYOUT_KEY in metadata:
        graph = graph.replace_layers(graph.layers, layout=json.dumps({
            "input": json.loads(metadata[INPUT_LAYOUT_KEY]),
            "output": json.loads(metadata.get(OUTPUT_LAYOUT_KEY, "null"))}))
    return ImportedModel(graph, module, layout, tuple(inputs), tuple(outputs), as_exported,
                         opset)


def _with_programs(graph: Graph, programs: dict[str, tuple[StepProgram, str, bool]]) -> Graph:
    """Recovered neurons get the exporter's float arithmetic and the idiom they came from."""
    if not programs:
        return graph
    neurons = [layer.name for layer in graph.layers if isinstance(layer, LIF | CubaLIF)]
    owner: dict[str, tuple[StepProgram, str, bool]] = {}
    for exact in (True, False):  # a neuron named like another layer got a "_<k>" suffix
        for name, found in programs.items():
            if any(v is found for v in owner.values()):
                continue
            match = next((n for n in neurons if n not in owner and (
                n == name if exact else re.fullmatch(re.escape(name) + r"_\d+", n))), None)
            if match is not None:
                owner[match] = found
    layers = []
    for layer in graph.layers:
        found = owner.get(layer.name)
        if found is not None and isinstance(layer, LIF | CubaLIF):
            extra = {"graded": True} if found[2] and isinstance(layer, LIF) else {}
            recovered = replace(layer, program=found[0], **extra)
            if _program_needed(recovered, graph.shape(layer.name)):
                layer = recovered.with_attrs(idiom=found[1])
            elif ":" in found[1]:  # the framework module is known: name it all the same
                layer = replace(layer, **extra).with_attrs(idiom=found[1])
            else:  # snnc's own spelling: the layer as written
                layer = replace(layer, **extra)
        layers.append(layer)
    return graph.replace_layers(layers)


def _program_needed(layer: LIF | CubaLIF, shape: tuple[int, ...]) -> bool:
    """Whether the exporter's arithmetic rounds differently from the layer's equations: both
    are run on random currents and states for a few steps (the equations are then the
    program, bit for bit, and the layer needs none)."""
    from snnc.reference.simulate import cuba_step, lif_step

    assert layer.program is not None
    rng = np.random.default_rng(5)
    plain = replace(layer, program=None)
    count = len(layer.program.inputs)
    v = rng.uniform(-2, 2, (64, *shape)).astype(np.float32)
    u = rng.uniform(-2, 2, (64, *shape)).astype(np.float32)
    states = [(v, u), (v.copy(), u.copy())]
    for _ in range(4):
        currents = tuple(rng.uniform(-2, 3, (64, *shape)).astype(np.float32)
                         for _ in range(count))
        results = []
        for which, (sv, su) in zip((layer, plain), states, strict=True):
            if isinstance(which, LIF):
                s, sv = lif_step(which, currents[0], sv, currents[1:])
            else:
                total = currents[0]
                for extra in currents[1:]:
                    total = total + extra
                s, su, sv = cuba_step(which, total, su, sv)
            results.append((s, sv, su))
        if any(not np.array_equal(a, b) for a, b in zip(*results, strict=True)):
            return True
        states = [(r[1], r[2]) for r in results]
    return False


def _step_models(model: onnx.ModelProto) -> Iterator[onnx.ModelProto]:
    """The one-step readings of a model, best first: a whole-sequence graph's canonical
    unrolled form (:mod:`.timeline`) folded by :mod:`.unroll` with the per-step nodes in the
    exporter's order, then with each in the block of the step it reads, then the graph as
    exported folded directly. A one-step model is its own only reading."""
    seen: list[onnx.ModelProto] = []
    refused: UnsupportedError | None = None
    yielded = False
    for canonical in (recover_time(model), recover_time(model, eager=True), model):
        if any(canonical is s for s in seen):
            continue
        seen.append(canonical)
        try:
            step = fold_unrolled_loop(remove_noop_chains(canonical))
        except UnsupportedError as exc:
            refused = refused or exc
            continue
        yielded = True
        yield step
    if refused is not None and not yielded:
        raise refused


def _run_metadata(metadata: dict[str, str]) -> tuple[int, str]:
    text = metadata.get(TIMESTEPS_KEY, "8").strip()
    if not re.fullmatch(r"[0-9]{1,9}", text) or int(text) < 1:
        raise InvalidModelError(f"metadata {TIMESTEPS_KEY} must be a positive integer, "
                                f"got '{shown(text)}'")
    encoding = metadata.get(ENCODING_KEY, "direct").strip()
    if encoding not in ENCODINGS:
        raise InvalidModelError(f"metadata {ENCODING_KEY} must be one of "
                                f"{', '.join(ENCODINGS)}, got '{shown(encoding)}'")
    return int(text), encoding



def _check_io_dims(model: onnx.ModelProto, inputs: list[str]) -> None:
    """Only the leading batch axis of a graph input may be dynamic; it is named ``N``."""
    for value in model.graph.input:
        if value.name not in inputs:
            continue
        tensor = value.type.tensor_type
        if tensor.elem_type != onnx.TensorProto.FLOAT:
            raise ShapeError("graph inputs must be float32", value.name)
        dims = list(tensor.shape.dim)
        if len(dims) < 2:
            raise ShapeError("a graph input needs a batch axis and at least one sample axis",
                             value.name)
        for d in dims[1:]:
            if not d.HasField("dim_value") or d.dim_value < 1:
                raise ShapeError("only the batch axis may be dynamic; sample axes must be "
                                 "fixed positive sizes", value.name)
        if not dims[0].HasField("dim_value"):
            dims[0].dim_param = BATCH


def _check_shapes(model: onnx.ModelProto, layout: StateLayout, origin: dict[str, str]) -> None:
    """Strict ONNX shape inference, and each state output shaped like its state input."""
    try:
        inferred = infer_shapes(model, check_type=True, strict_mode=True)
    except (shape_inference.InferenceError, onnx.checker.ValidationError) as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else "shape inference"
        found = re.search(r"node name: ([^)]*)\)", text)
        node = found.group(1) if found else None
        reason = text.rsplit("] ", 1)[-1]  # drop the "[ShapeInferenceError] (op_type...)" tags
        raise ShapeError(f"shapes do not fit: {reason[:200]}",
                         origin.get(node, node) if node else None) from None
    graph = inferred.graph
    shapes = {}
    for value in [*graph.input, *graph.value_info, *graph.output]:
        tensor = value.type.tensor_type
        if tensor.HasField("shape"):
            shapes[value.name] = [d.dim_value if d.HasField("dim_value") else None
                                  for d in tensor.shape.dim]
    for state_in, state_out in layout.pairs:
        got, want = shapes.get(state_out), shapes.get(state_in)
        if got is not None and want is not None and got[1:] != want[1:]:
            raise ShapeError(f"state input of shape {want[1:]} is paired with '{state_out}' "
                             f"of shape {got[1:]}", state_in)


def _annotate(module: tvm.IRModule, names: list[str], contract: Contract) -> tvm.IRModule:
    """Attach layer names to composites and the step contract to ``main`` (they survive
    compilation, and ``snnc inspect --relax`` shows them)."""
    for (_, gv), name in zip(composites(module), names, strict=True):
        module[gv] = module[gv].with_attr("snn.layer_name", name)
    main = module["main"]
    attrs = {
        "snn.input_names": list(contract.input_names),
        "snn.output_names": list(contract.output_names),
        "snn.data_input": contract.data_input,
        "snn.data_output": contract.data_output,
        "snn.state_inputs": list(contract.state),
        "snn.state_outputs": list(contract.state.values()),
        "snn.timesteps": contract.timesteps,
        "snn.encoding": contract.encoding,
        "snn.model_name": contract.model_name,
    }
    for key, value in attrs.items():
        main = main.with_attr(key, value)
    module["main"] = main
    return module
