"""Types shared by the stages of the pure-Python engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from codex_core.errors import CodexError


class UnsupportedComponentError(CodexError):
    """A tokenizer.json component (or an option of one) this engine does not implement.

    Never approximate: raise this, naming the stage, the ``type`` and the option.
    """


def unsupported(stage: str, spec: Any, detail: str = "") -> UnsupportedComponentError:
    kind = spec.get("type", "?") if isinstance(spec, dict) else type(spec).__name__
    extra = f" ({detail})" if detail else ""
    return UnsupportedComponentError(
        f"the pure-Python tokenizer engine does not support {stage} {kind!r}{extra}",
        hint="use the rust backend (pip install 'codex-tokenizers[rust]')",
    )


@dataclass(slots=True)
class Token:
    """A token produced by a model for one pre-tokenized piece.

    ``offsets`` are character offsets into the piece's *normalized* string.
    """

    id: int
    value: str
    offsets: tuple[int, int]


@dataclass
class PureEncoding:
    """An encoding inside the engine (mirrors the library's ``Encoding``).

    ``offsets`` are character offsets into the original input text; ``type_ids`` tell the
    sequence (0 or 1) of each token; ``special_tokens_mask`` is 1 for tokens added by the
    post-processor; ``word_ids`` is the index of the pre-tokenized piece a token came from
    (None for added special tokens); ``sequence_ids`` the input sequence (None for specials).
    """

    ids: list[int] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    offsets: list[tuple[int, int]] = field(default_factory=list)
    type_ids: list[int] = field(default_factory=list)
    special_tokens_mask: list[int] = field(default_factory=list)
    attention_mask: list[int] = field(default_factory=list)
    word_ids: list[int | None] = field(default_factory=list)
    sequence_ids: list[int | None] = field(default_factory=list)
    overflowing: list[PureEncoding] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)
