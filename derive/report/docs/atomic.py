"""Write a set of files all at once, or not at all.

Every file is first written in full to a temporary file in the target
folder; only then are they renamed into place.  If anything fails on the way
(an unwritable folder, a full disk, an error while renaming), the files that
were already replaced get their old contents back, every temporary file is
removed, and the error is raised again: the folder is left as it was.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path


def write_files(folder: Path, files: Mapping[str, bytes]) -> list[Path]:
    """Write ``files`` (name -> bytes) into ``folder`` together; return the paths.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> [p.name for p in write_files(folder, {"a.txt": b"A", "b.txt": b"B"})]
    ['a.txt', 'b.txt']
    >>> sorted(p.name for p in folder.iterdir())
    ['a.txt', 'b.txt']
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    mode = _default_mode()
    staged: dict[Path, Path] = {}  # target -> temporary holding its new contents
    backups: dict[Path, Path | None] = {}  # target -> temporary holding its old contents
    try:
        for name, data in files.items():
            target = folder / name
            staged[target] = _temporary_with(folder, name, data, mode)
        for target, temporary in staged.items():
            backups[target] = _backup(target)
            os.replace(temporary, target)
    except BaseException:
        _roll_back(staged, backups)
        raise
    for backup in backups.values():
        if backup is not None:
            backup.unlink()
    return list(staged)


def _temporary_with(folder: Path, name: str, data: bytes, mode: int) -> Path:
    descriptor, path = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(path, mode)
    except BaseException:
        Path(path).unlink(missing_ok=True)
        raise
    return Path(path)


def _backup(target: Path) -> Path | None:
    """A hard link to ``target``'s current contents, or None if it does not exist."""
    if not target.exists():
        return None
    descriptor, path = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".old")
    os.close(descriptor)
    os.unlink(path)
    os.link(target, path)
    return Path(path)


def _roll_back(staged: dict[Path, Path], backups: dict[Path, Path | None]) -> None:
    for target, backup in backups.items():
        if backup is not None and os.path.samefile(backup, target):
            backup.unlink()  # never replaced (rename between two links to one file is a no-op)
        elif backup is not None:
            os.replace(backup, target)  # the old contents, back in place
        elif not staged[target].exists():
            target.unlink(missing_ok=True)  # it was new: remove it again
    for temporary in staged.values():
        temporary.unlink(missing_ok=True)


def _default_mode() -> int:
    """Permissions a plain ``open(path, "w")`` would give: 0o666 less the umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
