"""Load the function to judge from ``path/to/file.py:function``.

Importing the file runs it: this is the user's own code, executed in this process as
``python file.py`` would (minus its ``if __name__ == "__main__":`` block).  Nothing else that a
user types is executed: the loss name, sizes and options are parsed as data.

The import has ``time_limit`` seconds (on the main thread, where ``SIGALRM`` exists), and any
exception it raises is a :class:`LoadError`, ``SystemExit`` and other ``BaseException`` subclasses
included, except ``KeyboardInterrupt``: in this process a Ctrl-C and a ``KeyboardInterrupt``
raised by the file are the same thing, and a Ctrl-C must stop derive.  Signal handlers the file
installs are put back as they were.  :func:`stdout_to_stderr` keeps what the file and the function
write, even to file descriptor 1, off standard output.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import os
import signal
import sys
import threading
import zlib
from pathlib import Path


class LoadError(ValueError):
    """The target cannot be loaded: no such file, not Python, no such function, or importing
    the file raised.  The message is one line."""


def split_target(target: str) -> tuple[Path, str]:
    """``"dir/file.py:name"`` as ``(Path("dir/file.py"), "name")``.

    Examples
    --------
    >>> split_target("impl/softmax.py:softmax_loss_vectorized")
    (PosixPath('impl/softmax.py'), 'softmax_loss_vectorized')
    >>> split_target("softmax.py")
    Traceback (most recent call last):
    ...
    derive.implementation.loader.LoadError: expected FILE.py:FUNCTION, got 'softmax.py'
    """
    path, colon, name = target.rpartition(":")
    if not colon or not path or not name:
        raise LoadError(f"expected FILE.py:FUNCTION, got {target!r}")
    if not name.replace(".", "_").isidentifier():
        raise LoadError(f"{name!r} is not a Python name")
    return Path(path), name


class _ImportTimedOut(BaseException):
    """Raised by the alarm in the file's import: not an ``Exception``, so ``except Exception``
    in the file does not swallow it."""


def load_function(target: str, time_limit: float = math.inf):
    """The function ``target`` names (``file.py:function`` or ``file.py:Class.method``); the
    import may take ``time_limit`` seconds."""
    path, name = split_target(target)
    if path.suffix != ".py":
        raise LoadError(f"{path}: not a Python file (expected a .py file)")
    if not path.is_file():
        raise LoadError(f"{path}: no such file")
    module_name = f"derive_judged_{zlib.crc32(str(path.resolve()).encode()):08x}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look modules up by name
    directory = str(path.resolve().parent)
    sys.path.insert(0, directory)  # the file's own sibling imports, as `python file.py` allows
    try:
        with _signals_kept(), _deadline(time_limit):
            spec.loader.exec_module(module)
    except _ImportTimedOut:
        raise LoadError(f"importing {path} did not finish within {time_limit:g} s "
                        f"(the time limit)") from None
    except KeyboardInterrupt:
        raise
    except SyntaxError as error:
        raise LoadError(f"{path}:{error.lineno}: syntax error: {error.msg}") from None
    except SystemExit as error:  # exit() at import must not end derive with the file's status
        raise LoadError(f"importing {path} called exit({error.code!r})") from None
    except Exception as error:  # the user's module failed at import: report it in one line
        text = str(error).strip().splitlines()
        hint = (" (PyTorch functions need the extra: pip install 'derive[torch]')"
                if isinstance(error, ModuleNotFoundError) and error.name == "torch" else "")
        raise LoadError(f"importing {path} raised {type(error).__name__}: "
                        f"{text[0] if text else '(no message)'}{hint}") from None
    except BaseException as error:  # GeneratorExit, a class of the file's own
        raise LoadError(f"importing {path} raised {type(error).__name__}") from None
    finally:
        if sys.path and sys.path[0] == directory:
            sys.path.pop(0)
    found = module
    for part in name.split("."):
        if not hasattr(found, part):
            raise LoadError(f"{path} has no {name!r}")
        found = getattr(found, part)
    if not callable(found):
        raise LoadError(f"{path}:{name} is not a function")
    return found


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def _deadline(seconds: float):
    """Raise :class:`_ImportTimedOut` in the block after ``seconds`` (on the main thread, where
    ``SIGALRM`` exists; elsewhere no deadline)."""
    if not math.isfinite(seconds) or not hasattr(signal, "setitimer") or not _on_main_thread():
        yield
        return

    def expire(signum, frame):
        signal.setitimer(signal.ITIMER_REAL, 1.0)  # again each second, if the file catches it
        raise _ImportTimedOut

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _signals_kept():
    """Put back every Python-level signal handler the block changed (the file's own)."""
    if not _on_main_thread():
        yield
        return
    kept = {}
    for number in signal.valid_signals():
        try:
            handler = signal.getsignal(number)
        except (OSError, ValueError):
            continue
        if handler is not None:
            kept[number] = handler
    try:
        yield
    finally:
        for number, handler in kept.items():
            try:
                if signal.getsignal(number) is not handler:
                    signal.signal(number, handler)
            except (OSError, ValueError, TypeError):
                pass


@contextlib.contextmanager
def stdout_to_stderr():
    """Standard output goes to standard error in the block, at the file descriptor level too
    (``os.write(1, ...)``, ``os.system("echo")``, a child process), so that what derive prints
    after it (a report, its JSON) is all that standard output carries; to ``os.devnull`` when
    standard error is closed."""
    with contextlib.redirect_stdout(sys.stderr):
        stderr_open = _is_open(2)
        try:
            _flush_stdout()
            saved = os.dup(1)
        except (OSError, ValueError):
            yield  # no descriptor 1 to keep clean
            return
        sink = None
        try:
            if stderr_open:
                os.dup2(2, 1)
            else:
                sink = os.open(os.devnull, os.O_WRONLY)
                os.dup2(sink, 1)
            yield
        finally:
            _flush_stdout()
            os.dup2(saved, 1)
            os.close(saved)
            if sink is not None:
                os.close(sink)


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


def _flush_stdout() -> None:
    for stream in (sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
