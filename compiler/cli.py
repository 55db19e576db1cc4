"""The ``snnc`` command line: parse, call the API, print. User errors exit with status 2.

Examples::

    snnc inspect model.onnx
    snnc simulate model.onnx --input x.npy --steps 8 --output out.npz
    snnc compile model.onnx --target loihi -o out/
    snnc simulate model.onnx --target cortex-m4 --backend qemu --input x.npy --output o.npz
    snnc report model.onnx --target spinnaker2 --calib x.npy -o report/
"""

from __future__ import annotations

import functools
import json
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from snnc import api
from snnc.errors import InputError, SnncError
from snnc.ir.layers import LIF, CubaLIF, Graph, Layer, MultiLevelSpike, SpikingSelfAttention
from snnc.outputs import save_npz_atomic
from snnc.target import list_targets

app = typer.Typer(
    name="snnc",
    help="Compile spiking neural networks (ONNX / NIR) for Loihi, Cortex-M and SpiNNaker-2.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=True,
)
out = Console(highlight=False, soft_wrap=True)
if not out.is_terminal:
    out.width = 140  # tables piped to a file or a log keep their columns
err = Console(stderr=True, highlight=False, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])
_state = {"debug": False, "quiet": False, "verbose": False}


def user_errors(func: F) -> F:
    """Map every :class:`SnncError` to one line on stderr and exit status 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SnncError as exc:
            if _state["debug"]:
                traceback.print_exc()
            message = " ".join(str(exc).split())
            err.print(f"error: {message}", markup=False)
            raise typer.Exit(code=exc.exit_code) from None

    return wrapper  # type: ignore[return-value]


@app.callback()
def main_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Print every stage.")] = False,
) -> None:
    """snnc: one spiking model in, hardware artifacts out."""
    _state.update(debug=debug, quiet=quiet, verbose=verbose)


@contextmanager
def progress(title: str) -> Iterator[Callable[[str], None]]:
    """Stage reporting: a live status line on a terminal, plain lines with --verbose,
    nothing with --quiet or when stderr is not a terminal."""
    if _state["verbose"]:
        yield lambda stage: err.print(f"{title}: {stage}", markup=False)
    elif _state["quiet"] or not err.is_terminal:
        yield lambda stage: None
    else:
        with err.status(title) as status:
            yield lambda stage: status.update(f"{title}: {stage}")


def _examples(*lines: str) -> str:
    """A --help epilog; ``\\b`` keeps click from re-wrapping the command lines."""
    return "Examples:\n\n\b\n" + "\n".join(f"  {line}" for line in lines)


ModelArg = Annotated[Path, typer.Argument(help="Model file (.onnx or .nir).")]
TargetOpt = Annotated[str, typer.Option("--target", "-t", help="Target name, alias or .toml path.")]
CalibOpt = Annotated[Path | None, typer.Option("--calib", help="Calibration inputs (.npy).")]
MappingOpt = Annotated[str, typer.Option("--mapping", help="Per-layer mapping: snn, qnn or auto.")]
ToleranceOpt = Annotated[float, typer.Option(
    "--mapping-tolerance",
    help="--mapping auto: least agreement of the answers on the calibration data a QNN twin "
         "may cost (1 = identical).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
InputOpt = Annotated[Path, typer.Option(
    "--input", "-i", help="(batch x inputs) or (steps x batch x inputs) array (.npy).")]
StepsOpt = Annotated[int | None, typer.Option("--steps", "-T", help="Timesteps (default: model).")]
TraceOpt = Annotated[Path | None, typer.Option("--output", "-o", help="Write the trace (.npz).")]
SimTargetOpt = Annotated[str | None, typer.Option(
    "--target", "-t", help="Use this target's integer semantics.")]
BackendOpt = Annotated[str, typer.Option(
    "--backend", "-b",
    help="reference, host, qemu, lava or spinnaker2 (with --target); exported (without).")]
LabelsOpt = Annotated[Path | None, typer.Option("--labels", help="Class labels (.npy): accuracy.")]
OutDirOpt = Annotated[Path, typer.Option("--out", "-o", help="Output directory.")]
ReportDirOpt = Annotated[Path | None, typer.Option(
    "--out", "-o", help="Also write report.md, report.json and plots here.")]
NirOpt = Annotated[str | None, typer.Option(
    "--nir-semantics",
    help="How to read a .nir file: nir, snntorch, spikingjelly, sinabs or norse.")]
DtOpt = Annotated[float | None, typer.Option("--dt", help="Seconds per step for .nir files.")]
PruneOpt = Annotated[float | None, typer.Option("--prune", help="Magnitude pruning threshold.")]


def _calib(path: Path | None) -> np.ndarray | None:
    return None if path is None else api.load_array(path, "calibration")


def _neuron_summary(layer: Layer) -> str:
    if isinstance(layer, LIF):
        return (f"beta={_num(layer.beta)} theta={_num(layer.threshold)} reset={layer.reset}"
                f"/{layer.reset_timing} {'>=' if layer.compare == 'ge' else '>'}")
    if isinstance(layer, CubaLIF):
        return (f"du={_num(layer.current_decay)} dv={_num(layer.voltage_decay)} "
                f"theta={_num(layer.threshold)} reset={layer.reset}")
    if isinstance(layer, MultiLevelSpike):
        how = (f"theta={layer.theta}" if layer.axis is None
               else f"alpha={layer.alpha} axis={layer.axis}")
        return f"levels={layer.levels} {how}"
    if isinstance(layer, SpikingSelfAttention):
        return f"heads={layer.heads} scale={layer.scale:g} gammas={_num(layer.gammas)}"
    if getattr(layer, "recurrent", False):
        return "recurrent"
    return ""


def _num(value: Any) -> str:
    arr = np.asarray(value)
    if arr.size == 1:
        return f"{float(arr.reshape(-1)[0]):.4g}"
    return f"[{arr.size} values, {float(arr.min()):.3g}..{float(arr.max()):.3g}]"


def _support(graph: Graph) -> dict[str, dict[str, str]]:
    """Per target and layer: "yes" or the reason it cannot run there."""
    from snnc.backends import get_backend

    result: dict[str, dict[str, str]] = {}
    for target in api.targets_for("all"):
        backend = get_backend(target.backend)
        result[target.name] = {layer.name: backend.unsupported(layer) or "yes"
                               for layer in graph.layers}
    return result


@app.command(epilog=_examples(
    "snnc inspect model.onnx",
    "snnc inspect model.nir --nir-semantics snntorch --json",
    "snnc inspect model.onnx --relax",
))
@user_errors
def inspect(
    model: ModelArg,
    nir_semantics: NirOpt = None,
    dt: DtOpt = None,
    as_json: JsonOpt = False,
    relax: Annotated[bool, typer.Option("--relax", help="Print the Relax module (ONNX).")] = False,
) -> None:
    """Print layers, shapes, parameter counts, neuron parameters and per-target support."""
    if relax:
        from snnc.frontend.onnx import import_onnx

        if model.suffix.lower() != ".onnx":
            raise InputError("--relax needs an .onnx model")
        out.print(import_onnx(model).module.script(), markup=False)
        return
    graph = api.load(model, nir_semantics, dt)
    support = _support(graph)
    rows = []
    for layer in graph.layers:
        rows.append({
            "name": layer.name, "kind": layer.kind, "inputs": list(layer.inputs),
            "shape": list(graph.shape(layer.name)), "params": layer.parameter_count(),
            "neuron": _neuron_summary(layer),
            "support": {t: support[t][layer.name] for t in sorted(support)},
        })
    if as_json:
        out.print(json.dumps({"model": graph.name, "timesteps": graph.timesteps,
                              "encoding": graph.encoding, "output": graph.output,
                              "parameters": graph.parameter_count(), "layers": rows},
                             indent=2, sort_keys=True), markup=False)
        return
    table = Table(title=f"{graph.name}: T={graph.timesteps}, encoding={graph.encoding}, "
                        f"{graph.parameter_count()} parameters, output '{graph.output}'")
    for col in ("layer", "kind", "shape", "params", "neuron / synapse"):
        table.add_column(col)
    for target in sorted(support):
        table.add_column(target)
    for row in rows:
        table.add_row(row["name"], row["kind"], "x".join(map(str, row["shape"])),
                      str(row["params"]), row["neuron"],
                      *[row["support"][t] for t in sorted(support)])
    out.print(table)


@app.command(epilog=_examples(
    "snnc simulate model.onnx -i x.npy --steps 8 -o trace.npz",
    "snnc simulate model.onnx -i x.npy --labels y.npy",
    "snnc simulate model.onnx -b exported -i x.npy --labels y.npy",
    "snnc simulate model.onnx -t cortex-m4 -b qemu -i x.npy -o qemu.npz",
    "snnc simulate model.onnx -t loihi2 -b lava -i x.npy -o lava.npz",
    "snnc simulate model.onnx -t spinnaker2 -b spinnaker2 -i x.npy",
))
@user_errors
def simulate(
    model: ModelArg,
    input: InputOpt,
    nir_semantics: NirOpt = None,
    dt: DtOpt = None,
    steps: StepsOpt = None,
    output: TraceOpt = None,
    target: SimTargetOpt = None,
    backend: BackendOpt = "reference",
    labels: LabelsOpt = None,
    calib: CalibOpt = None,
    mapping: MappingOpt = "auto",
    mapping_tolerance: ToleranceOpt = 1.0,
) -> None:
    """Run the model and print output spike counts (float reference unless --target is given;
    `--backend exported` runs an ONNX model's graph as exported, in the framework's float
    arithmetic)."""
    x = api.load_array(input, "input")
    if steps is not None and steps < 1:
        raise InputError("--steps must be at least 1")
    with progress("simulate") as log:
        log(f"read {model.name}")
        if backend == "exported":
            if target is not None:
                raise InputError("--backend exported runs the model as exported: no --target")
            trace = api.simulate_exported(model, x, steps=steps, log=log)
        else:
            graph = api.load(model, nir_semantics, dt)
            trace = api.simulate(graph, x, steps=steps, target=target, backend=backend,
                                 calib=_calib(calib), mapping=mapping, log=log,
                                 tolerance=mapping_tolerance)
    counts = trace.spike_counts().reshape(trace.output.shape[1], -1)
    mode = ("as exported" if backend == "exported" else
            "float reference" if target is None else f"{target} / {backend}")
    out.print(f"{mode}: {trace.output.shape[0]} steps, batch {counts.shape[0]}, "
              f"total output {float(counts.sum()):g}")
    for i, row in enumerate(counts[:8]):
        out.print(f"  sample {i}: " + " ".join(f"{float(c):g}" for c in row))
    if counts.shape[0] > 8:
        out.print(f"  ... {counts.shape[0] - 8} more samples")
    if labels is not None:
        y = api.load_array(labels, "labels").reshape(-1)
        if y.shape[0] != counts.shape[0]:
            raise InputError(f"labels have {y.shape[0]} entries for a batch of {counts.shape[0]}")
        out.print(f"accuracy: {float(np.mean(api.predict(trace) == y)):.4f}")
    if output is not None:
        save_npz_atomic(output, trace.arrays())
        out.print(f"wrote {output}")


@app.command("compile", epilog=_examples(
    "snnc compile model.onnx --target loihi -o out/",
    "snnc compile model.onnx --target all --calib calib.npy -o out/",
    "snnc compile model.nir --target cortex-m7 --prune 0.05 -o out/",
))
@user_errors
def compile_cmd(
    model: ModelArg,
    nir_semantics: NirOpt = None,
    dt: DtOpt = None,
    target: TargetOpt = "all",
    out_dir: OutDirOpt = Path("out"),
    calib: CalibOpt = None,
    mapping: MappingOpt = "auto",
    prune: PruneOpt = None,
    mapping_tolerance: ToleranceOpt = 1.0,
) -> None:
    """Compile for one target (or `all`) into OUT/<backend>/, atomically: with `all`, either
    every target's folder is written or none is."""
    calib_x = _calib(calib)
    chosen = api.targets_for(target)
    with progress("compile") as log:
        log(f"read {model.name}")
        graph = api.load(model, nir_semantics, dt)
        results = api.compile_all(graph, chosen, out_dir, calib=calib_x, mapping=mapping,
                                  prune=prune, log=log, tolerance=mapping_tolerance)
    for result in results:
        out.print(f"{result.target.name}: wrote {result.artifact.out_dir}/ "
                  f"({len(result.artifact.files)} files)")


@app.command(epilog=_examples(
    "snnc report model.onnx --target spinnaker2 --calib x.npy -o report/",
    "snnc report model.onnx --target loihi2 --mapping snn --json",
    "snnc report model.onnx --target cortex-m4 --calib x.npy --measure -o report/",
))
@user_errors
def report(
    model: ModelArg,
    nir_semantics: NirOpt = None,
    dt: DtOpt = None,
    target: TargetOpt = "loihi2",
    out_dir: ReportDirOpt = None,
    calib: CalibOpt = None,
    mapping: MappingOpt = "auto",
    prune: PruneOpt = None,
    as_json: JsonOpt = False,
    mapping_tolerance: ToleranceOpt = 1.0,
    measure: Annotated[bool, typer.Option(
        "--measure", help="Also compile both mappings, run them on the target's executor and "
                          "report their measured cost (needs --calib).")] = False,
) -> None:
    """Per-layer SNN vs QNN energy, spike rates and crossover rates for a target."""
    from snnc.cost.report import render_json, render_markdown, write_report
    from snnc.outputs import atomic_dir

    with progress("report") as log:
        graph = api.load(model, nir_semantics, dt)
        cost = api.report(graph, target, calib=_calib(calib), mapping=mapping, prune=prune,
                          log=log, tolerance=mapping_tolerance, measure=measure)
    out.print(render_json(cost) if as_json else render_markdown(cost), markup=False)
    if out_dir is not None:
        with atomic_dir(out_dir) as tmp:
            write_report(cost, tmp)
        out.print(f"wrote {out_dir}")


@app.command()
@user_errors
def targets() -> None:
    """List the known targets (one TOML file each)."""
    table = Table(title="targets")
    for col in ("name", "backend", "aliases", "description"):
        table.add_column(col)
    for t in list_targets():
        table.add_row(t.name, t.backend, ", ".join(t.aliases), t.description)
    out.print(table)


@app.command(epilog=_examples(
    "snnc convert model.nir model.onnx --nir-semantics snntorch",
    "snnc convert model.onnx model.nir",
    "snnc convert model.onnx plain.onnx --form primitive",
))
@user_errors
def convert(
    source: Annotated[Path, typer.Argument(help="Model to read (.onnx or .nir).")],
    dest: Annotated[Path, typer.Argument(help="File to write (.onnx or .nir).")],
    nir_semantics: NirOpt = None,
    dt: DtOpt = None,
    form: Annotated[str, typer.Option(
        "--form", help="ONNX output: snnc (custom ops) or primitive (standard ops).")] = "snnc",
) -> None:
    """Convert between ONNX (snnc ops or primitive ops) and NIR."""
    from snnc.outputs import write_bytes_atomic

    if form not in ("snnc", "primitive"):
        raise InputError(f"--form must be snnc or primitive, not '{form}'")
    graph = api.load(source, nir_semantics, dt)
    if dest.suffix == ".onnx":
        from snnc.onnx_builder import graph_to_onnx

        write_bytes_atomic(dest, graph_to_onnx(graph, form=form).SerializeToString())
    elif dest.suffix == ".nir":
        from snnc.frontend.nir import save_nir

        if dt is None:
            save_nir(graph, dest)
        else:
            save_nir(graph, dest, dt=dt)
    else:
        raise InputError(f"cannot write '{dest.suffix}' files; use .onnx or .nir")
    out.print(f"wrote {dest}")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interactive only
        sys.exit(130)
