"""Differential fuzzing of the vendor-simulated backends: Xylo (xylosim) and Akida (akida).

Random dense spiking nets (:mod:`fuzz_nets`, the ``mlp`` family: LIF, IF, CubaLIF and
multi-level layers, recurrence, residual adds, biases, integer extremes) are quantized for each
target, run by the integer reference and by the vendor's simulator on the emitted artifact,
and compared bit for bit (outputs, every layer's spikes, and on Xylo every membrane). A net may
be refused only before emitting: for Xylo a layer without a Xylo form or too many inputs or
neurons; for Akida a stage without a QNN twin (recurrence, a residual add, multi-level layers,
direct-encoded inputs, T > 15, per-neuron thresholds) or a model AKD1000 cannot map. Akida's
twins are lowered with ``--mapping qnn`` semantics (approximate twins accepted), since the
comparison is between the twin reference and Akida, not with the SNN.

``make fuzz`` (hypothesis profile ``fuzz``) runs 1000 nets per backend; ``make test`` a small
deterministic sample.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import pytest
from fuzz.test_differential_fuzz import budget
from hypothesis import assume, event, given
from testkit.fuzz_nets import FuzzCase, Recipe, build, recipes
from testkit.traces import assert_equal_runs

from snnc.backends import get_backend
from snnc.errors import QuantizationError, ResourceError, UnsupportedError
from snnc.passes.stateless import lower_stateless
from snnc.reference.integer import run_quantized
from snnc.target import load_target

TARGETS = {name: load_target(name) for name in ("xylo-audio2", "akida1")}
RUNNERS = {"xylo-audio2": "xylosim", "akida1": "akida"}


def xylo_sized(r: Recipe) -> Recipe:
    """A recipe within Xylo's reach: at most 16 inputs and 8 output neurons (a read-out
    layer), integrate-and-fire neurons."""
    return replace(r, width=min(r.width, 16), hidden=(*r.hidden[:-1], min(r.hidden[-1], 8)),
                   neurons=tuple("cuba" if n == "levels" else n for n in r.neurons))


def akida_sized(r: Recipe) -> Recipe:
    """A recipe with QNN twins everywhere: spike inputs, T <= 15, a feed-forward chain of
    single-threshold neuron layers (no multi-level or graded layers: they have no twin)."""
    return replace(r, encoding="rate", steps=min(r.steps, 15), recurrent=False,
                   residual=False, variant=r.variant & ~1,
                   neurons=tuple("if" if n in ("levels", "graded") else n for n in r.neurons))


def vendor_differential(case: FuzzCase, target: str) -> bool:
    """Reference vs vendor simulator for ``case``; False if the net was refused (allowed
    reasons only, before anything was emitted)."""
    t = TARGETS[target]
    backend = get_backend(t.backend)
    try:
        qg = case.quantized(t)
        if t.numeric.execution == "qnn":
            qg = lower_stateless(qg, "qnn")
        backend.resources(qg, t)
    except (ResourceError, UnsupportedError) as error:
        event(f"{target}: refused ({type(error).__name__})")
        return False
    except QuantizationError as error:
        assert target == "akida1" and "32 bits" in str(error), f"{target}: {error}"
        event(f"{target}: refused (twin bias)")
        return False
    drive = case.drive()
    want = run_quantized(qg, drive)
    with tempfile.TemporaryDirectory(prefix="snnc-fuzz-") as work:
        got = backend.simulate(qg, t, drive, RUNNERS[target], Path(work))
    assert_equal_runs(want, got, f"{target} {case.recipe}")
    event(f"{target}: compared")
    return True


@pytest.mark.needs("xylosim")
@budget(1.0, 4)
@given(recipes(("mlp",)).map(xylo_sized).map(build))
def test_dense_nets_equal_the_reference_on_xylosim(case) -> None:
    assume(vendor_differential(case, "xylo-audio2"))


@pytest.mark.needs("akida")
@budget(1.0, 4)
@given(recipes(("mlp",)).map(akida_sized).map(build))
def test_dense_nets_equal_the_reference_on_akida(case) -> None:
    assume(vendor_differential(case, "akida1"))
