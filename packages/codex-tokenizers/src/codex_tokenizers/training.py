"""Training BPE (byte-level), WordPiece and Unigram tokenizers with the ``tokenizers`` library.

Training needs the rust engine; the result is a ``tokenizer.json`` that both engines load.
"""

from __future__ import annotations

import glob
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from codex_core.errors import CodexError
from codex_core.faults import failpoint
from codex_core.fsutil import atomic_write

if TYPE_CHECKING:  # pragma: no cover
    from codex_core.context import BuildContext
    from codex_tokenizers.adapter import CodexTokenizer

Kind = Literal["bpe", "wordpiece", "unigram"]
KINDS = ("bpe", "wordpiece", "unigram")
DEFAULT_SPECIALS: dict[str, list[str]] = {
    "bpe": ["<|endoftext|>", "<|pad|>"],
    "wordpiece": ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
    "unigram": ["<pad>", "<unk>", "<s>", "</s>"],
}


def expand_inputs(inputs: Sequence[str]) -> list[Path]:
    """Files named by paths, directories (every file below) and globs, sorted, deduplicated."""
    files: set[Path] = set()
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files.update(p for p in path.rglob("*") if p.is_file())
        elif any(ch in item for ch in "*?["):
            files.update(Path(p) for p in glob.glob(item, recursive=True) if Path(p).is_file())
        elif path.is_file():
            files.add(path)
        else:
            raise CodexError(f"training input {item!r} matches no file", hint="check the path or glob")
    if not files:
        raise CodexError(f"no training input files in {', '.join(inputs) or 'the inputs'}",
                         hint="give files, directories or globs, or --dataset NAME")
    return sorted(files)


def _file_texts(files: Iterable[Path]) -> Iterator[str]:
    for file in files:
        try:
            yield file.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary or non-UTF-8 files carry no text to learn from


def build_untrained(kind: str, special_tokens: Sequence[str]) -> tuple[Any, Any]:
    """A ``tokenizers.Tokenizer`` pipeline of ``kind`` and its trainer factory."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    if kind == "bpe":
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        tok.post_processor = processors.ByteLevel(trim_offsets=False)

        def trainer(**kw: Any) -> Any:
            return trainers.BpeTrainer(initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), **kw)
    elif kind == "wordpiece":
        unk = "[UNK]" if "[UNK]" in special_tokens else None
        tok = Tokenizer(models.WordPiece(unk_token=unk or "[UNK]"))
        tok.normalizer = normalizers.BertNormalizer(lowercase=False)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece()

        def trainer(**kw: Any) -> Any:
            return trainers.WordPieceTrainer(**kw)
    elif kind == "unigram":
        unk = next((t for t in special_tokens if "unk" in t.lower()), None)
        tok = Tokenizer(models.Unigram())
        tok.normalizer = normalizers.NFKC()
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()

        def trainer(**kw: Any) -> Any:
            return trainers.UnigramTrainer(unk_token=unk, **kw)
    else:
        raise CodexError(f"unknown tokenizer kind {kind!r}", hint=f"use one of {', '.join(KINDS)}")
    return tok, trainer


TEMPLATES = ("auto", "none", "bos-eos", "cls-sep")
_ROLE_TEXTS = {
    "bos": ("<s>", "<bos>", "<|startoftext|>", "<|endoftext|>"),
    "eos": ("</s>", "<eos>", "<|endoftext|>"),
    "cls": ("[CLS]",),
    "sep": ("[SEP]",),
}


def _special(tok: Any, role: str, specials: Sequence[str]) -> str:
    for text in _ROLE_TEXTS[role]:
        if text in specials:
            return text
    raise CodexError(f"the template needs a {role} special token ({' or '.join(_ROLE_TEXTS[role])})",
                     hint="add one to the special tokens, or choose another template")


def add_template(tok: Any, kind: str, special_tokens: Sequence[str], template: str = "auto") -> None:
    """Special tokens around every encoded text: ``bos-eos`` (``<s> $A </s>``) or
    ``cls-sep`` (``[CLS] $A [SEP]``, pairs ``... $B:1 [SEP]:1``). ``auto``: cls-sep for
    WordPiece, none otherwise."""
    if template not in TEMPLATES:
        raise CodexError(f"unknown template {template!r}", hint=f"use one of {', '.join(TEMPLATES)}")
    if template == "auto":
        template = "cls-sep" if kind == "wordpiece" and {"[CLS]", "[SEP]"} <= set(special_tokens) else "none"
    if template == "none":
        return
    from tokenizers import processors

    first, last = ("bos", "eos") if template == "bos-eos" else ("cls", "sep")
    a, b = _special(tok, first, special_tokens), _special(tok, last, special_tokens)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{a} $A {b}",
        pair=f"{a} $A {b} $B:1 {b}:1",
        special_tokens=[(t, tok.token_to_id(t)) for t in dict.fromkeys((a, b))],
    )


def train(
    kind: str = "bpe",
    *,
    vocab_size: int = 8000,
    inputs: Sequence[str] = (),
    texts: Iterable[str] | None = None,
    dataset: str | None = None,
    dataset_params: dict[str, Any] | None = None,
    context: BuildContext | None = None,
    special_tokens: Sequence[str] | None = None,
    min_frequency: int = 2,
    output: str | Path | None = None,
    show_progress: bool = False,
    template: str = "auto",
) -> CodexTokenizer:
    """Train a tokenizer on files/globs (``inputs``), ``texts``, or a registered dataset by
    name (asked from the registry); write it to ``output`` (a tokenizer.json) if given."""
    from codex_tokenizers.adapter import CodexTokenizer
    from codex_tokenizers.engine import resolve_backend

    resolve_backend("rust")  # training needs the library: a clear error when it is missing
    if template not in TEMPLATES:
        raise CodexError(f"unknown template {template!r}", hint=f"use one of {', '.join(TEMPLATES)}")
    if vocab_size < 1:
        raise CodexError(f"vocab size must be positive, got {vocab_size}")
    specials = list(DEFAULT_SPECIALS[kind] if special_tokens is None and kind in DEFAULT_SPECIALS
                    else special_tokens or [])
    sources = sum(x is not None and x != () for x in (texts, dataset)) + bool(inputs)
    if sources != 1:
        raise CodexError("give exactly one training source: input files, texts, or a dataset name")
    if dataset is not None:
        texts = _dataset_texts(dataset, dataset_params or {}, context)
    elif inputs:
        texts = _file_texts(expand_inputs(inputs))
    tok, make_trainer = build_untrained(kind, specials)
    options: dict[str, Any] = {"vocab_size": vocab_size, "special_tokens": specials, "show_progress": show_progress}
    if kind != "unigram":  # the Unigram trainer has no frequency threshold
        options["min_frequency"] = min_frequency
    trainer = make_trainer(**options)
    assert texts is not None
    seen = [0]
    try:
        tok.train_from_iterator(_counting(texts, seen), trainer)
    except Exception as exc:
        if type(exc) is not Exception:  # ours, raised while reading the texts: as it is
            raise
        # the library's own refusal, a plain Exception ("The vocabulary is not large enough ...")
        raise CodexError(f"cannot train a {kind} tokenizer with vocab size {vocab_size}: {exc}",
                         hint="check the vocab size (it must hold every character of the inputs for unigram)") from None
    if seen[0] == 0:  # a tokenizer of the byte alphabet only: surely not what was meant
        where = f"dataset {dataset!r}" if dataset is not None else ", ".join(inputs) if inputs else "the texts"
        raise CodexError(f"no text to train the tokenizer on in {where} (every document is empty or not UTF-8)",
                         hint="check the inputs")
    add_template(tok, kind, specials, template)
    text = tok.to_str()
    if output is not None:
        failpoint("tokenizer-cache")
        atomic_write(output, text)
    return CodexTokenizer(tok, backend="rust", json_text=text, source=Path(output) if output else None)


def _counting(texts: Iterable[str], seen: list[int]) -> Iterator[str]:
    """``texts``, counting in ``seen[0]`` those that hold more than white space."""
    for text in texts:
        seen[0] += bool(text.strip())
        yield text


def _dataset_texts(name: str, params: dict[str, Any], context: BuildContext | None) -> Iterator[str]:
    if context is None:
        from codex_core.context import BuildContext
        from codex_core.plugins import get_plugin_manager

        context = BuildContext(registry=get_plugin_manager().registry)
    for doc in context.build("dataset", name, params):
        yield doc.text
