"""Where the judged function runs: a thread of its own, or a child process; a time limit per call.

:class:`Isolated` runs each call of the function either

* on a **thread** of its own (the default of ``check_implementation``: no cost beyond the
  call), so that a call that does not return within ``time_limit`` seconds is abandoned (it may
  go on running in the background) and is the function's failure, ``Stopped("did not return
  within 60 s (the time limit)")``; whatever the code raises, ``SystemExit``,
  ``KeyboardInterrupt``, ``GeneratorExit`` and other ``BaseException`` subclasses included, is
  its failure, never derive's.  A real Ctrl-C arrives on the caller's (main) thread, and stops
  the check; a ``KeyboardInterrupt`` on the call's thread was raised by the code.  The code
  still shares derive's process: ``os._exit()`` or a crash of the interpreter ends both, a C
  routine that never releases the GIL can hang both, and ``signal.signal`` in the code raises
  (only the main thread may set handlers), which is its failure;
* or in a **forked child process** (``process=True``; ``derive check-impl`` does this), which
  also keeps ``os._exit()``, crashes, signal handlers and threads of the code away from derive:
  ending the child is the function's failure, and a call that overruns is stopped for good (the
  child is killed with ``SIGKILL``; the next call gets a fresh one).  The child inherits the
  function (nothing of it is pickled); each input is written into memory shared with it, and the
  loss and gradients come back, as float64 arrays, through a pipe.  The child ignores
  ``SIGINT``: a real Ctrl-C reaches derive, which stops and kills the child.  What the function
  prints (``sys.stdout``, ``sys.stderr``) comes back with its result and is written to the
  caller's streams; what it writes to file descriptors goes where the caller's descriptors go.
  The function's state (globals it changes, a counter) carries from one call to the next within
  a check, but never back to the caller; torch runs on one thread there.  It costs a fork per check and, since both processes
  then fault on every shared page they write (CPython's reference counts, NumPy's reused heap),
  about twice the CPU time of the thread at CS231n's size (N = 500, D = 3073, K = 10);
  where there is no ``fork`` (Windows), or where this process has initialised CUDA (a forked
  child cannot use it), the thread runs the calls instead.
"""

from __future__ import annotations

import _thread
import atexit
import io
import math
import mmap
import os
import pickle
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable

import numpy as np

from derive.core import frames
from derive.implementation.conventions import Convention, Output, UserCodeError, call
from derive.oracle.batch import BatchLoss, Problem


class Stopped(UserCodeError):
    """The call ran past the time limit, or ended its process: the function's failure, and not
    one that calling it another way (the other layout of W) could avoid."""


class Isolated:
    """Calls of ``fn`` at problems of one shape, each within ``time_limit`` seconds.

    Use it as a context manager (a child is stopped on leaving); ``isolated(convention,
    problem)`` returns what :func:`~derive.implementation.conventions.call` returns, or raises
    its :class:`UserCodeError`.

    Examples
    --------
    >>> import numpy as np
    >>> from derive.oracle.batch import batch_loss
    >>> problem = Problem(np.ones((2, 3)), None, np.ones((4, 2)), np.array([0, 1, 2, 0]), 0.0)
    >>> convention = Convention("numpy", "DxK", bias=False, takes_reg=False)
    >>> def endless(W, X, y):
    ...     while True:
    ...         pass
    >>> softmax = batch_loss("softmax-cross-entropy")
    >>> with Isolated(endless, softmax, np.float64, 0.2, process=True) as isolated:
    ...     isolated(convention, problem)
    Traceback (most recent call last):
    ...
    derive.implementation.isolation.Stopped: did not return within 0.2 s (the time limit)
    """

    def __init__(self, fn: Callable, loss: BatchLoss, dtype, time_limit: float,
                 process: bool = False):
        self.fn, self.loss, self.dtype, self.time_limit = fn, loss, dtype, time_limit
        self.process = process
        self._child: _Child | None = None
        self._deferred = None  # a submitted call that runs on a thread, in result()
        self._started = 0.0

    def __enter__(self) -> "Isolated":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._child is not None:
            self._child.stop()
            self._child = None

    def __call__(self, convention: Convention, problem: Problem) -> Output:
        self.submit(convention, problem)
        return self.result()

    def submit(self, convention: Convention, problem: Problem) -> None:
        """Start the call (in a child process; on a thread it starts in :meth:`result`): the
        caller may work meanwhile.  One call at a time."""
        self._started = time.monotonic()
        if not (self.process and _can_fork()):
            self._deferred = (convention, problem)
            return
        self._deferred = None
        if self._child is None or not self._child.fits(problem):
            self.close()
            self._child = _Child(self.fn, self.loss, self.dtype, problem)
        self._child.submit(convention, problem)

    def result(self) -> Output:
        """The submitted call's output, or its :class:`UserCodeError`; the time limit counts
        from :meth:`submit` (in a child process) or from now (on a thread)."""
        if self._deferred is not None:
            convention, problem = self._deferred
            self._deferred = None
            pending = start_thread(lambda: call(self.fn, convention, self.loss, problem,
                                                 self.dtype))
            return thread_result(pending, time.monotonic() + self.time_limit, self.time_limit)
        deadline = self._started + self.time_limit
        try:
            return self._child.result(deadline, self.time_limit)
        except UserCodeError:
            if not self._child.alive:
                self.close()
            raise


def _can_fork() -> bool:
    """Whether a forked child can run the function: there is ``fork``, and CUDA is not yet
    initialised in this process (a forked child cannot use it then; the thread runs it)."""
    if not hasattr(os, "fork"):
        return False
    torch = sys.modules.get("torch")
    try:
        return not (torch is not None and torch.cuda.is_initialized())
    except BaseException:  # a torch without a usable cuda module
        return True


def start_thread(task: Callable[[], Output]):
    """``task()`` started on a thread of its own: ``(done, outcome)``, a lock released when it
    ends and a list that gets the result or the exception.  A bare thread (``_thread``): no
    handshake at its start, and nothing waits for it at exit if it never ends."""
    outcome: list = []
    done = _thread.allocate_lock()
    done.acquire()

    def run() -> None:
        try:
            outcome.append(task())
        except BaseException as error:  # reported by thread_result, on the caller's thread
            outcome.append(error)
        finally:
            done.release()

    _thread.start_new_thread(run, ())
    return done, outcome


def thread_result(pending, deadline: float, seconds: float) -> Output:
    done, outcome = pending
    # In slices (frames.WAIT_SLICE says why): a Ctrl-C the kernel gave another thread (torch's,
    # BLAS's) does not interrupt this wait, and Python raises it only when the wait returns.
    while not done.acquire(timeout=min(frames.WAIT_SLICE, max(0.0, deadline - time.monotonic()))):
        if time.monotonic() >= deadline:
            raise Stopped(_overran(seconds))
    if isinstance(outcome[0], UserCodeError):
        raise outcome[0]
    if isinstance(outcome[0], BaseException):
        raise UserCodeError(f"raised {type(outcome[0]).__name__}") from None
    return outcome[0]


def _overran(seconds: float) -> str:
    return f"did not return within {seconds:g} s (the time limit)"


class _Child:
    """One forked child serving calls; the inputs travel through shared memory, as large as the
    first problem's (the later ones of a check are as large or smaller)."""

    def __init__(self, fn, loss: BatchLoss, dtype, problem: Problem):
        self.shared = _borrow(max(1, _size(_layout(problem))))
        self.capacity = len(self.shared)
        _reap_finished()
        requests, self.requests = os.pipe()
        self.replies, replies = os.pipe()
        _flush((sys.stdout, sys.stderr))  # nothing buffered is written twice
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads: we exec nothing
            self.pid = os.fork()
        if self.pid == 0:  # the child: never returns
            os.close(self.requests)
            os.close(self.replies)
            _serve(fn, loss, dtype, self.shared, requests, replies)
        os.close(requests)
        os.close(replies)
        self.reader = frames.FrameReader(self.replies)
        self.alive = True

    def fits(self, problem: Problem) -> bool:
        return self.alive and _size(_layout(problem)) <= self.capacity

    def submit(self, convention: Convention, problem: Problem) -> None:
        layout = _layout(problem)
        for name, view in _views(self.shared, layout).items():
            view[...] = getattr(problem, name)
        message = pickle.dumps((convention, problem.reg, layout))
        try:
            frames.send(self.requests, message)
            self.unsent = False
        except OSError:  # the child is gone already: result() says how
            self.unsent = True

    def result(self, deadline: float, seconds: float) -> Output:
        if self.unsent:
            raise Stopped(self._ended())
        frame = self.reader.next_frame(deadline - time.monotonic())
        if frame is frames.TIMEOUT:
            self.stop()
            raise Stopped(_overran(seconds))
        if frame is frames.CLOSED:
            raise Stopped(self._ended())
        outcome, printed, warned = pickle.loads(frame)
        _echo(sys.stdout, printed)
        _echo(sys.stderr, warned)
        if isinstance(outcome, str):
            raise UserCodeError(outcome)
        return outcome

    def _ended(self) -> str:
        """Why the child is gone: its exit status or the signal that ended it."""
        self.alive = False
        status = None if self.pid is None else _reap(self.pid)
        self.pid = None
        if status is not None and os.WIFSIGNALED(status):
            number = os.WTERMSIG(status)
            try:
                name = signal.Signals(number).name
            except ValueError:
                name = f"signal {number}"
            return f"ended the process (killed by {name})"
        code = os.WEXITSTATUS(status) if status is not None and os.WIFEXITED(status) else "?"
        return f"ended the process (os._exit({code}) or a crash)"

    def stop(self) -> None:
        self.alive = False
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _UNREAPED.append(self.pid)  # reaped later: tearing a large process down takes ms
            self.pid = None
        if self.shared is not None:
            _give_back(self.shared)  # the child that read it is gone
            self.shared = None
        for fd in (self.requests, self.replies):
            try:
                os.close(fd)
            except OSError:
                pass
        self.requests = self.replies = -1


def _layout(problem: Problem) -> dict:
    """Where each array of ``problem`` lies in the shared memory: name -> (shape, offset, bytes)."""
    layout, offset = {}, 0
    for name in ("weights", "bias", "X", "y"):
        value = getattr(problem, name)
        if value is None:
            continue
        shape = tuple(np.shape(value))
        nbytes = 8 * int(np.prod(shape, dtype=np.int64))
        layout[name] = (shape, offset, nbytes)
        offset += nbytes
    return layout


#: Shared memory of children that are gone, kept for the next: a fresh mapping costs a page
#: fault per page on its first use (milliseconds per input at CS231n's size).
_SPARE: list[mmap.mmap] = []
_SPARE_LOCK = threading.Lock()


def _borrow(size: int) -> mmap.mmap:
    """A shared mapping of at least ``size`` bytes that no one else uses."""
    with _SPARE_LOCK:
        for shared in sorted(_SPARE, key=len):
            if len(shared) >= size:
                _SPARE.remove(shared)
                return shared
    return mmap.mmap(-1, size)


def _give_back(shared: mmap.mmap) -> None:
    with _SPARE_LOCK:
        _SPARE.append(shared)
        while sum(len(spare) for spare in _SPARE) > _SPARE_BYTES:
            try:
                _SPARE.pop(0).close()
            except BufferError:  # still viewed somewhere: the garbage collector frees it
                pass


#: At most this many bytes of spare shared memory are kept.
_SPARE_BYTES = 2**30


def _size(layout: dict) -> int:
    return sum(nbytes for _, _, nbytes in layout.values())


def _views(shared: mmap.mmap, layout: dict) -> dict:
    return {name: np.ndarray(shape, np.float64, shared, offset)
            for name, (shape, offset, _) in layout.items()}


def _serve(fn, loss: BatchLoss, dtype, shared: mmap.mmap, requests: int, replies: int) -> None:
    """The child: answer each request with the call's :class:`Output` or its failure's message."""
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a real Ctrl-C is the parent's to handle
        _one_torch_thread()
        streams = (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)
        reader = frames.FrameReader(requests)
        while True:
            frame = reader.next_frame(math.inf)
            if not isinstance(frame, bytes):
                break  # the parent is done (or gone)
            convention, reg, layout = pickle.loads(frame)
            views = _views(shared, layout)
            problem = Problem(views["weights"], views.get("bias"), views["X"], views["y"], reg)
            sys.stdout, sys.stderr = printed, warned = io.StringIO(), io.StringIO()
            outcome = _outcome(lambda: call(fn, convention, loss, problem, dtype))
            _flush(streams)
            try:
                data = pickle.dumps((outcome, printed.getvalue(), warned.getvalue()))
            except BaseException as error:
                data = pickle.dumps((f"returned something derive cannot read back "
                                     f"({type(error).__name__})", "", ""))
            frames.send(replies, data)
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _one_torch_thread() -> None:
    """torch on one thread in the child, as its DataLoader's forked workers: the OpenMP thread
    pool of a parent that already used it does not survive the fork, and a parallel region would
    wait for it forever."""
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            torch.set_num_threads(1)
        except BaseException:  # a torch too broken to set: its calls will report it
            pass


def _outcome(task: Callable[[], Output]) -> Output | str:
    try:
        return task()
    except UserCodeError as error:
        return str(error)
    except BaseException as error:  # anything else the user's objects raise, even while read
        return f"raised {type(error).__name__}"


def _flush(streams) -> None:
    for stream in streams:
        try:
            stream.flush()
        except BaseException:  # a stream the code closed or replaced
            pass


def _echo(stream, text: str) -> None:
    """The child's printed ``text`` on the caller's ``stream`` (nothing if that is closed)."""
    if text and stream is not None:
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError):
            pass


#: Children killed and not yet waited for.
_UNREAPED: list[int] = []


def _reap_finished() -> None:
    """Wait for the killed children that have ended (never blocks); the rest at exit."""
    for pid in list(_UNREAPED):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            _UNREAPED.remove(pid)


@atexit.register
def _reap_all() -> None:
    while _UNREAPED:
        _reap(_UNREAPED.pop())


def _reap(pid: int) -> int | None:
    while True:
        try:
            return os.waitpid(pid, 0)[1]
        except ChildProcessError:
            return None
        except InterruptedError:
            continue


