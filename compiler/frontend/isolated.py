"""Run a native-library reader in a forked child, so a hostile file cannot take snnc down.

libhdf5 (under h5py, under ``nir.read``) trusts lengths and offsets in the file: fuzzing found
a 35 KB NIR file on which it allocates 3 GB, one on which it segfaults, and one (a single byte
changed) on which it loops for minutes. The reader therefore runs in a child process with an
address-space cap, a processor-time cap and a wall-clock deadline; the parent gets the result
back pickled, or a :class:`ReaderFailed` saying what went wrong (an exception's first line, a
memory or time limit, a crash by signal). Where ``os.fork`` does not exist the reader runs
in-process, without these limits.
"""

from __future__ import annotations

import faulthandler
import os
import pickle
import select
import signal
import time
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


def _cap_cpu_time(seconds: int) -> None:
    """Deliver SIGXCPU to this (child) process after ``seconds`` of processor time."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not a POSIX system
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    used = int(time.process_time()) + 1
    cap = used + seconds if hard == resource.RLIM_INFINITY else min(used + seconds, hard)
    if soft == resource.RLIM_INFINITY or soft > cap:
        resource.setrlimit(resource.RLIMIT_CPU, (cap, hard))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _child(work: Callable[[], T], headroom: int, cpu_seconds: int, write_fd: int) -> None:
    """Body of the forked child: never returns (``os._exit`` skips the parent's handlers)."""
    code = 0
    try:
        # The user sees one error line from the parent: nothing from native libraries or a
        # crash handler of the child reaches the terminal.
        faulthandler.disable()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        _cap_address_space(headroom)
        _cap_cpu_time(cpu_seconds)
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


def run_isolated(work: Callable[[], T], headroom: int, cpu_seconds: int = 30,
                 wall_seconds: float = 300.0) -> T:
    """``work()`` computed in a forked child limited to ``headroom`` more bytes of address
    space, ``cpu_seconds`` of processor time and ``wall_seconds`` of waiting (a child blocked
    rather than computing); raises :class:`ReaderFailed` if it raised, crashed, ran out of a
    limit or produced nothing."""
    if not hasattr(os, "fork"):
        try:
            return work()
        except Exception as exc:
            raise ReaderFailed(_first_line(exc)) from None
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child (coverage cannot see it)
        os.close(read_fd)
        _child(work, headroom, cpu_seconds, write_fd)
    os.close(write_fd)
    try:
        data = _read_until(read_fd, time.monotonic() + wall_seconds)
    except TimeoutError:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise ReaderFailed(f"the reader did not finish within {wall_seconds:g} s") from None
    finally:
        os.close(read_fd)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU:
            raise ReaderFailed(f"the reader used more than {cpu_seconds} s of processor time "
                               "on this file")
        raise ReaderFailed(f"the HDF5 reader crashed ({signal.Signals(sig).name}) on this file")
    if not data:
        raise ReaderFailed(f"the reader stopped without a result (exit status "
                           f"{os.waitstatus_to_exitcode(status)})")
    ok, value = pickle.loads(data)
    if not ok:
        raise ReaderFailed(value)
    return value


def _read_until(fd: int, deadline: float) -> bytes:
    """Everything written to the pipe ``fd`` until its writer closes it; TimeoutError if that
    has not happened by ``deadline`` (``time.monotonic``)."""
    chunks = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
