"""Resource check of the MCU backend: flash and RAM against the target's ``[limits]``.

Runs before anything is written. Data sizes are exact (the planner knows every constant array,
arena and state buffer); code size is an estimate per runtime kernel family, measured with
arm-none-eabi-gcc 12 at -Os for Cortex-M4 and rounded up. ``emit`` later records the measured
sizes of the built image in ``memory.json``, and the linker script fails the build if the real
image does not fit.
"""

from __future__ import annotations

from typing import Any

from snnc.backends.mcu.families import families
from snnc.backends.mcu.lower import lower
from snnc.backends.mcu.program import Program
from snnc.backends.mcu.toolchain import Limits, core_for, limits_for
from snnc.errors import ResourceError
from snnc.ir.quantized import QuantizedGraph
from snnc.target import Target

# Thumb-2 code bytes per runtime family at -Os (only the instantiations a model calls are
# linked; these figures cover the common ones), plus the step function per call.
CODE_BYTES = {"dense": 900, "conv": 900, "tensor": 500, "neuron": 900, "attention": 400}
STEP_BYTES_PER_CALL = 24
STEP_BYTES_BASE = 200
STRUCT_BYTES = 64


def estimate(prog: Program, limits: Limits) -> dict[str, int]:
    """Flash and RAM the model needs (excluding the test harness), in bytes."""
    code = (sum(CODE_BYTES[f.name] for f in families(prog)) + STEP_BYTES_BASE
            + STEP_BYTES_PER_CALL * (len(prog.calls) + len(prog.tail)))
    consts = prog.flash_data_bytes + STRUCT_BYTES * len(prog.structs)
    ram = prog.arena_bytes + prog.state_bytes
    return {"code_bytes": code, "constant_bytes": consts, "flash_bytes": code + consts,
            "arena_bytes": prog.arena_bytes, "state_bytes": prog.state_bytes,
            "ram_bytes": ram, "ram_with_stack_bytes": ram + limits.stack_bytes}


def check_program(prog: Program, target: Target) -> dict[str, Any]:
    limits = limits_for(target)
    need = estimate(prog, limits)
    if need["flash_bytes"] > limits.flash_bytes:
        raise ResourceError(target.name, "flash bytes", need["flash_bytes"], limits.flash_bytes,
                            f"{need['constant_bytes']} B of weights and parameters, "
                            f"~{need['code_bytes']} B of code")
    if need["ram_with_stack_bytes"] > limits.ram_bytes:
        raise ResourceError(target.name, "RAM bytes", need["ram_with_stack_bytes"],
                            limits.ram_bytes,
                            f"{need['arena_bytes']} B arena, {need['state_bytes']} B state, "
                            f"{limits.stack_bytes} B stack")
    return {"flash_bytes": need["flash_bytes"], "ram_bytes": need["ram_with_stack_bytes"],
            "flash_limit": limits.flash_bytes, "ram_limit": limits.ram_bytes,
            "layers": len(prog.layers)}


def check_resources(qg: QuantizedGraph, target: Target) -> dict[str, Any]:
    """Raise ResourceError/UnsupportedError if ``qg`` cannot run on ``target``; else figures."""
    return check_program(lower(qg, target.name, core_for(target).kernels), target)
