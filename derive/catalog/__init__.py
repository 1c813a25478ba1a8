"""The shipped derivation documents: common losses, each a checked Markdown file.

>>> "softmax-cross-entropy" in names()
True
>>> entry("softmax-cross-entropy").title
'Softmax cross-entropy of a linear classifier'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

#: The seed's derivation, first in every listing.
SEED = "softmax-cross-entropy"


class UnknownLossError(ValueError):
    """A name that is not in the catalog."""


@dataclass(frozen=True)
class Entry:
    name: str
    path: Path
    title: str
    summary: str

    @property
    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")


def _folder() -> Path:
    return Path(str(resources.files(__name__)))


def names() -> list[str]:
    """The catalog's document names, the seed first, then alphabetically."""
    found = sorted(p.stem for p in _folder().glob("*.md"))
    return sorted(found, key=lambda name: (name != SEED, name))


def _front(text: str) -> dict[str, str]:
    match = re.match(r"---\n(.*?)\n---", text, re.DOTALL)
    pairs = (line.partition(":") for line in (match.group(1).splitlines() if match else ()))
    return {key.strip(): value.strip() for key, _, value in pairs if value}


def entry(name: str) -> Entry:
    """The catalog document ``name`` (``UnknownLossError`` when there is none)."""
    if name not in names():
        raise UnknownLossError(f"no loss named {name!r} in the catalog; known: {', '.join(names())}")
    path = _folder() / f"{name}.md"
    front = _front(path.read_text(encoding="utf-8"))
    return Entry(name, path, front.get("title", name), front.get("summary", ""))
