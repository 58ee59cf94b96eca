"""The one rule every registry (networks, models, optimisers, observables) follows."""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


def add(table: dict[str, T], item: T, kind: str) -> T:
    """Register item under item.name; a different item of the same name is refused, the same
    one again is a no-op (a module imported twice)."""
    name = item.name  # type: ignore[attr-defined]
    if name in table and table[name] != item:
        raise ValueError(f"{kind} {name!r} is already registered")
    table[name] = item
    return item
