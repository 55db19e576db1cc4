"""The imported Relax module: one named snn.* composite per layer and the step contract."""

from __future__ import annotations

import numpy as np
import pytest
from tvm import relax

from snnc.frontend.onnx import import_onnx
from snnc.frontend.relax_import import composites
from snnc.ir.layers import LIF, Add, Conv2d, CubaLIF, Dense, Flatten, Graph, Input, Pool2d
from snnc.onnx_builder import graph_to_onnx

F32 = np.float32


def conv_net() -> Graph:
    rng = np.random.default_rng(2)
    return Graph((
        Input("img", (), shape=(1, 4, 4)),
        Conv2d("conv", ("img",), weight=(rng.integers(-8, 8, (2, 1, 3, 3)) / 8).astype(F32),
               padding=(1, 1, 1, 1)),
        LIF("lif", ("conv",), beta=F32(0.5)),
        Pool2d("pool", ("lif",), pool="avg"),
        Flatten("flat", ("pool",)),
        Dense("fc", ("flat",), weight=np.full((8, 8), 0.125, F32)),
        Add("sum", ("fc", "fc")),
        CubaLIF("out", ("sum",), current_decay=F32(0.5)),
    ), output="out")


@pytest.mark.parametrize("form", ["snnc", "primitive"])
def test_every_layer_is_one_composite_named_after_it(form: str) -> None:
    module = import_onnx(graph_to_onnx(conv_net(), form)).module
    found = [(str(module[gv].attrs["Composite"]), str(module[gv].attrs["snn.layer_name"]))
             for _, gv in composites(module)]
    assert found == [("snn.conv2d", "conv"), ("snn.lif", "lif"), ("snn.pool2d", "pool"),
                     ("snn.reshape", "flat"), ("snn.dense", "fc"), ("snn.add", "sum"),
                     ("snn.cubalif", "out")]
    for _, gv in composites(module):
        assert module[gv].attrs["Primitive"]


def test_main_carries_the_step_contract_and_the_layers_are_its_composites() -> None:
    graph = Graph((Input("x", (), shape=(3,)),
                   Dense("fc", ("x",), weight=np.full((2, 3), 0.5, F32)),
                   Dense("rec", ("n",), weight=np.eye(2, dtype=F32), recurrent=True),
                   Add("sum", ("fc", "rec")), LIF("n", ("sum",), beta=F32(0.25))),
                  output="n", timesteps=9, encoding="rate", name="tiny")
    imported = import_onnx(graph_to_onnx(graph))
    main = imported.module["main"]
    assert [str(n) for n in main.attrs["snn.input_names"]] == ["x", "n.prev", "n.v"]
    assert [str(n) for n in main.attrs["snn.output_names"]] == ["n", "n.v.next"]
    assert (int(main.attrs["snn.timesteps"]), str(main.attrs["snn.encoding"])) == (9, "rate")
    assert [p.name for p in main.params] == ["x", "n_prev", "n_v"]
    assert isinstance(main.ret_ty, relax.TupleType)
    module = imported.module
    names = [str(module[gv].attrs["snn.layer_name"]) for _, gv in composites(module)]
    assert names == ["fc", "rec", "sum", "n"]
    assert [lay.name for lay in imported.graph.layers] == [lay.name for lay in graph.layers]


def test_the_model_is_imported_into_relax_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from snnc.frontend import relax_import

    calls = []
    real = relax_import.from_onnx

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(relax_import, "from_onnx", counting)
    imported = import_onnx(graph_to_onnx(conv_net(), "primitive"))
    assert len(calls) == 1
    assert [lay.name for lay in imported.graph.layers] == [lay.name for lay in conv_net().layers]


def test_every_composite_names_the_match_it_was_read_from() -> None:
    from snnc.frontend.match import MATCH_ATTR
    from snnc.frontend.relax_import import import_raised

    model = graph_to_onnx(conv_net(), "primitive")
    raised = import_raised(model, [1, 2, 3])  # the state inputs follow the data input
    kinds = [(str(raised.module[gv].attrs["Composite"]),
              raised.matches[int(raised.module[gv].attrs[MATCH_ATTR])].kind)
             for _, gv in composites(raised.module)]
    assert kinds and all(a == b for a, b in kinds)
    assert len({int(raised.module[gv].attrs[MATCH_ATTR])
                for _, gv in composites(raised.module)}) == len(kinds)
