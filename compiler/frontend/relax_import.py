"""ONNX (standard ops only) -> raised Relax module, with the ONNX node behind every value.

Relax's ONNX importer keeps only parameter names; values become ``lv``, ``lv1``, ... To know the
ONNX node(s) each layer came from, the model is imported once with every live tensor declared
a graph output: ``main``'s return tuple then names the binding of each tensor. The extra outputs
are dropped again before anything else runs, so the module is the model's own step. Each
``FuseOpsByPattern`` match then knows its ONNX nodes from its matched bindings
(:mod:`.match`), and an op no pattern absorbed is blamed on its node.
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import onnx
import tvm
from tvm import relax
from tvm.relax.frontend.onnx import from_onnx

from snnc.errors import ModelError
from snnc.frontend.match import MATCH_ATTR, Match, Recorder
from snnc.frontend.patterns import raise_composites

# Ops that anchor a layer and name it when a composite has no common name scope.
_ANCHORS = ("Gemm", "MatMul", "Conv", "MaxPool", "AveragePool", "Flatten", "Reshape", "Add")


@dataclass(frozen=True)
class Raised:
    """The raised module and the match behind each of its composites."""

    module: tvm.IRModule
    matches: list[Match]
    node_of: dict[relax.Var, onnx.NodeProto]
    node_rank: dict[str, int]  # ONNX node name -> position in the graph
    recorder: Recorder

    def match_of(self, callee: relax.GlobalVar) -> Match:
        return self.matches[int(self.module[callee].attrs[MATCH_ATTR])]


def import_raised(model: onnx.ModelProto, state_params: Sequence[int]) -> Raised:
    """``from_onnx`` (once) -> drop the naming outputs -> ``FoldConstant`` ->
    ``DeadCodeElimination`` -> ``snn.*`` composites."""
    count = len(model.graph.output)
    with _all_outputs(model) as named:
        sink = io.StringIO()
        with warnings.catch_warnings(), contextlib.redirect_stdout(sink):
            warnings.simplefilter("ignore")
            try:
                mod = from_onnx(named, keep_params_in_input=False)
            except Exception as exc:  # the importer raises bare TVMError/ValueError/KeyError
                raise ModelError(f"Relax import failed: {_first_line(exc)}") from None
        fields = output_fields(mod["main"])
        producer = {t: own for node in named.graph.node
                    for own in (_detached(node),) for t in node.output}
        node_of = {value: producer[out.name] for value, out in
                   zip(fields, named.graph.output, strict=True)
                   if out.name in producer and isinstance(value, relax.Var)}
        rank = {node.name: i for i, node in enumerate(named.graph.node)}
    mod = _own_outputs(mod, count)
    mod = relax.transform.FoldConstant()(mod)
    mod = relax.transform.DeadCodeElimination(["main"])(mod)
    main = mod["main"]
    order = {b.var: i for i, b in enumerate(_bindings(main))}
    recorder = Recorder(order, {v: n for v, n in node_of.items() if v in order})
    states = [main.params[i] for i in state_params]
    raised = raise_composites(mod, states, recorder)
    return Raised(raised, recorder.matches, node_of, rank, recorder)


def _detached(node: onnx.NodeProto) -> onnx.NodeProto:
    """A copy of ``node`` owning its data: a node read from the model keeps the whole model,
    every weight included, alive, and the model is dropped once it is imported."""
    own = onnx.NodeProto()
    own.CopyFrom(node)
    return own


def _bindings(main: relax.Function) -> list[relax.Binding]:
    return [b for block in main.body.blocks for b in block.bindings]


def _own_outputs(mod: tvm.IRModule, count: int) -> tvm.IRModule:
    """``main`` returning only the model's ``count`` outputs (the naming ones dropped)."""
    main = mod["main"]
    fields = output_fields(main)[:count]
    blocks = list(main.body.blocks)
    last = blocks[-1]
    bindings = list(last.bindings)
    result = main.body.body
    value = relax.Tuple(fields) if count > 1 else fields[0]
    out = relax.Var(result.name, value.ty)
    bindings = [b for b in bindings if not b.var.same_as(result)]
    bindings.append(relax.VarBinding(out, value))
    blocks[-1] = relax.DataflowBlock(bindings) if isinstance(last, relax.DataflowBlock) \
        else relax.BindingBlock(bindings)
    func = relax.Function(main.params, relax.SeqExpr(blocks, out), value.ty, main.is_pure,
                          main.attrs)
    mod = tvm.IRModule({**{gv: mod[gv] for gv in mod.functions if gv.name_hint != "main"}})
    mod["main"] = func
    return relax.transform.Normalize()(mod)


def composites(mod: tvm.IRModule) -> list[tuple[relax.Var, relax.GlobalVar]]:
    """``(bound var, callee)`` of every composite call in ``main``, in binding order."""
    found = []
    for block in mod["main"].body.blocks:
        for binding in block.bindings:
            value = binding.value
            if isinstance(value, relax.Call) and isinstance(value.op, relax.GlobalVar):
                found.append((binding.var, value.op))
    return found


def output_fields(main: relax.Function) -> list[relax.Expr]:
    """The values ``main`` returns, looking through the binding of the returned tuple."""
    result = main.body.body
    for block in main.body.blocks:
        for binding in block.bindings:
            if binding.var.same_as(result):
                result = binding.value
    return list(result.fields) if isinstance(result, relax.Tuple) else [result]


def _live_tensors(graph: onnx.GraphProto) -> set[str]:
    """Tensors the graph outputs depend on (dead nodes are dropped by the real import)."""
    producer = {t: node for node in graph.node for t in node.output}
    live: set[str] = set()
    pending = [o.name for o in graph.output]
    while pending:
        name = pending.pop()
        if name in live:
            continue
        live.add(name)
        if name in producer:
            pending.extend(i for i in producer[name].input if i)
    return live


@contextlib.contextmanager
def _all_outputs(model: onnx.ModelProto) -> Iterator[onnx.ModelProto]:
    """``model`` with every live tensor declared a graph output, for the duration of the
    block; the declarations are removed again after it (the model is not copied: it holds
    every weight)."""
    graph = model.graph
    kept = len(graph.output)
    declared = {o.name for o in graph.output}
    live = _live_tensors(graph)
    for node in graph.node:
        for name in node.output:
            if name and name in live and name not in declared:
                graph.output.append(onnx.ValueInfoProto(name=name))
                declared.add(name)
    try:
        yield model
    finally:
        del graph.output[kept:]


def layer_names(raised: Raised, origin: dict[str, str], reserved: set[str]) -> list[str]:
    """The layer name of every composite in binding order (see :func:`layer_name_of`),
    made distinct with ``_<k>`` suffixes.

    Raises :class:`ModelError` naming the ONNX node of any op no pattern absorbed.
    """
    main = raised.module["main"]
    bindings = _bindings(main)
    grouped: set[relax.Var] = set()
    loose: list[relax.Var] = []
    members: list[list[onnx.NodeProto]] = []
    for binding in bindings:
        value = binding.value
        if isinstance(value, relax.Call) and isinstance(value.op, relax.GlobalVar):
            grouped.add(binding.var)
            members.append(list(raised.match_of(value.op).nodes))
        elif isinstance(value, relax.TupleGetItem) and value.tuple_value in grouped:
            grouped.add(binding.var)
        elif _is_loose(value, set(loose)):
            loose.append(binding.var)
    if loose:
        node = _blame(loose[0], bindings, raised.node_of)
        name = origin.get(node.name, node.name) if node is not None else None
        op = node.op_type if node is not None else "an operator"
        raise ModelError(f"{op} is not part of any neuron, synapse or pooling idiom snnc can "
                         "raise", name)
    names = []
    taken = set(reserved)
    for nodes in members:
        nodes.sort(key=lambda n: raised.node_rank[n.name])
        base = layer_name_of(nodes, origin) or "layer"
        name, k = base, 1
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        taken.add(name)
        names.append(name)
    return names


def _blame(var: relax.Var, bindings: list[relax.Binding],
           tensor_node: dict[relax.Expr, onnx.NodeProto]) -> onnx.NodeProto | None:
    """The ONNX node behind ``var``: its own tensor, else that of the first value using it
    (an op in the middle of an ONNX node's lowering, e.g. Gemm's scale, has no tensor)."""
    if var in tensor_node:
        return tensor_node[var]
    for binding in bindings:
        value = binding.value
        args = value.args if isinstance(value, relax.Call) else \
            value.fields if isinstance(value, relax.Tuple) else []
        if any(arg.same_as(var) for arg in args):
            found = _blame(binding.var, bindings, tensor_node)
            if found is not None:
                return found
    return None


def _is_loose(value: relax.Expr, loose: set[relax.Var]) -> bool:
    """An op no pattern absorbed (the float cast of a neuron's boolean spikes is allowed)."""
    if isinstance(value, relax.TupleGetItem):
        return value.tuple_value in loose
    return isinstance(value, relax.Call) and not _is_spike_cast(value)


def _is_spike_cast(call: relax.Call) -> bool:
    return isinstance(call.op, tvm.ir.Op) and call.op.name == "relax.astype"


_TORCH_AUTO = re.compile(r"^[A-Z][A-Za-z]*(_\d+)?$")


def _clean(name: str) -> str:
    """Drop the ``/<OpType>[_n]`` tail exporters add under a scope, and outer slashes."""
    parts = name.split("/")
    if len(parts) > 1 and _TORCH_AUTO.match(parts[-1]):
        parts = parts[:-1]
    return "/".join(parts).strip("/") or name


def layer_name_of(nodes: list[onnx.NodeProto], origin: dict[str, str]) -> str:
    """Expanded ``snnc`` nodes keep their node's name; otherwise the PyTorch module the nodes
    share (the dynamo exporter's ``name_scopes`` metadata), the common name scope of the nodes
    (TorchScript names them ``/fc/Gemm``), else the first anchor op (MatMul, Conv, ...), else
    the first node."""
    for node in nodes:
        if node.name in origin:
            return origin[node.name]
    if not nodes:
        return ""
    module = _torch_module(nodes)
    if module:
        return module
    if len(nodes) > 1:
        split = [n.name.split("/") for n in nodes]
        common: list[str] = []
        for parts in zip(*split, strict=False):
            if len(set(parts)) != 1:
                break
            common.append(parts[0])
        scope = "/".join(common).strip("/")
        if scope:
            return _clean("/".join(common)) if common[-1] and _TORCH_AUTO.match(common[-1]) \
                else scope
    anchors = [n for n in nodes if n.op_type in _ANCHORS] or nodes
    return _clean(anchors[0].name)


_SCOPES_KEY = "pkg.torch.onnx.name_scopes"


def _torch_module(nodes: list[onnx.NodeProto]) -> str:
    """The innermost module all ``nodes`` belong to, from the dynamo exporter's per-node
    ``name_scopes`` (``['', 'lif', 'lif.recurrent', 'linear_1']``: the qualified module names
    from the root, then the op itself); '' when any node lacks them."""
    paths = []
    for node in nodes:
        raw = next((p.value for p in node.metadata_props if p.key == _SCOPES_KEY), None)
        if raw is None or len(raw) > 4096:
            return ""
        try:
            scopes = ast.literal_eval(raw)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return ""
        if not isinstance(scopes, list) or not all(isinstance(x, str) for x in scopes):
            return ""
        paths.append(scopes[:-1])
    common: list[str] = []
    for level in zip(*paths, strict=False):
        if len(set(level)) != 1:
            break
        common.append(level[0])
    return common[-1] if common else ""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
