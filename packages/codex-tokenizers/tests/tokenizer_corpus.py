"""A real text corpus on every machine: this Python's standard library source, split
deterministically into training and held-out files, plus the held-out files' docstrings
and comments (English prose)."""

from __future__ import annotations

import ast
import hashlib
import io
import sysconfig
import tokenize
from functools import cache
from pathlib import Path

STDLIB = Path(sysconfig.get_paths()["stdlib"])
SKIP = {"test", "tests", "site-packages", "idle_test", "__pycache__"}


@cache
def stdlib_files() -> tuple[Path, ...]:
    files = [p for p in STDLIB.rglob("*.py") if not SKIP & set(p.relative_to(STDLIB).parts)]
    return tuple(sorted(files))


def _bucket(path: Path) -> int:
    return hashlib.sha256(str(path.relative_to(STDLIB)).encode()).digest()[0] % 10


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None


@cache
def training_texts(limit_bytes: int = 1_500_000) -> tuple[str, ...]:
    texts, size = [], 0
    for path in stdlib_files():
        if _bucket(path) == 0 or size >= limit_bytes:
            continue
        text = _read(path)
        if text:
            texts.append(text)
            size += len(text)
    return tuple(texts)


def prose(source: str) -> list[str]:
    """Docstrings and comments of a Python source."""
    out = []
    try:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node, clean=False)
                if doc:
                    out.append(doc)
        out += [t.string for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type == tokenize.COMMENT]
    except (SyntaxError, tokenize.TokenError, ValueError):
        pass
    return out


@cache
def held_out_texts(limit_chars: int = 1_100_000) -> tuple[str, ...]:
    """Held-out documents (never trained on): whole files, then their prose, >= 1 MB."""
    texts, size = [], 0
    for path in stdlib_files():
        if _bucket(path) != 0:
            continue
        text = _read(path)
        if not text:
            continue
        texts.append(text)
        texts += prose(text)
        size += len(text)
        if size >= limit_chars:
            break
    return tuple(texts)
