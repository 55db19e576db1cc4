"""A corpus of hostile or broken model files, each written into a fresh folder on demand.

Every case is a small pure-ish function ``(folder) -> model path``: it starts from a valid
model (built with :func:`snnc.onnx_builder.graph_to_onnx` or :func:`snnc.frontend.nir.save_nir`)
and breaks exactly one thing, so a failure points at the check that is missing. The CLI tests in
``test_cli_corpus.py`` run ``inspect``, ``simulate`` and ``compile`` on every case.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import onnx
from onnx import AttributeProto, TensorProto, numpy_helper

from snnc.frontend.nir import save_nir
from snnc.ir.layers import LIF, CubaLIF, Dense, Graph, Input, MultiLevelSpike
from snnc.onnx_builder import graph_to_onnx

F32 = np.float32
N_IN = 4  # width of the data input of every corpus model


def lif_graph() -> Graph:
    """x(4) -> Dense 'fc' (3x4) -> LIF 'lif': the smallest model every command accepts."""
    weight = np.arange(12, dtype=F32).reshape(3, 4) / 16
    return Graph((Input("x", (), shape=(N_IN,)), Dense("fc", ("x",), weight=weight),
                  LIF("lif", ("fc",), beta=F32(0.5), threshold=F32(1.0))),
                 output="lif", timesteps=4, name="corpus")


def cuba_graph() -> Graph:
    weight = np.full((3, N_IN), 0.25, F32)
    return Graph((Input("x", (), shape=(N_IN,)), Dense("fc", ("x",), weight=weight),
                  CubaLIF("cuba", ("fc",), current_decay=F32(0.25), voltage_decay=F32(0.5))),
                 output="cuba", timesteps=4, name="corpus")


def multilevel_graph() -> Graph:
    weight = np.full((3, N_IN), 0.25, F32)
    return Graph((Input("x", (), shape=(N_IN,)), Dense("fc", ("x",), weight=weight),
                  MultiLevelSpike("ml", ("fc",), levels=3, axis=None, theta=0.5)),
                 output="ml", timesteps=4, name="corpus")


def _node(model: onnx.ModelProto, name: str) -> onnx.NodeProto:
    return next(n for n in model.graph.node if n.name == name)


def _set_float(model: onnx.ModelProto, node: str, attr: str, value: float) -> onnx.ModelProto:
    """Set (or add) a float attribute of ``node``."""
    target = _node(model, node)
    for a in target.attribute:
        if a.name == attr:
            a.f = value
            return model
    target.attribute.append(onnx.helper.make_attribute(attr, value))
    return model


def _set_weight(model: onnx.ModelProto, values: np.ndarray) -> onnx.ModelProto:
    tensor = model.graph.initializer[0]
    tensor.CopyFrom(numpy_helper.from_array(values.astype(F32), tensor.name))
    return model


def _write(folder: Path, model: onnx.ModelProto, name: str = "model.onnx") -> Path:
    path = folder / name
    path.write_bytes(model.SerializeToString())
    return path


def _write_bytes(folder: Path, data: bytes, name: str) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def good_onnx() -> onnx.ModelProto:
    return graph_to_onnx(lif_graph())


# -- files that are not (whole) models -------------------------------------------------------

def truncated(folder: Path) -> Path:
    data = good_onnx().SerializeToString()
    return _write_bytes(folder, data[: len(data) * 3 // 5], "model.onnx")


def random_bytes(folder: Path) -> Path:
    return _write_bytes(folder, np.random.default_rng(11).bytes(700), "model.onnx")


def empty_file(folder: Path) -> Path:
    return _write_bytes(folder, b"", "model.onnx")


def protobuf_not_a_model(folder: Path) -> Path:
    """A valid protobuf message of another type (the bare GraphProto): it parses as a
    ModelProto with unknown fields but has no IR version, opset or graph."""
    return _write_bytes(folder, good_onnx().graph.SerializeToString(), "model.onnx")


def unknown_suffix(folder: Path) -> Path:
    return _write_bytes(folder, good_onnx().SerializeToString(), "model.pt")


def invalid_utf8_name(folder: Path) -> Path:
    """A tensor name that is not UTF-8: protobuf hands it back as bytes, not str."""
    model = good_onnx()
    _node(model, "lif").input[0] = "\u00ff\u00ff"
    data = model.SerializeToString().replace("\u00ff\u00ff".encode(), b"\xff\xfe\xff\xfe")
    return _write_bytes(folder, data, "model.onnx")


# -- operator set, operators, attributes -----------------------------------------------------

def wrong_opset(folder: Path) -> Path:
    model = good_onnx()
    model.opset_import[0].version = 7
    return _write(folder, model)


def unknown_snnc_opset(folder: Path) -> Path:
    """The ``snnc`` domain only exists in version 1; version 9 promises other semantics."""
    model = good_onnx()
    next(o for o in model.opset_import if o.domain == "snnc").version = 9
    return _write(folder, model)


def unknown_op(folder: Path) -> Path:
    model = good_onnx()
    _node(model, "fc").op_type = "Frobnicate"
    return _write(folder, model)


def unknown_domain(folder: Path) -> Path:
    model = good_onnx()
    _node(model, "lif").domain = "com.example.secret"
    return _write(folder, model)


def missing_attribute(folder: Path) -> Path:
    model = good_onnx()
    lif = _node(model, "lif")
    kept = [a for a in lif.attribute if a.name != "beta"]
    del lif.attribute[:]
    lif.attribute.extend(kept)
    return _write(folder, model)


def wrong_typed_attribute(folder: Path) -> Path:
    model = good_onnx()
    beta = next(a for a in _node(model, "lif").attribute if a.name == "beta")
    beta.type = AttributeProto.STRING
    beta.s = b"0.5"
    return _write(folder, model)


# -- shapes ------------------------------------------------------------------------------------

def shape_mismatch(folder: Path) -> Path:
    return _write(folder, _set_weight(good_onnx(), np.ones((3, N_IN + 1))))


def dynamic_dimension(folder: Path) -> Path:
    model = good_onnx()
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_param = "features"
    return _write(folder, model)


def declared_1e8_input(folder: Path) -> Path:
    """A data input declaring 10^8 features (400 MB per sample as float32): refused from the
    declaration, before anything of that size exists."""
    model = good_onnx()
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_value = 10**8
    return _write(folder, model)


def declared_1e8_weight(folder: Path) -> Path:
    """A weight tensor declaring 10^4 x 10^4 elements with a 48-byte payload."""
    model = good_onnx()
    weight = model.graph.initializer[0]
    del weight.dims[:]
    weight.dims.extend([10**4, 10**4])
    return _write(folder, model)


def declared_huge_weight(folder: Path) -> Path:
    model = good_onnx()
    weight = model.graph.initializer[0]
    del weight.dims[:]
    weight.dims.extend([3 * 10**9, 4 * 10**9])
    return _write(folder, model)


# -- parameter values --------------------------------------------------------------------------

def unknown_element_type(folder: Path) -> Path:
    """An initializer whose element type is a number ONNX does not define (found by atheris:
    onnx's own converter raised a KeyError)."""
    model = good_onnx()
    model.graph.initializer[0].data_type = 65
    return _write(folder, model)


def nan_weight(folder: Path) -> Path:
    weight = np.ones((3, N_IN))
    weight[1, 2] = np.nan
    return _write(folder, _set_weight(good_onnx(), weight))


def inf_weight(folder: Path) -> Path:
    weight = np.ones((3, N_IN))
    weight[0, 0] = -np.inf
    return _write(folder, _set_weight(good_onnx(), weight))


def huge_weight(folder: Path) -> Path:
    """Finite float32, but 4 inputs of such weights overflow a float32 sum."""
    return _write(folder, _set_weight(good_onnx(), np.full((3, N_IN), 3e38)))


def _bad_float(graph: Callable[[], Graph], node: str, attr: str,
               value: float) -> Callable[[Path], Path]:
    """The case: ``graph`` as ONNX with the float attribute ``attr`` of ``node`` set to
    ``value`` (a parameter outside what the neuron's equations allow)."""
    def write(folder: Path) -> Path:
        return _write(folder, _set_float(graph_to_onnx(graph()), node, attr, value))
    return write


# name -> case, for the neuron parameters the reader must refuse
_BAD_FLOATS: dict[str, Callable[[Path], Path]] = {
    "nan_threshold": _bad_float(lif_graph, "lif", "threshold", float("nan")),
    "zero_threshold": _bad_float(lif_graph, "lif", "threshold", 0.0),
    "negative_threshold": _bad_float(lif_graph, "lif", "threshold", -1.0),
    "zero_multilevel_theta": _bad_float(multilevel_graph, "ml", "theta", 0.0),
    "beta_above_one": _bad_float(lif_graph, "lif", "beta", 1.5),
    "beta_below_zero": _bad_float(lif_graph, "lif", "beta", -0.25),
    "current_decay_above_one": _bad_float(cuba_graph, "cuba", "current_decay", 2.0),
    "voltage_decay_below_zero": _bad_float(cuba_graph, "cuba", "voltage_decay", -0.5),
}


# -- graph structure ---------------------------------------------------------------------------

def cycle_without_state(folder: Path) -> Path:
    model = good_onnx()
    _node(model, "fc").input[0] = "lif"
    return _write(folder, model)


def duplicate_node_names(folder: Path) -> Path:
    model = good_onnx()
    _node(model, "lif").name = "fc"
    return _write(folder, model)


def duplicate_tensor_names(folder: Path) -> Path:
    model = good_onnx()
    _node(model, "fc").output[0] = "x"
    return _write(folder, model)


def empty_graph(folder: Path) -> Path:
    model = good_onnx()
    del model.graph.node[:]
    return _write(folder, model)


def external_data_outside_folder(folder: Path) -> Path:
    (folder / "secret.bin").write_bytes(bytes(48))
    inner = folder / "model"
    inner.mkdir()
    model = good_onnx()
    weight = model.graph.initializer[0]
    weight.ClearField("raw_data")
    weight.data_location = TensorProto.EXTERNAL
    weight.external_data.append(onnx.StringStringEntryProto(key="location",
                                                            value="../secret.bin"))
    return _write(inner, model)


def external_data_absolute(folder: Path) -> Path:
    model = good_onnx()
    weight = model.graph.initializer[0]
    weight.ClearField("raw_data")
    weight.data_location = TensorProto.EXTERNAL
    weight.external_data.append(onnx.StringStringEntryProto(key="location",
                                                            value="/etc/passwd"))
    return _write(folder, model)


# -- NIR ---------------------------------------------------------------------------------------

def _good_nir(folder: Path) -> Path:
    path = folder / "model.nir"
    save_nir(lif_graph(), path)
    return path


def nir_random_bytes(folder: Path) -> Path:
    return _write_bytes(folder, np.random.default_rng(5).bytes(900), "model.nir")


def nir_truncated(folder: Path) -> Path:
    data = _good_nir(folder).read_bytes()
    return _write_bytes(folder, data[: len(data) // 2], "model.nir")


def _delete(path: Path, member: str) -> Path:
    with h5py.File(path, "r+") as f:
        del f[member]
    return path


def _first_node_with(path: Path, dataset: str) -> str:
    with h5py.File(path, "r") as f:
        nodes = f["node/nodes"]
        return next(f"node/nodes/{k}/{dataset}" for k in sorted(nodes) if dataset in nodes[k])


def nir_missing_weight(folder: Path) -> Path:
    path = _good_nir(folder)
    return _delete(path, _first_node_with(path, "weight"))


def nir_missing_tau(folder: Path) -> Path:
    path = _good_nir(folder)
    return _delete(path, _first_node_with(path, "tau"))


def nir_missing_edges(folder: Path) -> Path:
    path = _good_nir(folder)
    return _delete(path, "node/edges")


def nir_missing_nodes(folder: Path) -> Path:
    path = _good_nir(folder)
    return _delete(path, "node/nodes")


def nir_text_weight(folder: Path) -> Path:
    path = _good_nir(folder)
    member = _first_node_with(path, "weight")
    with h5py.File(path, "r+") as f:
        del f[member]
        f[member] = "not a matrix"
    return path


def nir_wide_conv(folder: Path) -> Path:
    """A 1x1 convolution from 10^6 input values to 10^9 (1000 channels): a few kilobytes of
    file, four gigabytes per sample if anything were allocated at that size."""
    import nir

    graph = nir.NIRGraph.from_list(
        nir.Input(input_type={"input": np.array([1, 1000, 1000])}),
        nir.Conv2d(input_shape=(1000, 1000), weight=np.ones((1000, 1, 1, 1), F32), stride=1,
                   padding=0, dilation=1, groups=1, bias=np.zeros(1000, F32)),
        nir.Threshold(threshold=np.ones((1, 1, 1), F32)), type_check=False)
    path = folder / "model.nir"
    nir.write(path, graph)
    return path


def nir_threshold_overflows(folder: Path) -> Path:
    """A finite float32 CubaLIF threshold that becomes inf once divided by the input gains
    (atheris found numpy's overflow warning printed next to the error line)."""
    import nir

    n = 3
    graph = nir.NIRGraph.from_list(
        nir.Input(input_type={"input": np.array([4])}),
        nir.Affine(weight=np.ones((n, 4), F32), bias=np.zeros(n, F32)),
        nir.CubaLIF(tau_syn=np.full(n, 2e-3, F32), tau_mem=np.full(n, 2e-3, F32),
                    r=np.ones(n, F32), v_leak=np.zeros(n, F32),
                    v_threshold=np.full(n, 3e38, F32), w_in=np.ones(n, F32)),
        type_check=False)
    path = folder / "model.nir"
    nir.write(path, graph)
    return path


def nir_huge_input_shape(folder: Path) -> Path:
    path = _good_nir(folder)
    with h5py.File(path, "r+") as f:
        nodes = f["node/nodes"]
        member = next(f"node/nodes/{k}/shape" for k in sorted(nodes)
                      if nodes[k]["type"][()] in (b"Input", "Input"))
        del f[member]
        f[member] = np.array([4 * 10**17])
    return path


def nir_huge_string_length(folder: Path) -> Path:
    """The reference to the variable-length string "Input" (a node type) claims 3 GiB: HDF5
    allocates the claimed length before it finds the data missing (found by atheris)."""
    path = _good_nir(folder)
    data = bytearray(path.read_bytes())
    heap = data.find(b"GCOL")  # the global heap collection; objects follow its 16-byte header
    at = heap + 16
    while True:
        index, _, size = struct.unpack_from("<HHxxxxQ", data, at)
        if index == 0:
            raise ValueError("no 'Input' string in the NIR file's global heap")
        if data[at + 16:at + 16 + size] == b"Input":
            ref = data.find(struct.pack("<IQI", size, heap, index))
            struct.pack_into("<I", data, ref, 3 << 30)
            path.write_bytes(bytes(data))
            return path
        at += 16 + (size + 7) // 8 * 8


CASES: dict[str, Callable[[Path], Path]] = {
    **{f.__name__: f for f in (
        truncated, random_bytes, empty_file, protobuf_not_a_model, unknown_suffix,
        invalid_utf8_name,
        wrong_opset, unknown_snnc_opset, unknown_op, unknown_domain, missing_attribute,
        wrong_typed_attribute, shape_mismatch, dynamic_dimension, declared_1e8_input,
        declared_1e8_weight, declared_huge_weight, unknown_element_type, nan_weight, inf_weight,
        huge_weight)},
    **_BAD_FLOATS,
    **{f.__name__: f for f in (
        cycle_without_state, duplicate_node_names, duplicate_tensor_names, empty_graph,
        external_data_outside_folder, external_data_absolute, nir_random_bytes, nir_truncated,
        nir_missing_weight, nir_missing_tau, nir_missing_edges, nir_missing_nodes,
        nir_text_weight, nir_wide_conv, nir_huge_input_shape, nir_huge_string_length,
        nir_threshold_overflows)},
}


# -- input arrays handed to ``simulate`` (with the valid corpus model) --------------------------

def _array(values: np.ndarray, allow_pickle: bool = False) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        path = folder / "bad_x.npy"
        np.save(path, values, allow_pickle=allow_pickle)
        return path
    return write


def _not_npy(folder: Path) -> Path:
    path = folder / "bad_x.npy"
    path.write_bytes(b"\x93NUMPY but then nonsense")
    return path


_WIDE = np.ones((2, N_IN), F32)
# name -> (writes the input file, extra simulate arguments)
INPUT_CASES: dict[str, tuple[Callable[[Path], Path], tuple[str, ...]]] = {
    "nan_input": (_array(np.full((2, N_IN), np.nan, F32)), ()),
    "inf_input": (_array(np.full((2, N_IN), -np.inf, F32)), ()),
    "string_input": (_array(np.array([["a"] * N_IN])), ()),
    "object_input": (_array(np.array([[1] * N_IN], dtype=object), allow_pickle=True), ()),
    "complex_input": (_array(np.ones((2, N_IN), np.complex64)), ()),
    "empty_batch": (_array(np.ones((0, N_IN), F32)), ()),
    "wrong_width": (_array(np.ones((2, N_IN + 1), F32)), ()),
    "scalar_input": (_array(np.float32(1)), ()),
    "not_npy": (_not_npy, ()),
    "missing_input": (lambda folder: folder / "absent.npy", ()),
    "too_many_steps": (_array(_WIDE), ("--steps", str(10**9))),
    "zero_steps": (_array(_WIDE), ("--steps", "0")),
    "too_few_recorded_steps": (_array(np.ones((2, 2, N_IN), F32)), ("--steps", "3")),
}
