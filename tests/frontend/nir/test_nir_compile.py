"""NIR files written by snnTorch, Norse and Sinabs compile for every target."""

from __future__ import annotations

from pathlib import Path

import pytest

from snnc import api
from snnc.frontend.nir import load_nir

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
# (file, NIR reading): real exports from each framework.
WRITTEN_BY = {
    "snntorch": ("frameworks/snntorch_rleaky.nir", "snntorch"),
    "snntorch-paper": ("nir/braille_noDelay_bias_zero.nir", "nir"),
    "norse": ("nir/lif_norse.nir", "nir"),
    "norse-lifcell": ("frameworks/norse_lifcell.nir", "norse"),
    "sinabs": ("frameworks/sinabs_iaf.nir", "sinabs"),
}
TARGETS = ["loihi2", "cortex-m4", "spinnaker2"]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("framework", sorted(WRITTEN_BY))
def test_framework_nir_export_compiles(framework: str, target: str, tmp_path: Path) -> None:
    path, reading = WRITTEN_BY[framework]
    graph = load_nir(FIXTURES / path, reading)
    result = api.compile(graph, target, tmp_path)
    assert result.artifact.files
    assert all((result.artifact.out_dir / f).is_file() for f in result.artifact.files)


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS)
def test_sinabs_paper_cnn_compiles(target: str, tmp_path: Path) -> None:
    # The N-MNIST CNN of the NIR paper (Conv2d, IF, SumPool2d): about a minute on Loihi.
    graph = load_nir(FIXTURES / "nir" / "cnn_sinabs.nir")
    assert api.compile(graph, target, tmp_path).artifact.files
