"""Length-prefixed messages over a pipe, each awaited with a deadline, for any descriptor number.

Both the verifier's worker (:mod:`derive.core.budget`) and the child that runs a user's function
(:mod:`derive.implementation.isolation`) talk to their parent this way.  Waiting uses ``poll``,
which has no ``FD_SETSIZE`` limit (``select`` raises ``ValueError`` for a descriptor numbered 1024
or more, so a caller with many open files could not wait), in slices of at most
:data:`WAIT_SLICE` seconds, so that any deadline, however far (``1e10``, ``math.inf``), is a
valid timeout.

Examples
--------
>>> import os
>>> read_end, write_end = os.pipe()
>>> send(write_end, b"hello")
>>> reader = FrameReader(read_end)
>>> reader.next_frame(1.0)
b'hello'
>>> reader.next_frame(0.01) is TIMEOUT
True
>>> os.close(write_end)
>>> reader.next_frame(1.0) is CLOSED
True
>>> os.close(read_end)
"""

from __future__ import annotations

import math
import os
import select
import struct
import time

#: Longest single wait, in seconds.  POSIX lets the kernel deliver a signal sent to the process
#: (Ctrl-C) to any of its threads that does not block it (Linux picks the main thread when it
#: can; other systems, macOS among them, need not): one taken by another thread (NumPy's BLAS
#: workers, torch's) does not interrupt this thread's ``poll``, and Python raises its
#: ``KeyboardInterrupt`` here only when the wait returns.  Waiting in slices this short makes a
#: Ctrl-C act within a tenth of a second whichever thread took it; far deadlines (``1e10``,
#: ``math.inf``; ``poll`` takes milliseconds as a C int) are waited for slice by slice.
WAIT_SLICE = 0.1

#: What :meth:`FrameReader.next_frame` returns when no frame came in time.
TIMEOUT = object()
#: What :meth:`FrameReader.next_frame` returns at the end of the pipe.
CLOSED = object()

_HEADER = struct.Struct("!Q")


def send(fd: int, data: bytes) -> None:
    """Write ``data`` to ``fd`` as one frame (its length, then the bytes), however many writes."""
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def readable(fd: int, seconds: float) -> bool:
    """Whether ``fd`` is readable (or closed) within ``seconds``; any descriptor number works."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        return bool(poller.poll(math.ceil(seconds * 1000)))
    ready, _, _ = select.select([fd], [], [], seconds)  # pragma: no cover - platforms without poll
    return bool(ready)


class FrameReader:
    """Frames from a pipe, each awaited for at most a given time."""

    def __init__(self, fd: int):
        self.fd = fd
        self.buffer = bytearray()

    def next_frame(self, seconds: float):
        """The next frame's bytes, :data:`CLOSED` at the end of the pipe, or :data:`TIMEOUT` when
        none came within ``seconds`` (``math.inf`` for no limit; a frame already in the pipe
        still counts at ``0``)."""
        deadline = time.monotonic() + seconds if math.isfinite(seconds) else math.inf
        while True:
            if len(self.buffer) >= _HEADER.size:
                (length,) = _HEADER.unpack_from(self.buffer)
                if len(self.buffer) >= _HEADER.size + length:
                    frame = bytes(self.buffer[_HEADER.size:_HEADER.size + length])
                    del self.buffer[:_HEADER.size + length]
                    return frame
            remaining = max(0.0, deadline - time.monotonic())
            if not readable(self.fd, min(remaining, WAIT_SLICE)):
                if remaining <= 0:
                    return TIMEOUT
                continue  # the slice ran out: look at the deadline again
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                return CLOSED
            self.buffer.extend(chunk)
