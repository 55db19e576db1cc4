"""The imported Relax module: one named snn.* composite per layer and the step contract."""

from __future__ import annotations

import numpy as np
import pytest
from tvm import relax

from snnc.frontend.onnx import import_onnx
from snnc.frontend.relax_import import composites
from snnc.ir.layers import LIF, Add, Conv2d, CubaLIF, Dense, Flatten, Graph, Input, Pool2d
from snnc.ir.relax_view import graph_from_module
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


def test_main_carries_the_step_contract_and_reads_back_to_the_layer_view() -> None:
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
    again = graph_from_module(imported.module)
    assert [lay.name for lay in again.layers] == [lay.name for lay in graph.layers]
