"""The ``char`` tokenizer: one token per character of a fixed alphabet.

Ids 0..3 are the special tokens ``<pad>``, ``<bos>``, ``<eos>``, ``<unk>``; the characters
of the alphabet follow in order. A character outside the alphabet encodes as ``<unk>``.
"""

from __future__ import annotations

import hashlib
import json
import operator
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from codex_core.fsutil import atomic_write
from codex_core.protocols import Encoding
from codex_tokenizers.params import CharTokenizerParams

FILENAME = "char_tokenizer.json"
FORMAT_VERSION = 1
SPECIAL_TOKENS: dict[str, str] = {"pad": "<pad>", "bos": "<bos>", "eos": "<eos>", "unk": "<unk>"}
"""Role -> token text; the roles take ids 0, 1, 2, 3 in this order."""


class CharTokenizer:
    """A character-level tokenizer (implements ``codex_core.protocols.Tokenizer``).

    ``decode`` writes special tokens as their text (``"<unk>"``) unless
    ``skip_special_tokens`` is set, in which case all four are dropped.
    ``encode_batch`` does not pad: each encoding has the length of its text.
    """

    def __init__(self, params: CharTokenizerParams | None = None) -> None:
        self.params = params if params is not None else CharTokenizerParams()
        self.alphabet = self.params.resolved_alphabet()
        self._specials = {role: i for i, role in enumerate(SPECIAL_TOKENS)}
        self._vocab: list[str] = [*SPECIAL_TOKENS.values(), *self.alphabet]
        self._char_to_id = {c: i for i, c in enumerate(self.alphabet, start=len(SPECIAL_TOKENS))}
        self._unk = self._specials["unk"]

    # -- the Tokenizer protocol -------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return len(self._vocab)

    @property
    def special_tokens(self) -> Mapping[str, int]:
        return dict(self._specials)

    @property
    def vocab(self) -> list[str]:
        """Token text by id (specials first, then the alphabet)."""
        return list(self._vocab)

    def encode(self, text: str) -> Encoding:
        ids = [self._char_to_id.get(c, self._unk) for c in text]
        tokens = [c if i != self._unk else SPECIAL_TOKENS["unk"] for c, i in zip(text, ids, strict=True)]
        offsets = [(n, n + 1) for n in range(len(text))]
        if self.params.add_bos:
            ids.insert(0, self._specials["bos"])
            tokens.insert(0, SPECIAL_TOKENS["bos"])
            offsets.insert(0, (0, 0))
        if self.params.add_eos:
            ids.append(self._specials["eos"])
            tokens.append(SPECIAL_TOKENS["eos"])
            offsets.append((0, 0))
        return Encoding(ids=ids, tokens=tokens, offsets=offsets, attention_mask=[1] * len(ids))

    def encode_batch(self, texts: Sequence[str]) -> list[Encoding]:
        return [self.encode(text) for text in texts]

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        parts = []
        for raw in ids:
            token_id = operator.index(raw)
            if not 0 <= token_id < len(self._vocab):
                raise ValueError(
                    f"token id {token_id} is not in the char tokenizer's vocabulary "
                    f"(ids 0..{len(self._vocab) - 1})"
                )
            if skip_special_tokens and token_id < len(SPECIAL_TOKENS):
                continue
            parts.append(self._vocab[token_id])
        return "".join(parts)

    def decode_batch(
        self, batch: Sequence[Sequence[int]], skip_special_tokens: bool = False
    ) -> list[str]:
        return [self.decode(ids, skip_special_tokens) for ids in batch]

    def fingerprint(self) -> str:
        """sha256 of the canonical JSON of the vocabulary and settings."""
        canonical = json.dumps(self._state(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def save(self, directory: str | Path) -> Path:
        """Write ``char_tokenizer.json`` into ``directory`` (atomically); return its path."""
        text = json.dumps(self._state(), indent=2, sort_keys=True, ensure_ascii=True) + "\n"
        return atomic_write(Path(directory) / FILENAME, text)

    def to_tokenizer_json(self) -> str:
        """An equivalent Hugging Face ``tokenizer.json`` (what a model directory holds, so that
        ``transformers`` loads the tokenizer): a WordLevel vocabulary of the special tokens and
        the alphabet, every character its own piece, the special tokens as special added tokens,
        ``<bos>``/``<eos>`` added as this tokenizer adds them. Ids are equal on any text, except
        that a literal ``<pad>``, ``<bos>``, ``<eos>`` or ``<unk>`` in the text becomes that
        special token (this tokenizer spells it out character by character)."""
        template = (["<bos>"] if self.params.add_bos else []) + ["$A"] + (["<eos>"] if self.params.add_eos else [])
        post_processor = None
        if len(template) > 1:
            def piece(name: str) -> dict[str, Any]:
                return ({"Sequence": {"id": "A", "type_id": 0}} if name == "$A"
                        else {"SpecialToken": {"id": name, "type_id": 0}})

            used = [t for t in template if t != "$A"]
            post_processor = {
                "type": "TemplateProcessing",
                "single": [piece(t) for t in template],
                "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
                "special_tokens": {t: {"id": t, "ids": [self._vocab.index(t)], "tokens": [t]} for t in used},
            }
        spec = {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": [{"id": i, "content": self._vocab[i], "single_word": False, "lstrip": False,
                              "rstrip": False, "normalized": False, "special": True}
                             for i in sorted(self._specials.values())],
            "normalizer": None,
            "pre_tokenizer": {"type": "Split", "pattern": {"Regex": r"[\s\S]"}, "behavior": "Isolated",
                              "invert": False},
            "post_processor": post_processor,
            "decoder": {"type": "Fuse"},
            "model": {"type": "WordLevel", "vocab": {token: i for i, token in enumerate(self._vocab)},
                      "unk_token": SPECIAL_TOKENS["unk"]},
        }
        return json.dumps(spec, ensure_ascii=False, separators=(",", ":"))

    def save_tokenizer_json(self, directory: str | Path) -> Path:
        """Write :meth:`to_tokenizer_json` as ``tokenizer.json`` into ``directory``
        (atomically); return its path."""
        return atomic_write(Path(directory) / "tokenizer.json", self.to_tokenizer_json())

    @classmethod
    def load(cls, path: str | Path) -> CharTokenizer:
        """Load a tokenizer written by :meth:`save` (``path``: the file or its directory)."""
        path = Path(path)
        if path.is_dir():
            path = path / FILENAME
        state = json.loads(path.read_text(encoding="utf-8"))
        if state.get("type") != "char" or state.get("format") != FORMAT_VERSION:
            raise ValueError(
                f"{path} is not a char tokenizer file of format {FORMAT_VERSION} "
                f"(type={state.get('type')!r}, format={state.get('format')!r})"
            )
        vocab = state["vocab"]
        if vocab[: len(SPECIAL_TOKENS)] != list(SPECIAL_TOKENS.values()):
            raise ValueError(f"{path}: the vocabulary does not start with the special tokens")
        if any(len(token) != 1 for token in vocab[len(SPECIAL_TOKENS) :]):
            raise ValueError(f"{path}: every token after the special tokens must be one character")
        params = CharTokenizerParams(
            alphabet="".join(vocab[len(SPECIAL_TOKENS) :]),
            add_bos=state["add_bos"],
            add_eos=state["add_eos"],
        )
        return cls(params)

    # -- helpers ----------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {
            "type": "char",
            "format": FORMAT_VERSION,
            "vocab": self._vocab,
            "special_tokens": self._specials,
            "add_bos": self.params.add_bos,
            "add_eos": self.params.add_eos,
        }

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size}, fingerprint={self.fingerprint()[:12]})"
