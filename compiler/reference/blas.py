"""One BLAS thread for every reference run, whoever else is using BLAS.

OpenBLAS sums a float32 product in an order that depends on its thread count, so the float
reference gave different last bits on one thread than on two. That broke bit-for-bit checks
that compare two reference runs (the pass verifier of ``snnc.passes.pipeline``): compiling for
several targets runs pipelines in threads, and one thread limiting BLAS (the integer fast
path does, for speed) changed the other threads' float results mid-run. Every reference run
therefore holds :func:`one_blas_thread`; the limit is process-wide, so it is taken by the first
run to enter and given back by the last to leave, and a run never sees it change. The
integer products are exact in any order; they hold it because one thread is also faster for
their small blocks (``benchmarks/simulate.py``).

threadpoolctl (3.8) lets only the first thread that ever set OpenBLAS's pool size change it
again and silently ignores the others, so a limit set from a second compile thread did
nothing. Whichever thread takes or gives back the limit here is made the controlling one for
that call, then released, under this module's lock.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from typing import Any

_lock = threading.Lock()
_holders = 0
_limiter: Any = None


@functools.cache
def _controller() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@contextlib.contextmanager
def _in_control() -> Iterator[None]:
    """The calling thread may set OpenBLAS's pool size inside (see the module docstring)."""
    from threadpoolctl import OpenBLASController

    release = getattr(OpenBLASController, "clear_controlling_thread", None)
    if release is not None:
        release(force=True)
    try:
        yield
    finally:
        if release is not None:
            release(force=True)


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS runs on one thread inside (nested and concurrent holders share the limit)."""
    global _holders, _limiter
    with _lock:
        if _holders == 0:
            with _in_control():
                _limiter = _controller().limit(limits=1, user_api="blas")
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0:
                with _in_control():
                    _limiter.restore_original_limits()
                _limiter = None
