"""Progress for long loops: a redrawn bar on a terminal, periodic lines in a log.

The rate and the ETA are measured from the end of the first unit: the first one carries the
compilation (seconds to minutes), and averaging it in made the first ETAs 50-100x too long.
"""

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
        self._first: tuple[float, int] | None = None

    def update(self, done: int, text: str = "") -> None:
        now = time.perf_counter()
        if self._first is None:  # the clock starts after the first unit (compilation)
            self._first = (now, done)
        final = done >= self.total
        if not final and now - self._last < (0.2 if self.tty else self.every_s):
            return
        self._last = now
        t0, d0 = self._first
        rate = (done - d0) / (now - t0) if done > d0 and now > t0 else float("nan")
        eta = (self.total - done) / rate if rate > 0 else float("nan")
        eta_text = f"eta {eta:.0f}s" if eta == eta else "eta after compilation"
        rate_text = f"{rate:.1f} it/s" if rate == rate else "compiling"
        frac = done / self.total
        if self.tty:
            bar = "#" * int(30 * frac) + "." * (30 - int(30 * frac))
            self.stream.write(f"\r{self.label} [{bar}] {done}/{self.total} {rate_text} {eta_text} {text}\x1b[K")
            if final:
                self.stream.write("\n")
        else:
            self.stream.write(f"{self.label} {done}/{self.total} ({100 * frac:.0f}%) {rate_text} {eta_text} {text}\n")
        self.stream.flush()
