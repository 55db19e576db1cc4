"""Run a native-library reader in a forked child, so a hostile file cannot take snnc down.

libhdf5 (under h5py, under ``nir.read``) trusts lengths and offsets in the file: fuzzing found
a 35 KB NIR file on which it allocates 3 GB, and another on which it segfaults. The reader
therefore runs in a child process with an address-space cap; the parent gets the result back
pickled, or a :class:`ReaderFailed` saying what went wrong (an exception's first line, a memory
limit, a crash by signal). Where ``os.fork`` does not exist the reader runs in-process.
"""

from __future__ import annotations

import faulthandler
import os
import pickle
import signal
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class ReaderFailed(Exception):
    """The isolated reader raised, ran out of its memory allowance, or crashed."""


def _vm_size() -> int | None:
    """This process's virtual memory size in bytes (Linux), else None."""
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return None


def _cap_address_space(headroom: int) -> None:
    """Limit this (child) process to its current size plus ``headroom`` bytes, if possible."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not a POSIX system
        return
    size = _vm_size()
    if size is None:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = size + headroom if hard == resource.RLIM_INFINITY else min(size + headroom, hard)
    if soft == resource.RLIM_INFINITY or soft > cap:
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _child(work: Callable[[], T], headroom: int, write_fd: int) -> None:
    """Body of the forked child: never returns (``os._exit`` skips the parent's handlers)."""
    code = 0
    try:
        # The user sees one error line from the parent: nothing from native libraries or a
        # crash handler of the child reaches the terminal.
        faulthandler.disable()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        _cap_address_space(headroom)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                payload = pickle.dumps((True, work()), protocol=pickle.HIGHEST_PROTOCOL)
            except MemoryError:
                payload = pickle.dumps((False, "it needs more memory than a model file may"))
            except Exception as exc:  # reported to the parent as one line
                payload = pickle.dumps((False, _first_line(exc)))
        with os.fdopen(write_fd, "wb") as out:
            out.write(payload)
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def run_isolated(work: Callable[[], T], headroom: int) -> T:
    """``work()`` computed in a forked child limited to ``headroom`` more bytes of address
    space; raises :class:`ReaderFailed` if it raised, crashed or produced nothing."""
    if not hasattr(os, "fork"):
        try:
            return work()
        except Exception as exc:
            raise ReaderFailed(_first_line(exc)) from None
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child (coverage cannot see it)
        os.close(read_fd)
        _child(work, headroom, write_fd)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        raise ReaderFailed(f"the HDF5 reader crashed ({name}) on this file")
    if not data:
        raise ReaderFailed(f"the reader stopped without a result (exit status "
                           f"{os.waitstatus_to_exitcode(status)})")
    ok, value = pickle.loads(data)
    if not ok:
        raise ReaderFailed(value)
    return value
