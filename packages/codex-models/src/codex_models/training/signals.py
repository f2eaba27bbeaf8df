"""Ctrl-C and SIGTERM during training: the first one asks the loop to stop after the current
step (it then writes a checkpoint and exits 130 or 143); a second Ctrl-C stops at once."""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import Any


class StopSignals:
    """Catches SIGINT and SIGTERM between :meth:`install` and :meth:`restore` (only in the
    main thread, where Python allows handlers); :attr:`received` is the first one caught."""

    def __init__(self, *, announce: bool = True) -> None:
        self.received: int | None = None
        self.announce = announce
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._on_signal)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    @property
    def name(self) -> str | None:
        return signal.Signals(self.received).name if self.received is not None else None

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None:  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.received = signum
        if self.announce:
            print(f"\n{signal.Signals(signum).name}: finishing this step and writing a checkpoint "
                  "(press Ctrl-C again to stop at once)", file=sys.stderr, flush=True)
