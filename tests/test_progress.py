"""The progress line: its rate and ETA leave the first unit (the compilation) out."""

import io

import nqs_sweep.jobs.progress as progress


def test_the_eta_leaves_the_compilation_out(monkeypatch):
    clock = iter([160.0, 161.0, 170.0])  # unit 1 ends at 160 s (compiling since 0), then 1 s per unit
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))
    out = io.StringIO()
    bar = progress.Progress(100, 0, label="vmc", stream=out, every_s=0.0)
    bar.update(1)  # t = 160: the first unit ends; no rate yet
    assert "compiling" in out.getvalue() and "eta after compilation" in out.getvalue()
    bar.update(2)  # t = 161
    bar.update(11)  # t = 170: 10 units in 10 s since the first
    last = out.getvalue().strip().splitlines()[-1]
    assert "1.0 it/s" in last and "eta 89s" in last


def test_a_terminal_gets_rich_bar_with_the_same_rate_and_eta(monkeypatch):
    clock = iter([160.0, 170.0])  # unit 1 ends at 160 s, unit 11 at 170 s: 1 unit/s after compiling
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    out = Terminal()
    bar = progress.Progress(100, 0, label="vmc", stream=out, every_s=0.0)
    bar.update(1)
    bar.update(11)
    text = out.getvalue()
    assert "\x1b[" in text  # drawn with terminal control sequences, by rich
    assert "11/100" in text and "1.0 it/s" in text and "eta 89s" in text
    bar.close()
    bar.close()  # idempotent: the loop's finally and a final update may both close it
