"""What a tokenizer.json holds, and which engines can run it."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from codex_core.errors import CodexError


def component_name(spec: Any) -> str | None:
    """``"Sequence[NFC, Lowercase]"`` for a pipeline stage spec (None when absent)."""
    if not isinstance(spec, dict):
        return None
    kind = str(spec.get("type", "?"))
    inner = spec.get("normalizers") or spec.get("pretokenizers") or spec.get("processors") or spec.get("decoders")
    if kind == "Sequence" and isinstance(inner, list):
        return f"Sequence[{', '.join(component_name(s) or '?' for s in inner)}]"
    return kind


def describe(path: str | Path) -> dict[str, Any]:
    from codex_tokenizers.adapter import canonical_json
    from codex_tokenizers.engine import TokenizerFileError, load, read_tokenizer_json, rust_available

    file, text, spec = read_tokenizer_json(path)
    engines: dict[str, str] = {}
    try:
        load(file, "python")
        engines["python"] = "supported"
    except CodexError as exc:
        engines["python"] = f"unsupported: {exc.message.removeprefix(f'{file}: ')}"
    engines["rust"] = "available" if rust_available() else "not installed (pip install 'codex-tokenizers[rust]')"
    if rust_available():
        from tokenizers import Tokenizer

        try:
            Tokenizer.from_str(text)
        except Exception as exc:  # the library raises plain Exception for bad files
            if engines["python"] != "supported":  # neither engine can use it: not a tokenizer at all
                raise TokenizerFileError(f"the tokenizers library cannot load {file}: {exc}") from None
            engines["rust"] = f"cannot load: {exc}"
    elif engines["python"] != "supported":
        raise TokenizerFileError(f"the python engine cannot load {file}: {engines['python']}")
    model = spec["model"]
    vocab = model.get("vocab")
    added = [t for t in spec.get("added_tokens") or [] if isinstance(t, dict)]
    size = len(vocab) if isinstance(vocab, (dict, list)) else 0
    size += sum(1 for t in added if not (isinstance(vocab, dict) and t.get("content") in vocab))
    return {
        "file": str(file),
        "model": model.get("type", "?"),
        "vocab_size": size,
        "pipeline": {stage: component_name(spec.get(stage))
                     for stage in ("normalizer", "pre_tokenizer", "post_processor", "decoder")},
        "added_tokens": [{"id": t.get("id"), "content": t.get("content"), "special": bool(t.get("special"))}
                         for t in added],
        "engines": engines,
        "fingerprint": hashlib.sha256(canonical_json(text).encode("utf-8")).hexdigest(),
    }
