"""The runtime kernel families of ``runtime_c/``: which functions each provides and which files
a generated project needs for it (only the families a model calls are copied and compiled)."""

from __future__ import annotations

from dataclasses import dataclass

from snnc.backends.mcu.program import Program


@dataclass(frozen=True)
class Family:
    """Functions with one of ``prefixes`` live in ``source``; ``headers[0]`` declares them."""

    name: str
    prefixes: tuple[str, ...]
    source: str
    headers: tuple[str, ...]


FAMILIES = (
    Family("dense", ("snnc_dense_", "snnc_event_", "snnc_events_"), "snnc_dense.c",
           ("snnc_dense.h", "snnc_dense_impl.h")),
    Family("conv", ("snnc_conv_",), "snnc_conv.c",
           ("snnc_conv.h", "snnc_conv_impl.h", "snnc_dense.h")),
    Family("tensor", ("snnc_pool_", "snnc_copy_", "snnc_add_", "snnc_spread_", "snnc_scale_"),
           "snnc_tensor.c",
           ("snnc_tensor.h", "snnc_tensor_impl.h")),
    Family("neuron", ("snnc_neuron_", "snnc_multilevel_"), "snnc_neuron.c",
           ("snnc_neuron.h", "snnc_neuron_impl.h")),
    Family("attention", ("snnc_attention_",), "snnc_attention.c",
           ("snnc_attention.h", "snnc_attention_impl.h")),
)
# Every project: the arithmetic header and the test harness (host and QEMU).
ALWAYS = ("snnc_types.h", "snnc_harness.c", "snnc_harness.h", "snnc_semihost.h")


def families(prog: Program) -> list[Family]:
    """The families the program calls, in a fixed order."""
    return [f for f in FAMILIES if any(fn.startswith(f.prefixes) for fn in prog.functions)]


_TEMPLATED = ("dense", "conv", "neuron", "multilevel", "attention")


def kernel_block(fn: str) -> str | None:
    """The ``SNNC_USE_*`` switch of the template instantiation defining ``fn`` (None for the
    hand-written kernels, which are always compiled)."""
    parts = fn.removeprefix("snnc_").split("_")
    if parts[:2] == ["conv", "event"]:
        return f"CONV_EVENT_{parts[2]}".upper()
    if fn == "snnc_event_dense16_s32":  # hand-written
        return None
    if parts[0] == "event":  # event_dense_s32, event_csr_s32
        return f"EVENT_{parts[2]}".upper()
    if parts[0] == "pool":  # pool_max_s8_s8, pool_sum_s8_s32
        return f"TENSOR_{parts[2]}_{parts[3]}".upper()
    if parts[0] in ("copy", "add", "spread", "scale"):
        return f"TENSOR_{parts[1]}_{parts[2]}".upper()
    if parts[0] in _TEMPLATED and len(parts) == 3 and fn != "snnc_dense_s8_s32":
        return "_".join(parts).upper()
    return None


def kernel_switches(prog: Program) -> list[str]:
    """The instantiation switches the program needs, sorted."""
    return sorted({b for fn in prog.functions if (b := kernel_block(fn)) is not None})


def runtime_files(prog: Program) -> list[str]:
    names = set(ALWAYS)
    for fam in families(prog):
        names.update((fam.source, *fam.headers))
    return sorted(names)
