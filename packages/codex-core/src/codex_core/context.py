"""The context handed to component factories that accept a ``context`` argument."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from codex_core.registry import Registry


def _default_cache_dir() -> Path:
    from codex_core.runs import cache_root

    return cache_root()


@dataclass
class BuildContext:
    """Where and for whom a component is built.

    :ivar registry: the registry, so a component can build others by name
        (a dataset asks for *a* tokenizer without importing its package).
    :ivar run_dir: the run directory, or None outside a run.
    :ivar cache_dir: the cache root (``CODEX_HOME``); components keep their caches below it.
    :ivar seed: the run's seed.
    :ivar rank: this process's rank in a distributed run (0 otherwise).
    :ivar world_size: the number of processes in the run (1 otherwise).
    :ivar device: the device string the run uses (``"cpu"``, ``"cuda:0"``, ...).
    :ivar tokenizer: the run's tokenizer once it is built (the engine builds it first), so
        a model can take its vocabulary size and special-token ids from it; None otherwise.
    """

    registry: Registry
    run_dir: Path | None = None
    cache_dir: Path = field(default_factory=_default_cache_dir)
    seed: int = 0
    rank: int = 0
    world_size: int = 1
    device: str = "cpu"
    tokenizer: Any = None

    def build(self, kind: str, ref: Any, params: Mapping[str, Any] | None = None) -> Any:
        """Build another component by name with this same context."""
        return self.registry.build(kind, ref, params, context=self)
