"""Cores, limits and external tools of the MCU backend (compilers, QEMU), in one place.

A target file selects its core with ``[mcu] cpu = "cortex-m7"`` (default: the target's name)
and may override any field of :class:`Core` there; ``[limits]`` gives flash, RAM and the stack
reserved by the linker script.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from snnc.errors import ToolchainError, UnsupportedError
from snnc.target import Target


@dataclass(frozen=True)
class Core:
    """How to build for and emulate one Cortex-M core."""

    cpu: str
    cflags: str
    qemu_machine: str
    flash_origin: int = 0x00000000
    ram_origin: int = 0x20000000
    # The runtime code path the weight layouts are chosen for (KERNEL_SETS): "dsp" (SMLAD
    # blocked dense weights, 16-bit packed event sums), "mve" (Helium: row-major dense weights,
    # 16-bit event sums) or "c" (portable C, row-major).
    kernels: str = "c"


KERNEL_SETS = ("c", "dsp", "mve")

CORES: dict[str, Core] = {
    "cortex-m4": Core("cortex-m4", "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16",
                      "mps2-an386", kernels="dsp"),
    "cortex-m7": Core("cortex-m7", "-mcpu=cortex-m7 -mthumb -mfloat-abi=hard -mfpu=fpv5-d16",
                      "mps2-an500", kernels="dsp"),
    "cortex-m55": Core("cortex-m55", "-mcpu=cortex-m55 -mthumb -mfloat-abi=hard",
                       "mps3-an547", kernels="mve"),
}

DEFAULT_STACK_BYTES = 4096


@dataclass(frozen=True)
class Limits:
    """Memory budget of the part: flash and RAM in bytes, and the stack the image reserves."""

    flash_bytes: int
    ram_bytes: int
    stack_bytes: int = DEFAULT_STACK_BYTES


def core_for(target: Target) -> Core:
    table: dict[str, Any] = dict(target.raw.get("mcu", {}))
    cpu = str(table.pop("cpu", target.name))
    known = {f.name for f in fields(Core)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise UnsupportedError(f"unknown [mcu] keys {', '.join(unknown)}", target=target.name)
    base = CORES.get(cpu)
    if base is None:
        if "cflags" not in table or "qemu_machine" not in table:
            raise UnsupportedError(
                f"unknown core '{cpu}'; use one of {', '.join(sorted(CORES))} or give "
                "[mcu] cflags and qemu_machine", target=target.name)
        base = Core(cpu, str(table["cflags"]), str(table["qemu_machine"]))
    core = replace(base, **{k: v for k, v in table.items() if k != "cpu"})
    if core.kernels not in KERNEL_SETS:
        raise UnsupportedError(f"[mcu] kernels = '{core.kernels}'; use one of "
                               f"{', '.join(KERNEL_SETS)}", target=target.name)
    return core


def limits_for(target: Target) -> Limits:
    lim = target.limits
    missing = [k for k in ("flash_bytes", "ram_bytes") if k not in lim]
    if missing:
        raise UnsupportedError(f"[limits] needs {', '.join(missing)}", target=target.name)
    return Limits(int(lim["flash_bytes"]), int(lim["ram_bytes"]),
                  int(lim.get("stack_bytes", DEFAULT_STACK_BYTES)))


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise ToolchainError(f"'{tool}' is not installed (see docs/targets/mcu.md)")
    return path


def run(cmd: list[str], cwd: Path, timeout: float, what: str) -> subprocess.CompletedProcess:
    """Run a build or emulation step; a failure becomes one ToolchainError line."""
    require(cmd[0])
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired:
        raise ToolchainError(f"{what} timed out after {timeout:g} s") from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-12:]
        detail = " | ".join(line.strip() for line in tail)
        raise ToolchainError(f"{what} failed (exit {proc.returncode}): {detail}")
    return proc


def compiler_version(cc: str) -> str:
    out = subprocess.run([cc, "--version"], capture_output=True, text=True, check=False)
    return out.stdout.splitlines()[0].strip() if out.stdout else cc
