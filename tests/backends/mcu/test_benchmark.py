"""benchmarks/mcu.py runs end to end on a small layer and reports a consistent crossover."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "mcu.py"


@pytest.mark.needs("gcc", "valgrind")
def test_quick_benchmark_reports_costs_and_a_confirmed_crossover(tmp_path):
    out = tmp_path / "mcu.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--no-qemu", "--out",
                           str(out)], capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "instructions per MAC" in proc.stdout
    host = json.loads(out.read_text())["host_callgrind_x86_64_O2"]
    assert host["dense_instructions_per_mac"] > 0
    rates = json.loads(out.read_text())["config"]["rates"]
    dense = host["instructions_per_step"]["dense"]
    assert max(dense) == min(dense)  # the dense kernel ignores the input values
    for kernel in ("event", "event-csr"):
        res = host[kernel]
        assert res["instructions_per_synaptic_event"] > 0
        assert res["cheaper_than_dense_below_crossover"]
        for rate, cost in zip(rates, host["instructions_per_step"][kernel], strict=True):
            assert (cost < dense[0]) == (rate < res["crossover_rate"])
