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
    from codex_tokenizers.engine import read_tokenizer_json, rust_available

    file, text, spec = read_tokenizer_json(path)
    model = spec["model"]
    vocab = model.get("vocab")
    added = spec.get("added_tokens") or []
    size = len(vocab) if isinstance(vocab, (dict, list)) else 0
    size += sum(1 for t in added if not (isinstance(vocab, dict) and t["content"] in vocab))
    engines: dict[str, str] = {}
    try:
        from codex_tokenizers.pure.tokenizer import PureTokenizer

        PureTokenizer.from_spec(spec, source=str(file))
        engines["python"] = "supported"
    except CodexError as exc:
        engines["python"] = f"unsupported: {exc.message}"
    engines["rust"] = "available" if rust_available() else "not installed (pip install 'codex-tokenizers[rust]')"
    return {
        "file": str(file),
        "model": model.get("type", "?"),
        "vocab_size": size,
        "pipeline": {stage: component_name(spec.get(stage))
                     for stage in ("normalizer", "pre_tokenizer", "post_processor", "decoder")},
        "added_tokens": [{"id": t["id"], "content": t["content"], "special": bool(t.get("special"))} for t in added],
        "engines": engines,
        "fingerprint": hashlib.sha256(canonical_json(text).encode("utf-8")).hexdigest(),
    }
