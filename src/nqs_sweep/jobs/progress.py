"""Progress for long loops: rich's live bar on a terminal, periodic plain lines in a log.

The rate and the ETA are measured from the end of the first unit: the first one carries the
compilation (seconds to minutes), and averaging it in made the first ETAs 50-100x too long.
rich draws the bar (terminal width, redraws, the cursor); its own ETA column averages from the
start, so the rate and ETA shown are ours. A log (Snakemake redirects every job's output to a
file) gets a line every ``every_s`` seconds instead of a bar.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn
from rich.progress import Progress as RichProgress


class Progress:
    def __init__(self, total: int, start: int = 0, label: str = "", stream: TextIO | None = None, every_s: float = 10.0):
        self.total, self.label = total, label
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.every_s = every_s
        self._last = 0.0
        self._first: tuple[float, int] | None = None
        self._bar: RichProgress | None = None
        if self.tty:
            console = Console(file=self.stream, force_terminal=True)
            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"))
            self._bar = RichProgress(*columns, console=console, transient=False, auto_refresh=False)
            self._task = self._bar.add_task(label, total=total, completed=start, info="compiling")
            self._bar.start()

    def _rate_and_eta(self, done: int, now: float) -> tuple[str, str]:
        t0, d0 = self._first
        rate = (done - d0) / (now - t0) if done > d0 and now > t0 else float("nan")
        eta = (self.total - done) / rate if rate > 0 else float("nan")
        eta_text = f"eta {eta:.0f}s" if eta == eta else "eta after compilation"
        rate_text = f"{rate:.1f} it/s" if rate == rate else "compiling"
        return rate_text, eta_text

    def update(self, done: int, text: str = "") -> None:
        now = time.perf_counter()
        if self._first is None:  # the clock starts after the first unit (compilation)
            self._first = (now, done)
        final = done >= self.total
        if not final and now - self._last < (0.2 if self.tty else self.every_s):
            return
        self._last = now
        rate_text, eta_text = self._rate_and_eta(done, now)
        if self._bar is not None:
            self._bar.update(self._task, completed=done, info=f"{rate_text} {eta_text} {text}", refresh=True)
            if final:
                self.close()
            return
        self.stream.write(f"{self.label} {done}/{self.total} ({100 * done / self.total:.0f}%) {rate_text} {eta_text} {text}\n")
        self.stream.flush()

    def close(self) -> None:
        """Leave the terminal as it was (the bar's last state stays on its line); idempotent."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
