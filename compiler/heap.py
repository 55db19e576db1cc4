"""How the compiler process asks the C allocator to hand freed memory back.

Compiling a board-size network allocates many short-lived arrays of tens to hundreds of
megabytes (one layer's weights, its synapse indices). glibc serves a block above its mmap
threshold with its own mapping, returned to the system when freed; but the threshold grows
to the size of every such block freed, after which equal blocks come from the heap and stay
resident once freed, so the process's peak memory becomes the sum of its temporaries instead
of their maximum. A fixed threshold keeps every large block a mapping of its own.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
LARGE_BLOCK = 1 << 20  # bytes: blocks from this size up are mappings of their own


def return_large_blocks() -> bool:
    """Fix the allocator's mmap and trim thresholds at :data:`LARGE_BLOCK`; False where the C
    library is not glibc (nothing changes there)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, LARGE_BLOCK)) and bool(
        mallopt(M_TRIM_THRESHOLD, LARGE_BLOCK))
