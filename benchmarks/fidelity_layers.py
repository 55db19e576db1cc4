"""Where a stateless multi-level model loses spike agreement: per layer, chained and isolated,
and how it depends on the weight and input widths.

For the spikeformer demo (``examples/spikeformer``, T = 1, every neuron a ``MultiLevelSpike``)
on each integer target, with the scales the fidelity search chooses on the calibration inputs
(the first 32 test utterances, as ``benchmarks/fidelity.py``) at the target's own widths:

- **chained**: the integer reference run as deployed, each layer's levels against the float
  model's (``snnc.passes.fidelity.spike_agreement``);
- **isolated**: every layer fed the float model's own input levels (the quantized input for the
  first stage), so the figure is that layer's own loss: its weight rounding, its threshold and
  rounding semantics, nothing inherited from the layers before it.

- **compiled**: chained, as ``snnc.api.quantize`` compiles it: the search widens weight layers
  and the input where the target's widths stay below its goal (``snnc.passes.fidelity``); the
  widths it chose are recorded.
- **held out**: the mean chained agreement on the other test utterances (none of them
  calibration data), at the target's widths and as compiled: what the widths chosen on the
  calibration inputs keep on inputs they were not chosen on.

Then the same model with the Cortex-M4 profile's weight and input widths widened everywhere
(the sweep that shows what the goal of 0.95 needs). Prints tables and writes
``benchmarks/results/fidelity_layers.json``.

    .venv/bin/python benchmarks/fidelity_layers.py [--samples N] [--no-sweep]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from snnc import api
from snnc.ir import layers as ir
from snnc.ir.quantized import QuantizedGraph
from snnc.passes.fidelity import choose_scales, spike_agreement
from snnc.reference import integer
from snnc.reference import simulate as floatref
from snnc.reference.encode import encode
from snnc.reference.simulate import Trace, run_graph
from snnc.reference.timing import model_drive
from snnc.target import load_target

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "examples" / "spikeformer"
RESULTS = Path(__file__).resolve().parent / "results"
TARGETS = ("cortex-m4", "spinnaker2", "loihi2")
WIDTHS = ((8, 8), (10, 8), (16, 8), (8, 10), (8, 16), (10, 10), (12, 12), (16, 16))


def chained(qg: QuantizedGraph, x: np.ndarray, reference: Trace) -> dict[str, float]:
    """Per neuron layer: agreement of the deployed integer run (model time) with the float run."""
    timed = model_drive(x, qg.graph.timesteps, integer.latency(qg.graph, qg.profile),
                        qg.graph.encoding, qg.graph.input.shape)
    return spike_agreement(qg.graph, qg.profile, reference, integer.run_quantized(qg, timed))


def _mean(per_layer: dict[str, float]) -> float:
    return float(np.mean(list(per_layer.values())))


def isolated(qg: QuantizedGraph, drive: np.ndarray) -> dict[str, float]:
    """Per neuron layer: agreement when every stage reads the float model's levels (one step)."""
    graph, p = qg.graph, qg.profile
    if graph.timesteps != 1 or any(lay.is_neuron and not isinstance(lay, ir.MultiLevelSpike)
                                   for lay in graph.layers):
        raise SystemExit("isolation needs a single-step model of multi-level neurons")
    fv: dict[str, np.ndarray] = {}
    iv: dict[str, np.ndarray] = {}
    out: dict[str, float] = {}
    for lay in graph.layers:
        if isinstance(lay, ir.Input):
            fv[lay.name], iv[lay.name] = drive[0], qg.quantize_input(drive)[0]
            continue
        fargs = [fv[s] for s in lay.inputs]
        # a neuron source's float levels are exact integers: the integer stage reads them as is
        iargs = [fv[s].astype(np.int64) if graph.layer(s).is_neuron else iv[s]
                 for s in lay.inputs]
        q = qg.layers[lay.name]
        if isinstance(lay, ir.MultiLevelSpike):
            fv[lay.name] = floatref.multilevel_step(lay, fargs[0])
            iv[lay.name] = integer.multilevel_step(lay, q, p, iargs[0])
            out[lay.name] = float(np.mean(fv[lay.name] == iv[lay.name]))
        elif isinstance(lay, ir.SpikingSelfAttention):
            fv[lay.name] = floatref.attention(lay, *fargs)
            iv[lay.name] = integer.attention(lay, q, p, *iargs)
        else:
            fv[lay.name] = floatref._synapse(lay, fargs)
            iv[lay.name] = integer.synapse_value(lay, q, p, iargs)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--no-sweep", action="store_true", help="skip the width sweep")
    args = parser.parse_args(argv)
    graph = api.load(MODEL / "model.onnx")
    x = np.load(MODEL / "test_x.npy")[:args.samples]
    drive = encode(x, graph.timesteps, graph.encoding, graph.input.shape)
    reference = run_graph(graph, drive, record=True)
    held = np.load(MODEL / "test_x.npy")[args.samples:]
    held_reference = run_graph(graph, encode(held, graph.timesteps, graph.encoding,
                                             graph.input.shape), record=True)
    result: dict[str, Any] = {"samples": args.samples, "held_out_samples": len(held),
                              "layers": {}, "widths": [], "compiled": {}}
    for name in TARGETS:
        target = load_target(name)
        # the target's own widths: goal 0 keeps the search from widening
        qg = choose_scales(graph, target.numeric, drive, calib=x, target=name, goal=0.0)
        result["layers"][name] = {"chained": chained(qg, x, reference),
                                  "isolated": isolated(qg, drive),
                                  "held_out": _mean(chained(qg, held, held_reference))}
        compiled = api.quantize(graph, target, calib=x)
        result["compiled"][name] = {"chained": chained(compiled, x, reference),
                                    "held_out": _mean(chained(compiled, held, held_reference)),
                                    "input_bits": compiled.profile.input_bits,
                                    "weight_bits": dict(compiled.widened)}
    names = list(result["layers"][TARGETS[0]]["chained"])
    print("per layer: chained (as deployed) / isolated (float inputs), chosen scales")
    print(f"  {'layer':<16}" + "".join(f"{t:>22}" for t in TARGETS))
    for layer in [*names, "mean"]:
        cells = []
        for t in TARGETS:
            c, i = (result["layers"][t][k] for k in ("chained", "isolated"))
            pair = ((np.mean(list(c.values())), np.mean(list(i.values()))) if layer == "mean"
                    else (c[layer], i[layer]))
            cells.append(f"{pair[0]:.4f} / {pair[1]:.4f}")
        print(f"  {layer:<16}" + "".join(f"{c:>22}" for c in cells))
    print(f"as compiled (widths chosen by the search): mean chained agreement, on the "
          f"{len(held)} held-out utterances (at the target's widths -> as compiled), widths")
    for t in TARGETS:
        c = result["compiled"][t]
        print(f"  {t:<12} {_mean(c['chained']):.4f}  held out "
              f"{result['layers'][t]['held_out']:.4f} -> {c['held_out']:.4f}  "
              f"input {c['input_bits']} bits, weights {c['weight_bits']}")
    if not args.no_sweep:
        base = load_target("cortex-m4").numeric
        print("cortex-m4 profile, widened: weight bits, input bits -> mean chained agreement")
        for wb, ib in WIDTHS:
            profile = replace(base, weight_bits=wb, input_bits=ib)
            qg = choose_scales(graph, profile, drive, calib=x, target="cortex-m4", goal=0.0)
            mean = float(np.mean(list(chained(qg, x, reference).values())))
            result["widths"].append({"weight_bits": wb, "input_bits": ib, "mean": mean})
            print(f"  {wb:>2} {ib:>2}  {mean:.4f}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "fidelity_layers.json").write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
