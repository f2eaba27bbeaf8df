"""The one background thread through which the ``mlflow`` logger reads and writes its store.

Items run in the order they were queued: a job (a callable whose result or error lands on a
future) or a list of MLflow ``Metric``. Metric lists that wait in the queue one after another
are merged and written with a single call, so a run that logs often makes few round trips to
the store. After the first error every later item fails with that error (the logger raises it
on its next call); nothing is retried. MLflow's own log record of a database error on a
writer thread (with its traceback) is dropped (:func:`quiet_store_errors`): the logger's caller
reports that error, once. No mlflow import happens here.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

WRITER_PREFIX = "codex-mlflow-writer-"
"""How the names of the writer threads start."""


class _RaisedOnWriter(logging.Filter):
    """Drops MLflow's "SQLAlchemy database error" record (with its traceback) when it comes
    from a writer thread: the same error is raised by the logger's next call and reported there."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.threadName.startswith(WRITER_PREFIX)
                    and str(record.msg).startswith("SQLAlchemy database error"))


def quiet_store_errors() -> None:
    """Install :class:`_RaisedOnWriter` on MLflow's SQL store logger (once)."""
    store_log = logging.getLogger("mlflow.store.db.utils")
    if not any(isinstance(f, _RaisedOnWriter) for f in store_log.filters):
        store_log.addFilter(_RaisedOnWriter())


class _Job:
    __slots__ = ("fn", "future")

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn
        self.future: Future[Any] = Future()


_STOP = object()


class StoreWriter(threading.Thread):
    """The one thread that talks to the store. Items run in order: a job queued with
    :meth:`submit` (a callable, its result on a future) or a list of MLflow ``Metric`` put on
    :attr:`queue` (consecutive lists are merged and passed to ``write_metrics`` together).
    After the first error (kept in :attr:`error`) every later job fails with it."""

    def __init__(self, name: str, write_metrics: Callable[[list[Any]], None]) -> None:
        super().__init__(name=name, daemon=True)
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.error: BaseException | None = None
        self._write_metrics = write_metrics

    def run(self) -> None:
        carry: Any = None
        while True:
            item = carry if carry is not None else self.queue.get()
            carry = None
            if item is _STOP:
                return
            if isinstance(item, list):
                batch = list(item)
                while True:  # merge the metric lists already waiting
                    try:
                        following = self.queue.get_nowait()
                    except queue.Empty:
                        break
                    if not isinstance(following, list):
                        carry = following
                        break
                    batch += following
                self._execute(functools.partial(self._write_metrics, batch), None)
            else:
                self._execute(item.fn, item.future)

    def _execute(self, fn: Callable[[], Any], future: Future[Any] | None) -> None:
        if self.error is not None:
            if future is not None:
                future.set_exception(self.error)
            return
        try:
            result = fn()
        except Exception as exc:
            self.error = exc
            if future is not None:
                future.set_exception(exc)
        else:
            if future is not None:
                future.set_result(result)

    def submit(self, fn: Callable[[], Any]) -> Future[Any]:
        """Queue ``fn``; the returned future gets its result, or the writer's error."""
        job = _Job(fn)
        self.queue.put(job)
        return job.future

    def stop(self, timeout: float | None = None) -> None:
        """Let the thread finish what is queued, then end it; wait up to ``timeout`` seconds."""
        self.queue.put(_STOP)
        self.join(timeout)


def error_gist(error: BaseException | None) -> str:
    """The telling line of an MLflow/SQLAlchemy error message (they span several lines:
    notes, the SQL, its parameters, a link)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    telling = [line for line in lines if not line.startswith(("(raised as a result", "[SQL", "[parameters", "(Background"))]
    return (telling or lines or [""])[0]
