"""The ``snnc`` command line: parse, call the API, print. User errors exit with status 2.

Examples::

    snnc inspect model.onnx
    snnc simulate model.onnx --input x.npy --steps 8 --output out.npz
    snnc compile model.onnx --target loihi -o out/
    snnc simulate model.onnx --target cortex-m4 --backend qemu --input x.npy --output o.npz
    snnc report model.onnx --target spinnaker2 --calib x.npy -o report/
    snnc run out/mcu --port /dev/ttyACM0 -i x.npy -o board.npz
"""

from __future__ import annotations

import functools
import json
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from snnc import api
from snnc.backends import chosen_widths
from snnc.errors import InputError, SnncError, UnsupportedError
from snnc.heap import return_large_blocks
from snnc.ir.layers import LIF, CubaLIF, Graph, Layer, MultiLevelSpike, SpikingSelfAttention
from snnc.outputs import save_npz_atomic
from snnc.target import list_targets

if TYPE_CHECKING:
    from snnc.reference.simulate import Trace

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
    return_large_blocks()  # a board-size compile peaks at its largest temporary, not their sum


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
    help="reference, host, qemu, lava, spinnaker2, xylosim or akida (with --target); "
         "exported (without).")]
LabelsOpt = Annotated[Path | None, typer.Option("--labels", help="Class labels (.npy): accuracy.")]
OutDirOpt = Annotated[Path, typer.Option("--out", "-o", help="Output directory.")]
ReportDirOpt = Annotated[Path | None, typer.Option(
    "--out", "-o", help="Also write report.md, report.json and plots here.")]
NirOpt = Annotated[str | None, typer.Option(
    "--nir-semantics",
    help="How to read a .nir file: nir, snntorch, spikingjelly, sinabs or norse.")]
DtOpt = Annotated[float | None, typer.Option("--dt", help="Seconds per step for .nir files.")]
PruneOpt = Annotated[float | None, typer.Option("--prune", help="Magnitude pruning threshold.")]
HardwareTimingOpt = Annotated[bool, typer.Option(
    "--hardware-timing",
    help="Keep the target's raw schedule (outputs shifted by its latency) instead of model time.")]


def _calib(path: Path | None) -> np.ndarray | None:
    return None if path is None else api.load_array(path, "calibration")


def _input(path: Path, steps: int | None) -> np.ndarray:
    """The --input array of ``simulate`` and ``run``, once --steps is known to be usable."""
    x = api.load_array(path, "input")
    if steps is not None and steps < 1:
        raise InputError("--steps must be at least 1")
    return x


def _print_samples(counts: np.ndarray, cycles: np.ndarray | None = None) -> None:
    """The output counts (batch, outputs) of the first eight samples, one line each, with the
    cycles each took on a board when measured."""
    for i, row in enumerate(counts[:8]):
        took = f"  ({int(cycles[i])} cycles)" if cycles is not None else ""
        out.print(f"  sample {i}: " + " ".join(f"{float(c):g}" for c in row) + took)
    if counts.shape[0] > 8:
        out.print(f"  ... {counts.shape[0] - 8} more samples")


def _print_accuracy(labels: Path | None, trace: Trace, batch: int) -> None:
    """With --labels, the share of the batch's samples :func:`snnc.api.predict` classifies
    right."""
    if labels is None:
        return
    y = api.load_array(labels, "labels").reshape(-1)
    if y.shape[0] != batch:
        raise InputError(f"labels have {y.shape[0]} entries for a batch of {batch}")
    out.print(f"accuracy: {float(np.mean(api.predict(trace) == y)):.4f}")


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
        result[target.name] = {layer.name: backend.unsupported_in(graph, layer) or "yes"
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
            "neuron": _neuron_summary(layer), "idiom": _idiom(layer),
            "support": {t: support[t][layer.name] for t in sorted(support)},
        })
    io = _io_layout(graph)
    if as_json:
        out.print(json.dumps({"model": graph.name, "timesteps": graph.timesteps,
                              "encoding": graph.encoding, "output": graph.output,
                              "parameters": graph.parameter_count(), "layers": rows,
                              "input_layout": io[0], "output_layout": io[1]},
                             indent=2, sort_keys=True), markup=False)
        return
    layout = f", input [{io[0]}] -> output [{io[1]}]" if io[0] else ""
    table = Table(title=f"{graph.name}: T={graph.timesteps}, encoding={graph.encoding}, "
                        f"{graph.parameter_count()} parameters, output '{graph.output}'"
                        f"{layout}")
    for col in ("layer", "kind", "shape", "params", "neuron / synapse", "idiom"):
        table.add_column(col)
    for target in sorted(support):
        table.add_column(target)
    for row in rows:
        table.add_row(row["name"], row["kind"], "x".join(map(str, row["shape"])),
                      str(row["params"]), row["neuron"], row["idiom"],
                      *[row["support"][t] for t in sorted(support)])
    out.print(table)


def _idiom(layer: Layer) -> str:
    """The exporter idiom a recovered neuron came from (blank for snnc's own spelling)."""
    return str(layer.attrs.get("idiom", ""))


def _io_layout(graph: Graph) -> tuple[str, str]:
    """Where time and batch sit in the exported graph's input and output ('' for a one-step
    model), e.g. ``B,T,*``."""
    from snnc.frontend.timeline import layouts

    found = layouts(graph.layout)
    if found is None:
        return "", ""
    inp, outp, _ = found
    info = json.loads(graph.layout)
    out_shape = (info["output"] or info["input"])["shape"]
    return inp.describe(len(info["input"]["shape"])), outp.describe(len(out_shape))


def _as_exported_input(graph: Graph, x: np.ndarray, steps: int | None) -> np.ndarray | None:
    """An input laid out as a whole-sequence export takes it, as (steps, batch, ...); None
    when the model is a one-step model or ``x`` has another rank."""
    from snnc.frontend.timeline import layouts, to_steps

    found = layouts(graph.layout)
    if found is None:
        return None
    inp, _, exported_steps = found
    rank = len(json.loads(graph.layout)["input"]["shape"])
    if x.ndim != rank:
        return None
    count = steps or exported_steps
    if inp.merged and x.shape[inp.axis] % count:
        raise InputError(f"input axis {inp.axis} of size {x.shape[inp.axis]} does not split "
                         f"into {count} steps")
    drive = to_steps(np.asarray(x, np.float32), inp, count)
    return drive if steps is None else drive[:steps]


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
    hardware_timing: HardwareTimingOpt = False,
    mapping_tolerance: ToleranceOpt = 1.0,
) -> None:
    """Run the model and print output spike counts (float reference unless --target is given;
    `--backend exported` runs an ONNX model's graph as exported, in the framework's float
    arithmetic). Results are in model time: a target with synaptic latency runs the extra
    steps and step t of the output is the model's step t (--hardware-timing: the raw
    schedule)."""
    x = _input(input, steps)
    layouts: tuple[str, str] | None = None
    with progress("simulate") as log:
        log(f"read {model.name}")
        if backend == "exported":
            if target is not None:
                raise InputError("--backend exported runs the model as exported: no --target")
            trace = api.simulate_exported(model, x, steps=steps, log=log)
        else:
            graph = api.load(model, nir_semantics, dt)
            drive = _as_exported_input(graph, x, steps)
            if drive is not None:  # as the exported graph takes it: [B, T, ...], [B*T, ...]
                layouts = _io_layout(graph)
                x, steps = drive, drive.shape[0]
            trace = api.simulate(graph, x, steps=steps, target=target, backend=backend,
                                 calib=_calib(calib), mapping=mapping, log=log,
                                 hardware_timing=hardware_timing,
                                 tolerance=mapping_tolerance)
    counts = trace.spike_counts().reshape(trace.output.shape[1], -1)
    mode = ("as exported" if backend == "exported" else
            "float reference" if target is None else f"{target} / {backend}")
    timing = ""
    if trace.latency:
        timing = (f" (hardware timing, latency {trace.latency} steps)" if trace.hardware_timing
                  else f" (model time; {trace.latency} more steps run for the latency)")
    out.print(f"{mode}: {trace.output.shape[0]} steps{timing}, batch {counts.shape[0]}, "
              f"total output {float(counts.sum()):g}")
    _print_samples(counts)
    _print_accuracy(labels, trace, counts.shape[0])
    if output is not None:
        arrays = trace.arrays()
        if layouts is not None:  # how steps x batch map back to the exported layout
            from snnc.frontend.timeline import from_steps
            from snnc.frontend.timeline import layouts as graph_layouts

            found = graph_layouts(graph.layout)
            assert found is not None
            arrays["layout/input"] = np.array(layouts[0])
            arrays["layout/output"] = np.array(layouts[1])
            arrays["output_as_exported"] = from_steps(trace.output, found[1])
        save_npz_atomic(output, arrays)
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
    """Compile for one target (or `all`) into OUT/<backend>/, atomically. With `all`, a target
    that cannot hold the model is skipped with the reason; any other failure writes nothing."""
    calib_x = _calib(calib)
    chosen = api.targets_for(target)
    with progress("compile") as log:
        log(f"read {model.name}")
        graph = api.load(model, nir_semantics, dt)
        results = api.compile_all(graph, chosen, out_dir, calib=calib_x, mapping=mapping,
                                  prune=prune, log=log, skip_unfit=target == "all",
                                  tolerance=mapping_tolerance)
    for result in results:
        if result.artifact is None:
            out.print(f"{result.target.name}: skipped, {result.skipped}", markup=False)
            continue
        out.print(f"{result.target.name}: wrote {result.artifact.out_dir}/ "
                  f"({len(result.artifact.files)} files)")
        for line in agreement_lines(result.quantized.agreement,
                                    chosen_widths(result.quantized, result.target)):
            out.print(f"  {line}", markup=False)
    if not any(r.artifact is not None for r in results):
        raise UnsupportedError("no target can hold the model (reasons above)")


def agreement_lines(agreement: Mapping[str, float],
                    widths: Mapping[str, Any] | None = None) -> list[str]:
    """The per-layer spike agreement with the float model, one line per layer (none without
    calibration data), then the widths the search widened (``chosen_widths``), if any."""
    if not agreement:
        return []
    values = list(agreement.values())
    lines = [f"spike agreement with the float model on the calibration data: mean "
             f"{sum(values) / len(values):.4f}, min {min(values):.4f}"]
    lines += [f"  {name}: {value:.4f}" for name, value in agreement.items()]
    return lines + width_lines(widths or {})


def width_lines(widths: Mapping[str, Any]) -> list[str]:
    """The widths the fidelity search chose beyond the target's own (none when it kept them):
    the graph input's and each widened weight layer's."""
    chosen = widths.get("widths")
    if not chosen:
        return []
    layers = chosen["widened_weight_bits"]
    lines = [f"widened to reach the agreement goal: input {chosen['input_bits']} bits, "
             f"{len(layers)} weight layer(s) beyond {chosen['weight_bits']} bits (each as two "
             f"{chosen['weight_bits']}-bit members of one current)"]
    lines += [f"  {name}: {bits}-bit weights" for name, bits in layers.items()]
    return lines


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

    calib_x = _calib(calib)
    with progress("report") as log:
        graph = api.load(model, nir_semantics, dt)
        cost = api.report(graph, target, calib=calib_x, mapping=mapping, prune=prune,
                          log=log, tolerance=mapping_tolerance, measure=measure)
        chosen = (None if calib_x is None else
                  api.fidelity(graph, target, calib_x, mapping=mapping, prune=prune,
                               tolerance=mapping_tolerance))
    out.print(render_json(cost) if as_json else render_markdown(cost), markup=False)
    if chosen is not None and chosen.agreement and not as_json:
        out.print("\n".join(agreement_lines(chosen.agreement, chosen.widths)), markup=False)
    if out_dir is not None:
        with atomic_dir(out_dir) as tmp:
            write_report(cost, tmp)
            if chosen is not None and chosen.agreement:
                (tmp / "agreement.json").write_text(
                    json.dumps(chosen.agreement, indent=2, sort_keys=True) + "\n",
                    encoding="utf-8")
            if chosen is not None and chosen.widths:
                (tmp / "widths.json").write_text(
                    json.dumps(chosen.widths["widths"], indent=2, sort_keys=True) + "\n",
                    encoding="utf-8")
        out.print(f"wrote {out_dir}")


@app.command(epilog=_examples(
    "snnc run out/mcu --port /dev/ttyACM0 -i x.npy -o board.npz",
    "snnc run out/mcu --port socket://127.0.0.1:4444 -i x.npy --labels y.npy",
    "snnc run out/mcu --port COM3 --baud 921600 -i x.npy --output-only -o out.npz",
))
@user_errors
def run(
    project: Annotated[Path, typer.Argument(help="Compiled MCU project (OUT/mcu).")],
    port: Annotated[str, typer.Option(
        "--port", "-p", help="Serial device or pyserial URL (socket://host:port).")],
    input: InputOpt,
    output: TraceOpt = None,
    steps: StepsOpt = None,
    labels: LabelsOpt = None,
    baud: Annotated[int, typer.Option("--baud", help="Baud rate of the board's UART.")] = 115200,
    timeout: Annotated[float, typer.Option(
        "--timeout", help="Seconds to wait for each reply.")] = 10.0,
    output_only: Annotated[bool, typer.Option(
        "--output-only", help="Read back the output only, not every layer's probes.")] = False,
    hardware_timing: HardwareTimingOpt = False,
) -> None:
    """Stream inputs through a board flashed with the project's UART image (`make uart-elf`) and
    write the same .npz as `snnc simulate`, with the cycles each inference took on the board."""
    x = _input(input, steps)
    if baud < 1 or timeout <= 0:
        raise InputError("--baud and --timeout must be positive")
    with progress("run") as log:
        result = api.run_board(project, x, port, steps=steps, probes=not output_only,
                               baud=baud, timeout=timeout, hardware_timing=hardware_timing,
                               progress=lambda done, total: log(f"sample {done}/{total}"))
    trace = result.trace
    counts = trace.spike_counts().reshape(trace.output.shape[1], -1)
    out.print(f"board {port}: {result.steps} steps, batch {counts.shape[0]}, "
              f"total output {float(counts.sum()):g}"
              + (f", {result.retries} samples replayed after line errors" if result.retries
                 else ""))
    _print_samples(counts, result.cycles)
    if result.cycles is not None:
        c = result.cycles
        out.print(f"latency per inference: mean {float(c.mean()):.0f} cycles, "
                  f"min {int(c.min())}, max {int(c.max())}")
    _print_accuracy(labels, trace, counts.shape[0])
    if output is not None:
        save_npz_atomic(output, result.arrays())
        out.print(f"wrote {output}")


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
