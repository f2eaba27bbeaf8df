from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A small tree: two text files, a Python file, and hidden things to skip."""
    root = tmp_path / "corpus"
    files = {
        "a.txt": "alpha\n\n  \nbeta\r\n",
        "sub/b.txt": "gamma",
        "sub/c.py": "print(1)\n",
        ".hidden/x.txt": "hidden folder",
        ".secret.txt": "hidden file",
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    return root
