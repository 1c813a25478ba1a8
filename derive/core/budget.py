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
without a deadline.  Where the platform has ``fork`` but refuses it (a process limit reached, no
memory, too many open files for the pipe), nothing runs unbounded in the caller: every task not
yet run is reported as :class:`Failed`, with the reason the worker could not start.

Results come back as frames on a pipe (:mod:`derive.core.frames`), awaited with ``poll``, so a
caller with more than 1024 open files can wait, and any deadline, however far, is valid.
"""

from __future__ import annotations

import os
import pickle
import signal
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from derive.core import frames

#: Memory the worker may use beyond what the parent had when it forked.
WORKER_MEMORY = 4 * 2**30

#: How the reason of a task that never ran because no worker could start begins.
NOT_STARTED = "could not start a worker process"



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
        try:
            results.extend(_run_in_child(tasks, len(results), seconds))
        except OSError as error:  # fork or pipe refused: BlockingIOError, ENOMEM, EMFILE, ...
            reason = f"{NOT_STARTED} ({type(error).__name__}: {error})"
            results.extend(Failed(reason) for _ in range(len(tasks) - len(results)))
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
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads: we exec nothing
            pid = os.fork()
    except BaseException:
        os.close(read_end)
        os.close(write_end)
        raise
    if pid == 0:  # the child: never returns
        os.close(read_end)
        _child(tasks, start, write_end)
    os.close(write_end)
    results: list[object] = []
    reader = frames.FrameReader(read_end)
    try:
        while start + len(results) < len(tasks):
            frame = reader.next_frame(seconds)
            if frame is frames.TIMEOUT:
                results.append(TimedOut(seconds))
                break
            if frame is frames.CLOSED:
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
            frames.send(write_end, data)
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
