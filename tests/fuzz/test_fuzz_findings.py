"""Bugs the fuzzers found, each pinned by the smallest case that showed it.

- Dead-neuron elimination removed output channels of a grouped convolution, leaving a conv
  whose output channels no longer split into its groups (the float reference then failed
  with a numpy broadcasting error). Grouped convs now keep their channels, and a Conv2d whose
  output channels do not split into its groups is a ShapeError.
- A NIR time constant shorter than the step gave decay rates above 1 (forward Euler diverges);
  such a file is now refused, naming the time constant and suggesting a smaller ``--dt``.
- A finite NIR threshold divided by small input gains overflowed with numpy's
  RuntimeWarning; the conversion now runs under ``numpy.errstate`` and the inf is refused.
- A NIR file with one byte changed (``regressions/hdf5_loops.nir``, found by atheris) made
  libhdf5 loop for minutes inside ``nir.read``; the isolated reader now has a processor-time
  cap and a deadline.
"""

from __future__ import annotations

import os
from pathlib import Path

import nir
import numpy as np
import pytest

import snnc.frontend.nir.read as nir_reader
from snnc.errors import InputError, InvalidModelError, ShapeError
from snnc.frontend.nir import NirSemantics, nir_to_graph
from snnc.ir.layers import LIF, Conv2d, Dense, Flatten, Graph, Input
from snnc.passes.pipeline import optimize
from snnc.reference.encode import encode
from snnc.reference.simulate import run_graph
from snnc.target import load_target

F32 = np.float32


def grouped_conv_net() -> Graph:
    """Conv with 2 groups whose last output channel can never fire (zero weights)."""
    weight = np.ones((4, 1, 1, 1), F32)
    weight[3] = 0.0
    return Graph((
        Input("img", (), shape=(2, 3, 3)),
        Conv2d("conv", ("img",), weight=weight, groups=2),
        LIF("lif", ("conv",), beta=F32(0.5), threshold=F32(0.5)),
        Flatten("flat", ("lif",)),
        Dense("fc", ("flat",), weight=np.full((2, 36), 0.2, F32)),
        LIF("out", ("fc",), beta=F32(0.5), threshold=F32(0.5)),
    ), output="out", timesteps=3)


@pytest.mark.parametrize("target", ["cortex-m4", "spinnaker2", "loihi2"])
def test_dead_channel_of_a_grouped_conv_survives_the_pipeline(target: str) -> None:
    graph = grouped_conv_net()
    x = np.random.default_rng(0).uniform(0.5, 1.0, (3, 2, 3, 3)).astype(F32)
    optimized = optimize(graph, load_target(target), calib=x)
    assert optimized.layer("conv").weight.shape == (4, 1, 1, 1)
    drive = encode(x, graph.timesteps, graph.encoding, graph.input.shape)
    assert np.array_equal(run_graph(optimized, drive).output, run_graph(graph, drive).output)


def test_conv_whose_channels_do_not_split_into_groups_is_a_shape_error() -> None:
    with pytest.raises(ShapeError, match="3 output channels do not split into 2 groups"):
        Graph((Input("img", (), shape=(2, 3, 3)),
               Conv2d("conv", ("img",), weight=np.ones((3, 1, 1, 1), F32), groups=2),
               LIF("lif", ("conv",))), output="lif")


def test_nir_time_constant_shorter_than_the_step_is_refused() -> None:
    lif = nir.LIF(tau=np.array([1e-5]), r=np.ones(1), v_leak=np.zeros(1),
                  v_threshold=np.ones(1))
    graph = nir.NIRGraph.from_list(nir.Input(input_type={"input": np.array([1])}), lif,
                                   type_check=False)
    with pytest.raises(InvalidModelError, match=r"tau = 1e-05 s is shorter than the step"):
        nir_to_graph(graph, NirSemantics(dt=1e-4))
    assert nir_to_graph(graph, NirSemantics(dt=1e-5)).neurons()


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_nir_threshold_overflowing_in_the_conversion_is_refused_without_a_numpy_warning() -> None:
    n = 3
    cuba = nir.CubaLIF(tau_syn=np.full(n, 2e-3), tau_mem=np.full(n, 2e-3), r=np.ones(n),
                       v_leak=np.zeros(n), v_threshold=np.full(n, 1e308), w_in=np.full(n, 1e-3))
    graph = nir.NIRGraph.from_list(
        nir.Input(input_type={"input": np.array([4])}),
        nir.Affine(weight=np.ones((n, 4)), bias=np.zeros(n)), cuba, type_check=False)
    # 1e308 divided by the input gains (5e-5 and 0.05) is beyond even float64
    with pytest.raises(InvalidModelError, match="threshold holds NaN or inf"):
        nir_to_graph(graph, NirSemantics(dt=1e-4))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the reader's limits need os.fork")
def test_nir_file_that_makes_hdf5_loop_is_refused_in_bounded_time(monkeypatch) -> None:
    monkeypatch.setattr(nir_reader, "READ_CPU_SECONDS", 2)  # the shipped limit is 10 s
    with pytest.raises(InputError, match="more than 2 s of processor time"):
        nir_reader.load_nir(Path(__file__).parent / "regressions" / "hdf5_loops.nir")
