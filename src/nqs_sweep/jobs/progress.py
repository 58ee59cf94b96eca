"""Progress for long loops: a redrawn bar on a terminal, periodic lines in a log."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, total: int, start: int = 0, label: str = "", stream: TextIO | None = None, every_s: float = 10.0):
        self.total, self.label = total, label
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.every_s = every_s
        self._last = 0.0
        self._t0 = time.perf_counter()
        self._start = start

    def update(self, done: int, text: str = "") -> None:
        now = time.perf_counter()
        final = done >= self.total
        if not final and now - self._last < (0.2 if self.tty else self.every_s):
            return
        self._last = now
        rate = (done - self._start) / max(now - self._t0, 1e-9)
        eta = (self.total - done) / rate if rate > 0 else float("nan")
        frac = done / self.total
        if self.tty:
            bar = "#" * int(30 * frac) + "." * (30 - int(30 * frac))
            self.stream.write(f"\r{self.label} [{bar}] {done}/{self.total} {rate:.1f} it/s eta {eta:.0f}s {text}\x1b[K")
            if final:
                self.stream.write("\n")
        else:
            self.stream.write(f"{self.label} {done}/{self.total} ({100 * frac:.0f}%) {rate:.1f} it/s eta {eta:.0f}s {text}\n")
        self.stream.flush()
