"""Per-entry time budgets that hold on any thread: work runs in a child process that is killed.

A deadline raised from a signal handler inside SymPy depends on the caller: it works only on the
main thread, not under a caller's own interval timer, not with ``SIGALRM`` blocked, and it leaves
handlers behind.  Here the expensive work of one call runs in a forked child process instead.
The parent hands it a list of tasks (closures over the call's expressions, which the child
inherits; nothing is pickled on the way in), receives each result through a pipe as soon as it is
ready, and gives each task its own ``seconds``: when a task overruns, the child is killed
(``SIGKILL``), that task is reported as timed out, and a fresh child takes the remaining tasks.
No signal handler, timer or thread of the caller is touched, so a verdict does not depend on them.

The child's address space is capped at :data:`WORKER_MEMORY` bytes beyond the parent's, so a
runaway simplification ends in ``MemoryError`` (reported as that task's failure) rather than in
the machine swapping.  On a platform without ``fork`` the tasks run in the caller's process
without a deadline.
"""

from __future__ import annotations

import math
import os
import pickle
import select
import signal
import struct
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

#: Memory the worker may use beyond what the parent had when it forked.
WORKER_MEMORY = 4 * 2**30

_HEADER = struct.Struct("!Q")


@dataclass(frozen=True)
class TimedOut:
    """The task ran past its budget and was stopped."""

    seconds: float


@dataclass(frozen=True)
class Failed:
    """The task raised, or its process died (for example out of memory)."""

    reason: str


def run_each(tasks: Sequence[Callable[[], object]], seconds: float) -> list[object]:
    """Run every task, each within ``seconds`` of wall-clock time; return their results in order.

    A result is the task's return value, :class:`TimedOut` or :class:`Failed`.  ``seconds`` may
    be ``math.inf`` (no deadline).

    Examples
    --------
    >>> import time
    >>> run_each([lambda: 1 + 1, lambda: time.sleep(5), lambda: 1 / 0], seconds=0.5)
    [2, TimedOut(seconds=0.5), Failed(reason='ZeroDivisionError: division by zero')]
    """
    if not tasks:
        return []
    if not hasattr(os, "fork"):
        return [_attempt(task) for task in tasks]
    results: list[object] = []
    while len(results) < len(tasks):
        results.extend(_run_in_child(tasks, len(results), seconds))
    return results


def _attempt(task: Callable[[], object]) -> object:
    try:
        return task()
    except MemoryError:
        return Failed("out of memory")
    except Exception as error:
        return Failed(f"{type(error).__name__}: {error}")


def _run_in_child(tasks, start: int, seconds: float) -> list[object]:
    """Fork a child for ``tasks[start:]``; return results until it finishes, dies or overruns."""
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads: we exec nothing
        pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_end)
        _child(tasks, start, write_end)
    os.close(write_end)
    results: list[object] = []
    reader = _FrameReader(read_end)
    try:
        while start + len(results) < len(tasks):
            frame = reader.next_frame(seconds)
            if frame is _TIMEOUT:
                results.append(TimedOut(seconds))
                break
            if frame is _CLOSED:
                results.append(Failed("the worker process died (out of memory?)"))
                break
            results.append(pickle.loads(frame))
    finally:
        os.close(read_end)
        _stop(pid)
    return results


def _child(tasks, start: int, write_end: int) -> None:
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        _limit_memory()
        for task in tasks[start:]:
            outcome = _attempt(task)
            try:
                data = pickle.dumps(outcome)
            except Exception as error:
                data = pickle.dumps(Failed(f"unpicklable result: {error}"))
            _write_all(write_end, _HEADER.pack(len(data)) + data)
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _limit_memory() -> None:
    try:
        import resource

        with open("/proc/self/statm") as statm:
            current = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        limit = current + WORKER_MEMORY
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, OSError, ValueError):
        pass  # no cap where the platform cannot set one


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    while True:
        try:
            os.waitpid(pid, 0)
            return
        except ChildProcessError:
            return
        except InterruptedError:
            continue


_TIMEOUT = object()
_CLOSED = object()


class _FrameReader:
    """Length-prefixed frames from a pipe, each awaited for at most a given time."""

    def __init__(self, fd: int):
        self.fd = fd
        self.buffer = bytearray()

    def next_frame(self, seconds: float):
        deadline = time.monotonic() + seconds if math.isfinite(seconds) else math.inf
        while True:
            if len(self.buffer) >= _HEADER.size:
                (length,) = _HEADER.unpack_from(self.buffer)
                if len(self.buffer) >= _HEADER.size + length:
                    frame = bytes(self.buffer[_HEADER.size:_HEADER.size + length])
                    del self.buffer[:_HEADER.size + length]
                    return frame
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return _TIMEOUT
            ready, _, _ = select.select([self.fd], [], [], None if math.isinf(remaining) else remaining)
            if not ready:
                return _TIMEOUT
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                return _CLOSED
            self.buffer.extend(chunk)
