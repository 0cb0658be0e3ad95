"""One generic registry: register / make / list, with versioned ids such as ``curve-tracing-v1``."""

from __future__ import annotations

import copy
import re
from typing import Any, Callable, Generic, Iterator, TypeVar

T = TypeVar("T")

_ID = re.compile(r"^(?P<name>[a-z0-9][a-z0-9\-\.]*?)(?:-v(?P<version>\d+))?$")


class UnknownIdError(KeyError, ValueError):
    """An id that is not registered; the message lists the ids that are."""

    def __str__(self) -> str:  # KeyError quotes its message; we want the plain sentence
        return str(self.args[0])


def split_id(id: str) -> tuple[str, int | None]:
    """Split ``"maze-v2"`` into ``("maze", 2)`` and ``"maze"`` into ``("maze", None)``."""
    m = _ID.match(id)
    if m is None:
        raise ValueError(f"malformed id {id!r}: expected lower-case words joined by '-', optionally ending in '-vN'")
    v = m.group("version")
    return m.group("name"), (int(v) if v is not None else None)


class Registry(Generic[T]):
    """A named collection of entries (classes, specs or factories) addressed by versioned ids.

    ``make(id, **overrides)`` calls ``factory(entry, **overrides)``; an id without ``-vN`` resolves to the
    newest version. A duplicate id is an error.

    Example
    -------
    >>> r = Registry("model", factory=lambda spec, **kw: {**spec, **kw})
    >>> r.register("toy-v1", {"width": 8})
    >>> r.make("toy", width=16)
    {'width': 16}
    """

    def __init__(self, kind: str, factory: Callable[..., Any] | None = None) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._factory = factory

    def register(self, id: str, entry: T) -> T:
        name, version = split_id(id)
        if version is None:
            raise ValueError(f"{self.kind} id {id!r} needs a version suffix such as '{id}-v1'")
        if id in self._entries:
            raise ValueError(f"{self.kind} id {id!r} is already registered")
        self._entries[id] = entry
        return entry

    def resolve(self, id: str) -> str:
        """Return the full id (newest version when ``id`` has none); raise :class:`UnknownIdError`."""
        if id in self._entries:
            return id
        try:
            name, version = split_id(id)
        except ValueError:
            name, version = id, None
        if version is None:
            versions = [split_id(k)[1] for k in self._entries if split_id(k)[0] == name]
            if versions:
                return f"{name}-v{max(versions)}"
        raise UnknownIdError(f"unknown {self.kind} {id!r}; expected one of: {', '.join(self.list()) or '(none)'}")

    def get(self, id: str) -> T:
        return self._entries[self.resolve(id)]

    def make(self, id: str, **overrides: Any) -> Any:
        entry = self.get(id)
        if self._factory is None:
            return copy.deepcopy(entry)
        return self._factory(entry, **copy.deepcopy(overrides))

    def list(self) -> list[str]:
        return sorted(self._entries)

    def names(self) -> list[str]:
        """Ids without versions, newest version only."""
        return sorted({split_id(k)[0] for k in self._entries})

    def latest(self) -> list[str]:
        """The newest version of every name (``["maze-v2", "scenes-v1", ...]``), sorted by name."""
        return [self.resolve(name) for name in self.names()]

    def __contains__(self, id: object) -> bool:
        try:
            self.resolve(str(id))
            return True
        except (UnknownIdError, ValueError):
            return False

    def __iter__(self) -> Iterator[str]:
        return iter(self.list())

    def __len__(self) -> int:
        return len(self._entries)
