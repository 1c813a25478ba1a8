"""Load the function to judge from ``path/to/file.py:function``.

Importing the file runs it: this is the user's own code, executed in this process as
``python file.py`` would (minus its ``if __name__ == "__main__":`` block).  Nothing else that a
user types is executed: the loss name, sizes and options are parsed as data.
"""

from __future__ import annotations

import importlib.util
import sys
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


def load_function(target: str):
    """The function ``target`` names (``file.py:function`` or ``file.py:Class.method``)."""
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
        spec.loader.exec_module(module)
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
