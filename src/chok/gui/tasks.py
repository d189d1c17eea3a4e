"""Blocking work off the UI thread, results back on it.

Two tools, both built on one rule: a signal of a QObject that lives on the UI
thread, emitted from any other thread, is delivered on the UI thread.

* ``UiCaller.post(fn)``: from any thread, run ``fn`` soon on the UI thread
  (listener callbacks, talk and replay loops report progress this way).
* ``TaskRunner.run(fn, on_done, on_error)``: run ``fn`` on a pool thread; its
  result or its error message comes back on the UI thread. A ``ChokError``
  becomes its user-friendly text; anything else becomes one line too (and its
  traceback goes to the log), never a crash of the window.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QThreadPool, Signal, Slot

from chok.errors import ChokError

T = TypeVar("T")
log = logging.getLogger("chok.gui")


def error_text(exc: BaseException) -> str:
    """What a person reads: chok's message, or one line naming the unexpected error."""
    if isinstance(exc, ChokError):
        return str(exc)
    log.error("unexpected error", exc_info=exc)
    detail = str(exc).splitlines()[0] if str(exc) else ""
    return f"unexpected error: {type(exc).__name__}{': ' + detail if detail else ''}"


class UiCaller(QObject):
    """Run callables on the thread this object lives on (the UI thread)."""

    _call = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._call.connect(self._run)
        self.closed = False

    def post(self, fn: Callable[[], None]) -> None:
        if self.closed:
            return
        try:
            self._call.emit(fn)
        except RuntimeError:  # the window was closed and this object deleted meanwhile
            self.closed = True

    @Slot(object)
    def _run(self, fn: Callable[[], None]) -> None:
        if not self.closed:
            fn()


class TaskRunner(QObject):
    """A small pool of worker threads for one-off jobs (load, react, export, connect)."""

    _finished = Signal(int, bool, object)

    def __init__(self, parent: QObject | None = None, max_threads: int = 6) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._tokens = itertools.count()
        self._pending: dict[int, tuple[Callable[[Any], None] | None, Callable[[str], None] | None]]
        self._pending = {}
        self._finished.connect(self._deliver)
        self.closed = False

    def run(
        self,
        fn: Callable[[], T],
        on_done: Callable[[T], None] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        token = next(self._tokens)
        self._pending[token] = (on_done, on_error)

        def job() -> None:
            try:
                result: object = fn()
                ok = True
            except Exception as exc:  # every error becomes a message for the UI
                result, ok = error_text(exc), False
            # RuntimeError: the runner is gone (window closed), nobody to tell.
            with contextlib.suppress(RuntimeError):
                self._finished.emit(token, ok, result)

        self._pool.start(job)

    @property
    def idle(self) -> bool:
        """No job running or waiting (then this runner may be deleted without blocking)."""
        return self._pool.activeThreadCount() == 0 and not self._pending

    @Slot(int, bool, object)
    def _deliver(self, token: int, ok: bool, payload: object) -> None:
        on_done, on_error = self._pending.pop(token, (None, None))
        if self.closed:
            return
        if ok and on_done is not None:
            on_done(payload)
        elif not ok and on_error is not None:
            on_error(str(payload))

    def shutdown(self, wait_ms: int = 5000) -> bool:
        """Stop delivering results; wait (bounded) for running jobs to end."""
        self.closed = True
        return self._pool.waitForDone(wait_ms)
