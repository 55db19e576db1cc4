"""MCU backend: static C99 for Arm Cortex-M, bit-exact with the integer reference.

``emit`` writes a self-contained C project (model, constant weights in flash, the hand-written
runtime kernels it uses, Makefile, linker script, start-up code, host and QEMU test harnesses,
memory.json); ``simulate`` builds it and runs it on the host or under QEMU; ``check_resources``
compares flash and RAM with the target's limits before anything is written.
"""

from snnc.backends.mcu.check import check_resources
from snnc.backends.mcu.emit import emit
from snnc.backends.mcu.simulate import simulate

__all__ = ["check_resources", "emit", "simulate"]
