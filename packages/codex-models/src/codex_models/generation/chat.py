"""Chat prompts: the chat template of a model directory, and conversations rendered with it.

A model's chat template is looked up, in order:

1. ``chat_template`` in the directory's ``tokenizer_config.json`` (a string, or Hugging Face's
   list of named templates, of which ``default`` is taken), with the ``bos_token`` and
   ``eos_token`` texts written there;
2. the template of the run that trained it (``--run RUN``, or a checkpoint directory inside a
   run): its config's ``sft-jsonl`` dataset (``chat_template``, ``tokenizer_config``, else the
   built-in template of :mod:`codex_data.sft`).

A model with neither has no chat template (``None``); the callers refuse chat requests for it
with one line saying so. The bos/eos texts not given by the source come from the tokenizer's
special tokens. The template is rendered by :class:`codex_data.ChatTemplate` (sandboxed
Jinja2, as Hugging Face renders it), with ``add_generation_prompt=True``.

Pure Python (jinja2 and yaml, no torch).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codex_core.errors import CodexError

if TYPE_CHECKING:  # pragma: no cover
    from codex_core.protocols import Tokenizer
    from codex_core.runs import RunDir
    from codex_data import ChatTemplate

__all__ = ["CHAT_ROLES", "ChatPrompter", "check_messages", "find_chat_template", "run_of_model_dir"]

CHAT_ROLES = ("system", "user", "assistant")


@dataclass
class ChatPrompter:
    """A chat template and where it came from (``origin``: ``"<dir>/tokenizer_config.json"`` or
    ``"run <name> (sft-jsonl)"``)."""

    template: ChatTemplate
    origin: str

    def prompt(self, messages: list[dict[str, Any]]) -> str:
        """The text the model continues to answer ``messages`` (checked with
        :func:`check_messages`)."""
        return self.template.prompt(check_messages(messages))

    @property
    def eos_text(self) -> str:
        """The text of the template's ``eos_token`` (a reply ends there), or ``""``."""
        return self.template.eos_token


def check_messages(messages: Any) -> list[dict[str, Any]]:
    """``messages`` as a list of ``{"role", "content"}`` dicts with a known role and string
    content; anything else is a :class:`CodexError` naming the first bad message."""
    if not isinstance(messages, list) or not messages:
        raise CodexError("messages must be a non-empty list of {role, content} objects")
    out = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise CodexError(f"messages[{index}] must be an object with role and content, not {message!r}")
        role, content = message.get("role"), message.get("content")
        if role not in CHAT_ROLES:
            raise CodexError(f"messages[{index}].role must be one of {', '.join(CHAT_ROLES)}, not {role!r}")
        if not isinstance(content, str):
            raise CodexError(f"messages[{index}].content must be a string")
        out.append({"role": role, "content": content})
    return out


def run_of_model_dir(path: str | Path) -> RunDir | None:
    """The run a checkpoint directory belongs to (``<run>/checkpoints/step-N``), or None."""
    from codex_core.runs import RunDir, is_run_dir

    path = Path(path).resolve()
    candidate = path.parent.parent
    if path.parent.name == "checkpoints" and is_run_dir(candidate):
        return RunDir(candidate)
    return None


def find_chat_template(model_dir: str | Path, tokenizer: Tokenizer | None = None,
                       run: RunDir | None = None) -> ChatPrompter | None:
    """The chat template of the model in ``model_dir`` (see the module docstring), or None.

    ``run`` is the run that trained it (default: the run ``model_dir`` is a checkpoint of).
    A template that does not compile, or a run config naming an unreadable
    tokenizer_config, is a :class:`CodexError`.
    """
    from codex_data import ChatTemplate

    model_dir = Path(model_dir)
    found = _from_tokenizer_config(model_dir / "tokenizer_config.json")
    origin = str(model_dir / "tokenizer_config.json")
    if found is None:
        run = run if run is not None else run_of_model_dir(model_dir)
        found = _from_run(run) if run is not None else None
        origin = f"run {run.name} (sft-jsonl)" if run is not None else origin
    if found is None:
        return None
    source, texts = found
    for role in ("bos", "eos"):
        if role not in texts and tokenizer is not None and role in tokenizer.special_tokens:
            texts[role] = tokenizer.decode([tokenizer.special_tokens[role]], skip_special_tokens=False)
    try:
        template = ChatTemplate(source, bos_token=texts.get("bos", ""), eos_token=texts.get("eos", ""))
    except CodexError as exc:
        raise CodexError(f"the chat template of {origin} does not compile: {exc.message}") from None
    return ChatPrompter(template, origin)


def _from_tokenizer_config(path: Path) -> tuple[str, dict[str, str]] | None:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise CodexError(f"cannot read {path}: {exc}") from None
    if not isinstance(config, dict):
        return None
    template = config.get("chat_template")
    if isinstance(template, list):  # named templates: [{"name": "default", "template": ...}, ...]
        template = next((t.get("template") for t in template if isinstance(t, dict) and t.get("name") == "default"),
                        None)
    if not isinstance(template, str) or not template.strip():
        return None
    texts = {}
    for role in ("bos", "eos"):
        value = config.get(f"{role}_token")
        value = value.get("content") if isinstance(value, dict) else value
        if isinstance(value, str):
            texts[role] = value
    return template, texts


def _from_run(run: RunDir) -> tuple[str, dict[str, str]] | None:
    """The template of the run config's ``sft-jsonl`` dataset, or None for another dataset."""
    import yaml
    from pydantic import ValidationError

    from codex_data import SFTParams, template_source

    try:
        config = yaml.safe_load(run.config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise CodexError(f"cannot read {run.config_path}: {exc}") from None
    data = config.get("data") if isinstance(config, dict) else None
    if not isinstance(data, dict) or data.get("name") != "sft-jsonl":
        return None
    params = data.get("params") or {}
    try:
        sft = SFTParams(**{k: v for k, v in params.items() if k in SFTParams.model_fields})
    except (TypeError, ValidationError) as exc:
        raise CodexError(f"the sft-jsonl params in {run.config_path} are not valid: {exc}") from None
    source, texts = template_source(sft)
    for role in ("bos", "eos"):
        value = getattr(sft, f"{role}_token")
        if value is not None:
            texts[role] = value
    return source, dict(texts)
