"""The ``sft-jsonl`` dataset: supervised fine-tuning records rendered with a chat template.

A record is ``{"prompt": str, "completion": str}`` (rendered as one user and one assistant
message) or ``{"messages": [{"role": "system" | "user" | "assistant", "content": str}, ...]}``
with at least one assistant message. Iterating gives ``Document`` s whose text is the
rendered conversation; :meth:`SFTDataset.examples` gives token ids with a loss mask that is
1 exactly on the assistant content (and the ``eos_token`` the template puts right after it).

The mask comes from the tokenizer's character offsets: a token is trained on when its span
overlaps an assistant span of the rendered text. Examples are never packed together: use
:func:`pad_examples` to batch them, one example per row.

The built-in template (:data:`DEFAULT_CHAT_TEMPLATE`) renders::

    {bos_token}<|system|>\\n{content}\\n<|user|>\\n{content}\\n<|assistant|>\\n{content}{eos_token}\\n
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from codex_core.errors import CodexError
from codex_core.protocols import Document, Encoding, Tokenizer
from codex_data.record_params import SFTParams
from codex_data.records import BadRow, RecordDataset, json_records
from codex_data.text import SourceFile

log = logging.getLogger("codex.data")

DEFAULT_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\\n' + message['content'] }}"
    "{% if message['role'] == 'assistant' %}{{ eos_token }}{% endif %}"
    "{{ '\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)
"""``<|role|>\\n`` + content per message, ``eos_token`` after each assistant message; with
``add_generation_prompt`` (generation, never training) it ends with ``<|assistant|>\\n``."""

ROLES = ("system", "user", "assistant")
IGNORE_INDEX = -100
_BATCH = 64

Span = tuple[int, int]


@dataclass
class SFTExample:
    """One training example: token ids and a loss mask (1: train on this token)."""

    input_ids: list[int]
    loss_mask: list[int]
    id: str = ""

    def __len__(self) -> int:
        return len(self.input_ids)


def record_messages(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The chat messages of a record (prompt/completion or messages), or a :class:`BadRow`."""
    if "messages" in record:
        messages = record["messages"]
        if not isinstance(messages, list) or not messages:
            raise BadRow("bad messages", "'messages' must be a non-empty list of {role, content} objects")
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
                raise BadRow(
                    "bad message", f"message {i} must have a role in {ROLES} and a string content: {m!r}"
                )
        if not any(m["role"] == "assistant" for m in messages):
            raise BadRow("no assistant message", "there is nothing to train on")
        return messages
    prompt, completion = record.get("prompt"), record.get("completion")
    if isinstance(prompt, str) and isinstance(completion, str):
        return [{"role": "user", "content": prompt}, {"role": "assistant", "content": completion}]
    raise BadRow("not an sft record", "need string 'prompt' and 'completion', or a 'messages' list")


class ChatTemplate:
    """A Jinja2 chat template, compiled once, rendered as Hugging Face renders it
    (sandboxed, ``trim_blocks``, ``lstrip_blocks``, ``raise_exception``)."""

    def __init__(self, source: str, *, bos_token: str = "", eos_token: str = "") -> None:
        from jinja2 import TemplateError
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        def raise_exception(message: str) -> None:
            raise TemplateError(message)

        env = ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
        )
        env.globals["raise_exception"] = raise_exception
        try:
            self._template = env.from_string(source)
        except TemplateError as exc:
            raise CodexError(f"sft-jsonl: the chat template does not compile: {exc}") from None
        self.source = source
        self.bos_token = bos_token
        self.eos_token = eos_token

    def render(self, messages: list[dict[str, Any]]) -> tuple[str, list[Span]]:
        """The rendered text and the ``(start, end)`` character spans of the assistant
        contents in it, each extended over an ``eos_token`` that directly follows."""
        from jinja2 import TemplateError

        try:
            text = self._template.render(
                messages=messages,
                add_generation_prompt=False,
                bos_token=self.bos_token,
                eos_token=self.eos_token,
            )
        except TemplateError as exc:
            raise BadRow("template error", str(exc)) from None
        return text, self._spans(text, messages)

    def prompt(self, messages: list[dict[str, Any]]) -> str:
        """The text a model continues to answer ``messages``: the conversation rendered with
        ``add_generation_prompt=True`` (the assistant turn opened, as for generation). A
        template error is a :class:`CodexError` naming it."""
        from jinja2 import TemplateError

        try:
            return self._template.render(
                messages=messages, add_generation_prompt=True, bos_token=self.bos_token, eos_token=self.eos_token
            )
        except TemplateError as exc:
            raise CodexError(f"the chat template failed on these messages: {exc}") from None

    def _spans(self, text: str, messages: list[dict[str, Any]]) -> list[Span]:
        # Find each message's content in order, after the previous one, so that an
        # assistant reply that also appears in an earlier user turn is found at its own place.
        spans: list[Span] = []
        cursor = 0
        for m in messages:
            content = m["content"]
            start = text.find(content, cursor)
            if start < 0 and content.strip():
                content = content.strip()  # templates often `| trim` the content
                start = text.find(content, cursor)
            if start < 0:
                if m["role"] == "assistant":
                    raise BadRow(
                        "template error", "the chat template does not render the assistant content verbatim"
                    )
                continue  # a template may leave out e.g. system messages
            end = start + len(content)
            if m["role"] == "assistant":
                if self.eos_token and text.startswith(self.eos_token, end):
                    end += len(self.eos_token)
                spans.append((start, end))
            cursor = end
        return spans


def template_source(params: SFTParams) -> tuple[str, dict[str, str]]:
    """The chat template of ``params`` and the bos/eos texts its tokenizer_config names."""
    if params.chat_template is not None:
        return params.chat_template, {}
    if params.tokenizer_config is None:
        return DEFAULT_CHAT_TEMPLATE, {}
    path = Path(params.tokenizer_config).expanduser()
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CodexError(f"sft-jsonl: cannot read tokenizer_config {path}: {exc}") from None
    template = config.get("chat_template") if isinstance(config, dict) else None
    if isinstance(template, list):  # named templates: [{"name": "default", "template": ...}, ...]
        template = next((t.get("template") for t in template if t.get("name") == "default"), None)
    if not isinstance(template, str):
        raise CodexError(
            f"sft-jsonl: {path} has no chat_template", hint="give chat_template in the params instead"
        )
    tokens = {}
    for role in ("bos", "eos"):
        value = config.get(f"{role}_token")
        value = value.get("content") if isinstance(value, dict) else value
        if isinstance(value, str):
            tokens[role] = value
    return template, tokens


class SFTDataset(RecordDataset):
    """Supervised fine-tuning records from JSON Lines files (implements ``Dataset``).

    Documents: text is the rendered conversation, ``meta`` has ``path``, ``line``,
    ``sha256``, the ``record`` and its ``messages``. Bad records (not JSON, no
    prompt/completion or messages, a bad role, no assistant message) follow ``bad_rows``.
    :meth:`examples` counts what it drops in :attr:`skipped_examples` and the examples it
    cut in :attr:`truncated_examples`.
    """

    name = "sft-jsonl"
    params: SFTParams

    def __init__(self, params: SFTParams) -> None:
        super().__init__(params)
        self.template_source, self._config_tokens = template_source(params)
        self.template = self.chat_template()
        self.skipped_examples = 0
        self.truncated_examples = 0

    def chat_template(self, tokenizer: Tokenizer | None = None) -> ChatTemplate:
        """The template with its bos/eos texts: from the params, else tokenizer_config,
        else ``tokenizer`` 's special tokens, else ``""``."""
        texts = {}
        for role in ("bos", "eos"):
            value = getattr(self.params, f"{role}_token") or self._config_tokens.get(role)
            if value is None and tokenizer is not None and role in tokenizer.special_tokens:
                value = tokenizer.decode([tokenizer.special_tokens[role]])
            texts[role] = value or ""
        return ChatTemplate(self.template_source, bos_token=texts["bos"], eos_token=texts["eos"])

    def _records(self, f: SourceFile) -> Iterator[tuple[int, Any]]:
        return json_records(f)

    def _document(self, f: SourceFile, line: int, record: dict[str, Any]) -> Document:
        messages = record_messages(record)
        doc_id = self._doc_id(f, line, record.get(self.params.id_field) if self.params.id_field else None)
        text, _ = self.template.render(messages)
        meta = {"path": f.rel, "line": line, "sha256": f.sha256, "record": record, "messages": messages}
        return Document(id=doc_id, text=text, meta=meta)

    def _settings(self) -> dict[str, object]:
        settings = self.params.model_dump(exclude={"paths", "tokenizer_config"})
        return {**settings, "chat_template": self.template_source, "config_tokens": self._config_tokens}

    def examples(self, tokenizer: Tokenizer, max_length: int | None = None) -> Iterator[SFTExample]:
        """Token ids and loss masks, one example per record, in document order.

        Each conversation is rendered with the tokenizer's bos/eos texts (unless the params
        or tokenizer_config set them) and encoded once. Longer than ``max_length``: cut to
        its first ``max_length`` tokens (counted in :attr:`truncated_examples`); an example
        left with no token to train on is skipped (counted in :attr:`skipped_examples`).
        """
        if max_length is not None and max_length < 1:
            raise CodexError(f"sft-jsonl: max_length must be at least 1, not {max_length}")
        template = self.chat_template(tokenizer)
        self.skipped_examples = 0
        self.truncated_examples = 0
        documents = iter(self)
        while batch := list(islice(documents, _BATCH)):
            rendered = [self._render(template, doc) for doc in batch]
            kept = [(doc, spans) for doc, (_, spans) in zip(batch, rendered, strict=True) if spans]
            encodings = encode_batch(tokenizer, [text for text, spans in rendered if spans])
            for (doc, spans), encoding in zip(kept, encodings, strict=True):
                if len(encoding.offsets) != len(encoding.ids):
                    raise CodexError(
                        "sft-jsonl: the tokenizer gives no character offsets; the loss mask needs them"
                    )
                example = SFTExample(list(encoding.ids), loss_mask(encoding.offsets, spans), id=doc.id)
                if max_length is not None and len(example) > max_length:
                    self.truncated_examples += 1
                    example = SFTExample(
                        example.input_ids[:max_length], example.loss_mask[:max_length], doc.id
                    )
                if not any(example.loss_mask):
                    self.skipped_examples += 1
                    log.warning("sft-jsonl: %s has no completion tokens (after truncation); skipped", doc.id)
                    continue
                yield example

    def _render(self, template: ChatTemplate, doc: Document) -> tuple[str, list[Span]]:
        try:
            return template.render(list(doc.meta["messages"]))
        except BadRow as bad:
            if self.params.bad_rows == "error":
                raise CodexError(f"sft-jsonl dataset: {doc.id}: {bad}") from None
            self.skipped_examples += 1
            log.warning("sft-jsonl: %s skipped (%s)", doc.id, bad)
            return "", []

    def __repr__(self) -> str:
        return f"SFTDataset(paths={self.params.paths!r})"


def encode_batch(tokenizer: Tokenizer, texts: list[str]) -> list[Encoding]:
    """Encode without the tokenizer's post-processor special tokens when it can (the chat
    template already places bos/eos), else as it encodes by default."""
    import inspect

    options: dict[str, Any] = {}
    if "add_special_tokens" in inspect.signature(tokenizer.encode_batch).parameters:
        options["add_special_tokens"] = False
    return list(tokenizer.encode_batch(texts, **options))


def loss_mask(offsets: Sequence[tuple[int, int]], spans: Sequence[Span]) -> list[int]:
    """1 for each token whose character span overlaps one of ``spans`` (sorted), else 0.
    Tokens with an empty span (special tokens a post-processor added) get 0."""
    mask = []
    i = 0
    for start, end in offsets:
        while i < len(spans) and spans[i][1] <= start:
            i += 1
        inside = end > start and i < len(spans) and spans[i][0] < end
        mask.append(1 if inside else 0)
    return mask


def pad_examples(
    examples: Sequence[SFTExample], pad_id: int, length: int | None = None
) -> dict[str, list[list[int]]]:
    """Pad examples on the right to ``length`` (default: the longest), one per row.

    No packing: each row holds one example, so no example attends to another. Returns
    ``input_ids``, ``attention_mask`` (1 on real tokens) and ``labels``: the input ids
    where the loss mask is 1 and ``-100`` elsewhere (prompt tokens and padding). Labels are
    not shifted; the model shifts them (as Hugging Face causal LMs do).
    """
    longest = max((len(e) for e in examples), default=0)
    length = longest if length is None else length
    if longest > length:
        raise CodexError(
            f"an example has {longest} tokens, more than the padded length {length}",
            hint="pass max_length to examples() to cut long examples",
        )
    batch: dict[str, list[list[int]]] = {"input_ids": [], "attention_mask": [], "labels": []}
    for e in examples:
        pad = length - len(e)
        labels = [t if m else IGNORE_INDEX for t, m in zip(e.input_ids, e.loss_mask, strict=True)]
        batch["input_ids"].append(e.input_ids + [pad_id] * pad)
        batch["attention_mask"].append([1] * len(e) + [0] * pad)
        batch["labels"].append(labels + [IGNORE_INDEX] * pad)
    return batch
