"""The exporter matrix: every ONNX file the frameworks wrote (``tests/fixtures/matrix``) through
snnc, one row each.

Per cell (framework x neuron x net x exporter, see ``tests/fixtures/matrix.py``):

1. ``snnc.frontend.onnx.import_onnx`` of the file as exported: either a layer graph, or the
   one-line refusal (an ``snnc.errors`` message naming the construct);
2. the float reference (``run_graph``) on the recorded input, taken exactly as the exported graph
   takes it (``[T, B, ...]``, batch-first ``[B, T, ...]`` or squeezed ``[B*T, ...]``), against
   onnxruntime's output on the exported graph, every step and every output, bit for bit
   (onnxruntime is what the file means; where it differs from the framework, e.g. Sinabs' in-graph
   float constants, the table says so);
3. unless ``--no-targets``: the integer reference of ``cortex-m4``, ``loihi2`` and
   ``spinnaker2`` against the artifact each backend builds and runs (host binary, Lava,
   layout simulator), bit for bit, as the differential tests do.

Prints a table, writes ``benchmarks/results/exporters.json`` and the table between the markers in
``docs/onnx-exporters.md``; ``--coverage`` prints only the coverage sentence.

    .venv/bin/python benchmarks/exporters.py [--no-targets] [--only PREFIX ...] [--jobs N]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MATRIX = ROOT / "tests" / "fixtures" / "matrix"
RESULTS = ROOT / "benchmarks" / "results" / "exporters.json"
DOC = ROOT / "docs" / "onnx-exporters.md"
BEGIN, END = "<!-- matrix:begin -->", "<!-- matrix:end -->"
TARGETS = (("cortex-m4", "host"), ("loihi2", "lava"), ("spinnaker2", "spinnaker2"))


def drive_of(graph: Any, x: np.ndarray) -> np.ndarray:
    """The recorded input as (steps, batch, ...) by the graph's recovered layout."""
    from snnc.frontend.timeline import layouts, to_steps

    found = layouts(graph.layout)
    if found is None:
        return x
    inp, _, steps = found
    return to_steps(x, inp, steps)


def as_exported(graph: Any, y: np.ndarray) -> np.ndarray:
    from snnc.frontend.timeline import from_steps, layouts

    found = layouts(graph.layout)
    return y if found is None else from_steps(y, found[1])


def check_cell(name: str, targets: bool = True) -> dict[str, Any]:
    """One row: ``status`` is ``exact``, ``mismatch``, ``refused`` or ``target-mismatch``."""
    from snnc import api
    from snnc.errors import SnncError, UnsupportedError
    from snnc.frontend.onnx import import_onnx
    from snnc.reference.simulate import run_graph

    with np.load(MATRIX / f"{name}.npz") as data:
        x, ort_out, framework = data["x"], data["ort"], data["framework"]
    row: dict[str, Any] = {"ort_equals_framework": bool(np.array_equal(ort_out, framework))}
    start = time.perf_counter()
    try:
        graph = import_onnx(MATRIX / f"{name}.onnx").graph
    except SnncError as exc:
        row.update(status="refused", reason=" ".join(str(exc).split()))
        return row
    row["layers"] = [layer.kind for layer in graph.layers[1:]]
    row["import_s"] = round(time.perf_counter() - start, 3)
    drive = drive_of(graph, x)
    out = as_exported(graph, run_graph(graph, drive).output)
    exact = out.shape == ort_out.shape and bool(np.array_equal(out, ort_out))
    row["float_exact"] = exact
    row["float_equals_framework"] = bool(out.shape == framework.shape
                                         and np.array_equal(out, framework))
    if not exact:
        row.update(status="mismatch",
                   reason=f"{int(np.sum(out != ort_out)) if out.shape == ort_out.shape else -1}"
                          " output values differ from onnxruntime")
        return row
    row["status"] = "exact"
    if not targets:
        return row
    row["targets"] = {}
    for target, runner in TARGETS:
        try:
            want = api.simulate(graph, drive, target=target, backend="reference").output
            got = api.simulate(graph, drive, target=target, backend=runner).output
            ok = bool(np.array_equal(want, got))
            row["targets"][target] = "exact" if ok else "mismatch"
        except UnsupportedError as exc:  # the target cannot run a layer (named in the text)
            row["targets"][target] = f"unsupported: {' '.join(str(exc).split())[:160]}"
        except SnncError as exc:
            row["targets"][target] = f"error: {' '.join(str(exc).split())[:160]}"
        if row["targets"][target] not in ("exact",) and not row["targets"][target].startswith(
                "unsupported"):
            row["status"] = "target-mismatch"
    return row


def _check(job: tuple[str, bool]) -> dict[str, Any]:
    return check_cell(*job)


def cells() -> list[str]:
    return sorted(p.stem for p in MATRIX.glob("*.onnx"))


def _target_state(row: dict[str, Any]) -> str:
    """``all`` (bit-exact on every target), ``unsupported`` (a target refuses a layer, the
    others bit-exact) or ``mismatch``."""
    states = list(row.get("targets", {}).values())
    if any(not (t == "exact" or str(t).startswith("unsupported")) for t in states):
        return "mismatch"
    return "unsupported" if any(str(t).startswith("unsupported") for t in states) else "all"


def coverage(rows: dict[str, dict[str, Any]]) -> tuple[int, int]:
    passed = sum(r["status"] in ("exact", "target-mismatch") and r.get("float_exact", False)
                 for r in rows.values())
    return passed, len(rows)


def table(rows: dict[str, dict[str, Any]], manifest: dict[str, Any]) -> str:
    lines = ["| framework | neuron | net | exporter | input | float reference vs onnxruntime "
             "| integer targets |", "|---|---|---|---|---|---|---|"]
    entries = manifest["cells"]
    for name in sorted(entries):
        cell = entries[name]
        layout = {"TB": "[T, B, ...]", "BT": "[B, T, ...]", "(BT)": "[B*T, ...]"}[cell["layout"]]
        targets = ""
        if "export_error" in cell:
            result = f"not exportable ({cell['export_error'][:70]})"
        else:
            row = rows.get(name)
            if row is None:
                continue
            if row.get("float_exact"):
                result = "exact"
                if not row["ort_equals_framework"]:
                    result += " (onnxruntime differs from the framework: compared with it)"
                state = _target_state(row) if "targets" in row else ""
                targets = {"all": "exact on all three", "": "",
                           "mismatch": "MISMATCH: " + "; ".join(
                               f"{t}: {v}" for t, v in row["targets"].items() if v != "exact"),
                           "unsupported": "; ".join(
                               f"{t}: {v}" for t, v in row["targets"].items()
                               if v != "exact")}[state]
            else:
                result = ("refused: " if row["status"] == "refused" else "MISMATCH: ") + \
                    row.get("reason", "")[:150]
        lines.append(f"| {cell['framework']} | {cell['neuron']} | {cell['net']} | "
                     f"{cell['exporter']} | {layout} | {result.replace('|', '/')} | "
                     f"{targets.replace('|', '/')[:170]} |")
    return "\n".join(lines)


def sentence(rows: dict[str, dict[str, Any]], targets: bool) -> str:
    passed, total = coverage(rows)
    text = (f"{passed} of {total} exported files ({100 * passed / max(total, 1):.1f} %) "
            f"simulate bit-exact in the float reference against onnxruntime on the exported "
            f"graph; {total - passed} are refused with one line naming the construct.")
    if targets:
        exact = [r for r in rows.values() if r.get("float_exact") and "targets" in r]
        every = sum(_target_state(r) == "all" for r in exact)
        refused = sum(_target_state(r) == "unsupported" for r in exact)
        wrong = sum(_target_state(r) == "mismatch" for r in exact)
        text += (f" Of those, {every} run bit-exact (backend against integer reference) on "
                 f"cortex-m4, loihi2 and spinnaker2; {refused} are refused by a target for a "
                 f"layer it cannot map (named in the table) and run bit-exact on the others; "
                 f"{wrong} differ.")
    return text


def write_doc(rows: dict[str, dict[str, Any]], manifest: dict[str, Any], targets: bool) -> None:
    text = DOC.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    body = f"{sentence(rows, targets)}\n\n{table(rows, manifest)}\n"
    DOC.write_text(f"{head}{BEGIN}\n{body}{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-targets", action="store_true", help="float reference only")
    parser.add_argument("--only", nargs="*", default=[], help="cells starting with these")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite the doc")
    parser.add_argument("--jobs", type=int, default=1, help="cells checked in parallel")
    parser.add_argument("--merge", action="store_true",
                        help="with --only: update these cells in the saved results and doc")
    parser.add_argument("--from-results", action="store_true",
                        help="rewrite the doc from benchmarks/results/exporters.json")
    args = parser.parse_args(argv)
    manifest = json.loads((MATRIX / "MANIFEST.json").read_text())
    if args.from_results:
        saved = json.loads(RESULTS.read_text())
        print(sentence(saved["cells"], saved["targets"]))
        write_doc(saved["cells"], manifest, saved["targets"])
        return 0
    names = [n for n in cells() if not args.only or any(n.startswith(o) for o in args.only)]
    rows: dict[str, dict[str, Any]] = {}
    jobs = [(name, not args.no_targets) for name in names]
    with multiprocessing.get_context("spawn").Pool(max(args.jobs, 1)) as pool:
        for name, row in zip(names, pool.imap(_check, jobs), strict=True):
            rows[name] = row
            print(f"{name:55s} {row['status']:16s} {row.get('reason', '')[:110]}", flush=True)
    print(sentence(rows, not args.no_targets))
    if args.only and args.merge:
        saved = json.loads(RESULTS.read_text())
        saved["cells"].update(rows)
        RESULTS.write_text(json.dumps(saved, indent=2, sort_keys=True) + "\n")
        if not args.no_doc:
            write_doc(saved["cells"], manifest, saved["targets"])
        print(sentence(saved["cells"], saved["targets"]))
    if not args.only:
        RESULTS.write_text(json.dumps({"manifest_versions": manifest["versions"],
                                       "targets": not args.no_targets, "cells": rows},
                                      indent=2, sort_keys=True) + "\n")
        if not args.no_doc:
            write_doc(rows, manifest, not args.no_targets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
