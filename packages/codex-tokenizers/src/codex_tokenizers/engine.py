"""Choosing an engine and loading a ``tokenizer.json``.

Two engines read the same file: ``rust`` (the Hugging Face ``tokenizers`` library, the
``codex-tokenizers[rust]`` extra) and ``python`` (:mod:`codex_tokenizers.pure`, no compiled
code). ``auto`` takes rust when it is importable. ``CODEX_TOKENIZER_BACKEND`` sets the
default for ``auto``.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from codex_core.errors import CodexError

if TYPE_CHECKING:  # pragma: no cover
    from codex_tokenizers.adapter import CodexTokenizer

Backend = Literal["auto", "rust", "python"]
BACKENDS = ("auto", "rust", "python")
ENV_VAR = "CODEX_TOKENIZER_BACKEND"
FILENAME = "tokenizer.json"


class TokenizerFileError(CodexError):
    """A tokenizer.json that is missing, corrupt or not a tokenizer."""


@functools.cache
def rust_available() -> bool:
    """True when the ``tokenizers`` library imports (tried once per process)."""
    try:
        import tokenizers  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_backend(backend: str | None = "auto") -> Literal["rust", "python"]:
    """The engine to use for ``backend`` (``auto`` follows ``CODEX_TOKENIZER_BACKEND``,
    then takes rust when installed)."""
    choice = backend or "auto"
    if choice == "auto":
        choice = os.environ.get(ENV_VAR, "auto").strip().lower() or "auto"
        source = f"{ENV_VAR}={choice}"
    else:
        source = f"backend={choice!r}"
    if choice not in BACKENDS:
        raise CodexError(f"unknown tokenizer backend {choice!r} ({source})", hint="use auto, rust or python")
    if choice == "auto":
        return "rust" if rust_available() else "python"
    if choice == "rust" and not rust_available():
        raise CodexError(
            f"the rust tokenizer backend needs the 'tokenizers' library ({source})",
            hint="pip install 'codex-tokenizers[rust]', or use backend python",
        )
    return choice  # type: ignore[return-value]


def read_tokenizer_json(path: str | Path) -> tuple[Path, str, dict[str, Any]]:
    """``(file, text, parsed)`` of a tokenizer.json (a directory means its tokenizer.json),
    with clear errors for a missing, unreadable or malformed file."""
    file = Path(path)
    if file.is_dir():
        file = file / FILENAME
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TokenizerFileError(f"tokenizer file {file} not found", hint="check the path, or train one "
                                 "with codex tokenizer train") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TokenizerFileError(f"cannot read tokenizer file {file}: {exc}") from None
    try:
        spec = json.loads(text)
    except ValueError as exc:
        raise TokenizerFileError(f"{file} is not valid JSON ({exc})", hint="the file is corrupt; "
                                 "re-create it") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("model"), dict):
        raise TokenizerFileError(f"{file} is not a tokenizer.json (no 'model' section)")
    return file, text, spec


def load(path: str | Path, backend: Backend | str = "auto") -> CodexTokenizer:
    """Load a ``tokenizer.json`` (or a directory holding one) with the chosen engine."""
    from codex_tokenizers.adapter import CodexTokenizer

    file, text, _ = read_tokenizer_json(path)
    engine = resolve_backend(backend)
    if engine == "rust":
        from tokenizers import Tokenizer

        try:
            impl: Any = Tokenizer.from_str(text)
        except Exception as exc:  # the library raises plain Exception for bad files
            raise TokenizerFileError(f"the tokenizers library cannot load {file}: {exc}") from None
    else:
        impl = load_pure(file, text)
    try:
        return CodexTokenizer(impl, backend=engine, json_text=text, source=file)
    except Exception as exc:  # what an engine accepted and the adapter cannot use (an added token with no id)
        raise _not_a_tokenizer(file, exc) from None


def _not_a_tokenizer(file: Path, exc: BaseException) -> TokenizerFileError:
    return TokenizerFileError(f"{file} is not a valid tokenizer.json ({type(exc).__name__}: {exc})",
                              hint="the file is corrupt or not a tokenizer; re-create it")


def load_pure(file: Path, text: str) -> Any:
    """The pure-Python engine's tokenizer for ``text`` (read from ``file``): what it refuses is
    a :class:`CodexError` that names the file, whatever the engine tripped over."""
    from codex_tokenizers.pure.tokenizer import PureTokenizer

    try:
        return PureTokenizer.from_str(text, source=str(file))
    except CodexError as exc:
        if str(file) not in exc.message:
            exc.message = f"{file}: {exc.message}"
            exc.args = (exc.message,)
        raise
    except RecursionError:
        raise TokenizerFileError(f"{file} nests too deeply to be a tokenizer.json") from None
    except Exception as exc:  # a wrongly shaped file: a missing key, a wrong type, a bad value
        raise _not_a_tokenizer(file, exc) from None
