"""QNN-mapped stages on the MCU: counted during snnc_step, run once in snnc_finish on the dense
int8 kernel, SNN stages behind them stepped there; bit-exact with the mixed-schedule reference
on the host (ASan/UBSan) and under QEMU."""

from __future__ import annotations

import numpy as np
import pytest
from testkit.mcu_helpers import M4, assert_same_trace, prepare
from testkit.mixed_nets import mixed_conv, mixed_mlp

from snnc.backends.mcu import simulate
from snnc.backends.mcu.lower import lower
from snnc.errors import ToolchainError
from snnc.ir.layers import Graph
from snnc.passes.snn_to_qnn import convert_quantized
from snnc.reference.integer import run_quantized

# every stage alone and mixes of them; the broad sweep runs in `make test-slow`
MAPPINGS = [("n0",), pytest.param(("n1",), marks=pytest.mark.slow),
            pytest.param(("n2",), marks=pytest.mark.slow), ("n0", "n2"),
            pytest.param(("n0", "n1", "n2"), marks=pytest.mark.slow)]


def _inputs(graph: Graph, batch: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((batch, *graph.input.shape)).astype(np.float32)


@pytest.mark.needs("gcc")
@pytest.mark.parametrize("encoding", ["rate", "direct"])
@pytest.mark.parametrize("names", MAPPINGS)
def test_host_runs_qnn_stages_once_and_equals_the_mixed_reference(names, encoding, tmp_path):
    graph = mixed_mlp(4, encoding=encoding)
    x = _inputs(graph, 5, 1)
    qg, drive = prepare(graph, x, graph.timesteps)
    mixed = convert_quantized(qg, names)
    want = run_quantized(mixed, drive)
    got = simulate(mixed, M4, drive, runner="host", work_dir=tmp_path, sanitize=True)
    assert_same_trace(got, want)
    snn = run_quantized(qg, drive)
    assert sorted(want.v) == sorted(n for n in snn.v if n not in names)


@pytest.mark.needs("gcc")
@pytest.mark.parametrize("names", [("s0",), ("s1",), ("s0", "s1")])
def test_host_runs_a_qnn_convolution_behind_pooling(names, tmp_path):
    graph = mixed_conv(2)
    qg, drive = prepare(graph, _inputs(graph, 3, 5), graph.timesteps)
    mixed = convert_quantized(qg, names)
    got = simulate(mixed, M4, drive, runner="host", work_dir=tmp_path, sanitize=True)
    assert_same_trace(got, run_quantized(mixed, drive))


@pytest.mark.needs("arm-none-eabi-gcc", "qemu")
def test_qemu_runs_the_mixed_schedule_exactly(tmp_path):
    graph = mixed_mlp(9)
    qg, drive = prepare(graph, _inputs(graph, 4, 3), graph.timesteps)
    mixed = convert_quantized(qg, ("n0", "n2"))
    got = simulate(mixed, M4, drive, runner="qemu", work_dir=tmp_path)
    assert_same_trace(got, run_quantized(mixed, drive))


def test_qnn_stage_reads_int8_counts_through_the_smlad_dense_kernel():
    graph = mixed_mlp(1)
    qg, _ = prepare(graph, _inputs(graph, 2, 0), graph.timesteps)
    prog = lower(convert_quantized(qg, ("n0", "n1")), M4.name)
    once = [c for c in prog.calls if c.segment == 1]
    assert [c.fn for c in once if c.fn.startswith("snnc_dense")] == ["snnc_dense_s8_s32"] * 2
    step = [c.fn for c in prog.calls if c.segment == 0]
    assert step == ["snnc_add_s8_s8"]  # phase 0 only counts the input spikes
    assert prog.segments == 3 and prog.output_once is False


@pytest.mark.needs("gcc")
def test_finish_refuses_a_run_of_other_than_the_compiled_steps(tmp_path):
    graph = mixed_mlp(3)
    x = _inputs(graph, 1, 0)
    qg, drive = prepare(graph, x, graph.timesteps)
    mixed = convert_quantized(qg, ("n1",))
    with pytest.raises(ToolchainError):  # snnc_finish returns SNNC_ERR_STEPS: model error
        simulate(mixed, M4, drive[:5], runner="host", work_dir=tmp_path, sanitize=False)
    assert "return SNNC_ERR_STEPS;" in (tmp_path / "mcu" / "model.c").read_text()
