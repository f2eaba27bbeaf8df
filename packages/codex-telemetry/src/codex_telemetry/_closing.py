"""A context-manager base for loggers: ``with Logger(...) as log:`` closes it on exit."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from typing_extensions import Self


class Closing:
    """``__enter__`` returns the logger; ``__exit__`` calls its ``close()``."""

    def close(self) -> Any:  # pragma: no cover - every logger defines its own
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
