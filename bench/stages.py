"""Where the time goes: wall time per pipeline stage, exclusive of nested stages.

``StageTimer.wrap(owner, name, stage)`` replaces ``owner.name`` (a module function, or a
method on a class) by a timed copy; time spent in a stage is charged to it minus the time of
stages nested inside it, so the stages add up to the measured total and ``other`` is what no
stage covers (the loop itself, logging, small helpers). ``restore()`` puts the originals back.

Used by ``bench/pipeline.py --profile``: the single path (client send, poll, decrypt, integer
inference, attribution, signing, fulfil RPC, receipt) and the batch path (ingest, decode,
inference, attribution, records, Merkle tree, batch file, journal, commit) per record.
"""

from __future__ import annotations

import functools
import inspect
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from typing import Any


class StageTimer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._local = threading.local()  # per thread: [start, nested seconds] per open stage
        self._patched: list[tuple[Any, str, Any]] = []

    def _timed(self, stage: str, fn: Any) -> Any:
        timer = self

        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def generator(*args: Any, **kwargs: Any) -> Any:
                iterator = fn(*args, **kwargs)
                while True:  # each step of the generator is timed as a call
                    with timer.span(stage):
                        try:
                            item = next(iterator)
                        except StopIteration:
                            return
                    yield item
            return generator

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with timer.span(stage):
                return fn(*args, **kwargs)
        return wrapper

    @property
    def _stack(self) -> list[list[float]]:
        if not hasattr(self._local, "stack"):
            self._local.stack = []
        return self._local.stack

    def span(self, stage: str) -> _Span:
        return _Span(self, stage)

    def wrap(self, owner: Any, name: str, stage: str) -> None:
        original = inspect.getattr_static(owner, name)
        if isinstance(original, property):
            assert original.fget is not None
            replacement: Any = property(self._timed(stage, original.fget))
        elif isinstance(original, staticmethod | classmethod):
            replacement = type(original)(self._timed(stage, original.__func__))
        else:
            replacement = self._timed(stage, original)
        self._patched.append((owner, name, original))
        setattr(owner, name, replacement)

    def wrap_context(self, owner: Any, name: str, stage: str) -> None:
        """A method returning a context manager (a journal transaction): its entry and exit
        (the commit) are timed, the block inside is not."""
        original = inspect.getattr_static(owner, name)
        timer = self

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with timer.span(stage):
                manager = original(*args, **kwargs)
            return _TimedContext(timer, stage, manager)

        self._patched.append((owner, name, original))
        setattr(owner, name, wrapper)

    def wrap_all(self, items: Iterable[tuple[Any, str, str]]) -> None:
        for owner, name, stage in items:
            self.wrap(owner, name, stage)

    def restore(self) -> None:
        for owner, name, original in reversed(self._patched):
            setattr(owner, name, original)
        self._patched.clear()

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()

    def table(self, total_s: float, records: int) -> list[dict[str, Any]]:
        """Rows of stage, microseconds per record, share of the total, calls per record;
        largest first, then ``other`` (the total minus every stage)."""
        rows = [{"stage": stage, "us_per_record": round(seconds / records * 1e6, 1),
                 "percent": round(100 * seconds / total_s, 1),
                 "calls_per_record": round(self.calls[stage] / records, 3)}
                for stage, seconds in sorted(self.seconds.items(), key=lambda kv: -kv[1])]
        other = total_s - sum(self.seconds.values())
        rows.append({"stage": "other", "us_per_record": round(other / records * 1e6, 1),
                     "percent": round(100 * other / total_s, 1), "calls_per_record": None})
        return rows


class _Span:
    def __init__(self, timer: StageTimer, stage: str) -> None:
        self.timer, self.stage = timer, stage

    def __enter__(self) -> None:
        self.timer._stack.append([time.perf_counter(), 0.0])

    def __exit__(self, *exc: Any) -> None:
        started, nested = self.timer._stack.pop()
        elapsed = time.perf_counter() - started
        self.timer.seconds[self.stage] += elapsed - nested
        self.timer.calls[self.stage] += 1
        if self.timer._stack:
            self.timer._stack[-1][1] += elapsed


class _TimedContext:
    def __init__(self, timer: StageTimer, stage: str, manager: Any) -> None:
        self.timer, self.stage, self.manager = timer, stage, manager

    def __enter__(self) -> Any:
        with self.timer.span(self.stage):
            return self.manager.__enter__()

    def __exit__(self, *exc: Any) -> Any:
        with self.timer.span(self.stage):
            return self.manager.__exit__(*exc)
