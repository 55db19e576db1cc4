"""What a generated MCU project needs beyond its own Makefile: a CMake build for vendor SDKs,
the board-in-the-loop UART harness, and ``model.json``, which tells a host (``snnc run``) how to
encode inputs for the compiled model and how to read its probes back.

The UART harness is ``runtime_c/snnc_uart.c`` (the protocol, any board) plus a ready port for
the Arm CMSDK UART of the MPS2/MPS3 boards QEMU emulates; another board supplies its own
``putc``/``getc`` (see ``snnc_uart.h``).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from snnc.backends.mcu.program import Program
from snnc.backends.mcu.toolchain import Core
from snnc.target import Target

_ENV = Environment(loader=PackageLoader(__package__, "templates"), undefined=StrictUndefined,
                   trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)

# Runtime files of the UART harness, copied into every project.
UART_RUNTIME = ("snnc_uart.c", "snnc_uart.h", "snnc_uart_cmsdk.c", "snnc_uart_cmsdk.h")
MANIFEST = "model.json"
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class CmsdkUart:
    """The CMSDK APB UART the first ``-serial`` of a QEMU machine (and the board's USB serial
    bridge) is wired to, and the clock its baud divider counts."""

    base: int
    clock_hz: int


# QEMU's mps2.c puts UART0 at 0x40004000 on every MPS2 image; the AN547 image on MPS3 has it at
# 0x49303000 (non-secure) / 0x59303000 (secure alias, used here: the image runs Secure).
CMSDK_UARTS = {
    "mps2-an385": CmsdkUart(0x40004000, 25_000_000),
    "mps2-an386": CmsdkUart(0x40004000, 25_000_000),
    "mps2-an500": CmsdkUart(0x40004000, 25_000_000),
    "mps2-an511": CmsdkUart(0x40004000, 25_000_000),
    "mps3-an547": CmsdkUart(0x59303000, 32_000_000),
}


def cmsdk_uart(core: Core) -> CmsdkUart | None:
    return CMSDK_UARTS.get(core.qemu_machine)


def uart_context(core: Core) -> dict[str, str]:
    """Template values of the UART port; a machine without a known CMSDK UART gets empty ones:
    its build then passes no address, and snnc_uart_cmsdk.c stops asking for
    SNNC_CMSDK_UART_BASE (or the board's own port replaces it)."""
    uart = cmsdk_uart(core)
    if uart is None:
        return {"uart_base": "", "cpu_hz": ""}
    return {"uart_base": f"0x{uart.base:08X}", "cpu_hz": str(uart.clock_hz)}


def model_id(texts: dict[str, str]) -> int:
    """32 bits of the SHA-256 of the model's C sources: the board and the host compare it, so
    a board flashed with another model (or another build of it) is refused."""
    digest = hashlib.sha256()
    for name in ("model.h", "model.c", "weights.h", "weights.c", "snnc_config.h"):
        digest.update(name.encode())
        digest.update(texts[name].encode())
    return int.from_bytes(digest.digest()[:4], "little")


def manifest(prog: Program, target: Target, core: Core, ident: int,
             latencies: dict[str, int]) -> dict[str, Any]:
    """``model.json``: what ``snnc run`` needs to drive the compiled model without the model
    file. Probe names are the model's own layer names (``<layer>/spikes``, ``<layer>/v``);
    ``latency`` (output) and each probe's are the steps the target takes from an input to that
    value, which ``snnc run`` compensates to return model time."""
    output_lag = latencies.get(prog.probes[0].layer, 0)  # probe 0 is the output layer's
    return {
        "format": MANIFEST_VERSION,
        "model": prog.name,
        "target": target.name,
        "core": core.cpu,
        "model_id": f"0x{ident:08x}",
        "timesteps": prog.timesteps,
        "latency": output_lag,
        "input": {
            "shape": list(prog.input.shape),
            "encoding": "rate" if prog.input.spiking else "direct",
            "scale": float(prog.input_scale),
            "max": int(prog.input_max),
            "ctype": prog.input.ctype.c,
            "elem_bytes": prog.input.ctype.bytes,
        },
        "probes": [{"name": p.name, "kind": p.kind, "layer": p.layer, "shape": list(p.shape),
                    "count": math.prod(p.shape), "ctype": p.ctype.c,
                    "elem_bytes": p.ctype.bytes,
                    "latency": latencies.get(p.layer, 0)}
                   for p in prog.probes],
    }


def render_board(prog: Program, target: Target, core: Core, base: dict[str, Any],
                 texts: dict[str, str], model_sources: list[str],
                 latencies: dict[str, int]) -> dict[str, str]:
    """The CMake files, the UART harness's generated files and model.json, by file name;
    ``texts`` are the project's other generated files (the model id hashes them)."""
    ident = model_id(texts)
    uart = uart_context(core)
    return {
        "CMakeLists.txt": _ENV.get_template("CMakeLists.txt.j2").render(
            **base, **uart, model_sources=model_sources),
        "arm-none-eabi.cmake": _ENV.get_template("arm-none-eabi.cmake.j2").render(
            **base, cpu_flags=core.cflags),
        "main_uart.c": _ENV.get_template("main_uart.c.j2").render(**base, **uart),
        "snnc_uart_config.h": _ENV.get_template("snnc_uart_config.h.j2").render(
            **base, model_id=f"{ident:08X}"),
        MANIFEST: json.dumps(manifest(prog, target, core, ident, latencies), indent=2,
                             sort_keys=True)
        + "\n",
    }
