"""File-format helpers: file hashes, fsync of a tree, atomic directories, and write failures
reported as one line naming the file."""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

import codex_core
from codex_core import fsutil
from codex_core.errors import WriteError, write_error
from codex_core.fsutil import atomic_dir, fsync_tree, remove_temporaries, sha256_file


def fsynced(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Record the (device, inode) of everything fsynced from now on (and still fsync it)."""
    seen: list[tuple[int, int]] = []
    real = os.fsync

    def record(fd: int) -> None:
        st = os.fstat(fd)
        seen.append((st.st_dev, st.st_ino))
        real(fd)

    monkeypatch.setattr(fsutil.os, "fsync", record)
    return seen


def inode(path: Path) -> tuple[int, int]:
    st = path.stat()
    return (st.st_dev, st.st_ino)


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# -- sha256_file --------------------------------------------------------------------------
def test_sha256_file_is_the_digest_of_the_files_bytes_across_chunks(tmp_path: Path) -> None:
    data = os.urandom(3 * (1 << 20) + 17)  # more than one 1 MiB chunk, not a multiple of it
    (tmp_path / "blob").write_bytes(data)

    assert sha256_file(tmp_path / "blob") == hashlib.sha256(data).hexdigest()


def test_sha256_file_of_an_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty").write_bytes(b"")

    assert sha256_file(str(tmp_path / "empty")) == hashlib.sha256(b"").hexdigest()


# -- fsync_tree ---------------------------------------------------------------------------
def test_fsync_tree_syncs_every_file_and_directory_then_the_root(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "tree"
    (root / "a" / "b").mkdir(parents=True)
    for rel in ("top.txt", "a/one.bin", "a/b/two.bin"):
        (root / rel).write_text(rel)
    seen = fsynced(monkeypatch)

    fsync_tree(root)

    everything = {inode(p) for p in root.rglob("*")} | {inode(root)}
    assert set(seen) == everything and seen[-1] == inode(root)


# -- atomic_dir ---------------------------------------------------------------------------
def test_atomic_dir_fills_a_hidden_sibling_and_renames_it_into_place(tmp_path: Path) -> None:
    target = tmp_path / "out" / "model"

    with atomic_dir(target) as tmp:
        assert tmp.parent == target.parent and tmp.name.startswith(f".model.tmp-{os.getpid()}-")
        assert not target.exists()
        (tmp / "weights.bin").write_bytes(b"\x00\x01")
        (tmp / "sub").mkdir()
        (tmp / "sub" / "config.json").write_text("{}")

    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*")) == [
        "sub", "sub/config.json", "weights.bin"]
    assert names(target.parent) == ["model"]


def test_atomic_dir_syncs_the_tree_before_the_rename_and_the_parent_after(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "ckpt"
    seen = fsynced(monkeypatch)

    with atomic_dir(target) as tmp:
        (tmp / "a.bin").write_bytes(b"a")

    assert seen[-3:] == [inode(target / "a.bin"), inode(target), inode(tmp_path)]


def test_an_exception_removes_the_temporary_and_leaves_no_directory(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="killed"), atomic_dir(tmp_path / "ckpt") as tmp:
        (tmp / "half.bin").write_bytes(b"half")
        raise RuntimeError("killed while writing")

    assert names(tmp_path) == []


def test_an_existing_directory_is_a_file_exists_error_before_anything_is_written(tmp_path: Path) -> None:
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "old.bin").write_bytes(b"old")
    ran = []

    with pytest.raises(FileExistsError, match="ckpt already exists"), atomic_dir(tmp_path / "ckpt"):
        ran.append(True)

    assert ran == [] and names(tmp_path) == ["ckpt"] and names(tmp_path / "ckpt") == ["old.bin"]


def test_something_appearing_meanwhile_is_a_file_exists_error_and_is_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "ckpt"

    with pytest.raises(FileExistsError), atomic_dir(target) as tmp:
        (tmp / "new.bin").write_bytes(b"new")
        target.mkdir()
        (target / "theirs.bin").write_bytes(b"theirs")

    assert names(tmp_path) == ["ckpt"] and names(target) == ["theirs.bin"]


def test_an_existing_empty_directory_is_taken_over(tmp_path: Path) -> None:
    (tmp_path / "export").mkdir()

    with atomic_dir(tmp_path / "export") as tmp:
        (tmp / "model.bin").write_bytes(b"m")

    assert names(tmp_path) == ["export"] and names(tmp_path / "export") == ["model.bin"]


def test_replace_swaps_in_the_new_directory_and_removes_the_old(tmp_path: Path) -> None:
    target = tmp_path / "cache"
    with atomic_dir(target) as tmp:
        (tmp / "old.bin").write_bytes(b"old")

    with atomic_dir(target, replace=True) as tmp:
        (tmp / "new.bin").write_bytes(b"new")
        assert names(target) == ["old.bin"]  # readers see the old one until the end

    assert names(tmp_path) == ["cache"] and names(target) == ["new.bin"]


def test_replace_that_fails_keeps_the_old_directory(tmp_path: Path) -> None:
    target = tmp_path / "cache"
    with atomic_dir(target) as tmp:
        (tmp / "old.bin").write_bytes(b"old")

    with pytest.raises(ValueError), atomic_dir(target, replace=True) as tmp:
        (tmp / "new.bin").write_bytes(b"new")
        raise ValueError("bad input")

    assert names(tmp_path) == ["cache"] and names(target) == ["old.bin"]


def test_the_directory_gets_the_usual_mode_not_a_private_one(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)

    with atomic_dir(tmp_path / "out"):
        pass

    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o777 & ~umask


def test_remove_temporaries_clears_what_a_killed_writer_left(tmp_path: Path) -> None:
    code = textwrap.dedent(f"""
        import os
        from codex_core.fsutil import atomic_dir
        with atomic_dir({str(tmp_path / "step-00000002")!r}) as tmp:
            (tmp / "model.bin").write_bytes(b"half")
            os._exit(9)  # killed: no clean-up runs
    """)
    subprocess.run([sys.executable, "-c", code], check=False, timeout=60)
    (tmp_path / "step-00000001").mkdir()
    left = names(tmp_path)

    removed = remove_temporaries(tmp_path)

    assert len(left) == 2 and left[0].startswith(".step-00000002.tmp-")
    assert [p.name for p in removed] == [left[0]] and names(tmp_path) == ["step-00000001"]


def test_remove_temporaries_for_one_name_leaves_the_others(tmp_path: Path) -> None:
    for name in (".a.tmp-1-00", ".b.tmp-1-00", ".a.old-1-00"):
        (tmp_path / name).mkdir()

    remove_temporaries(tmp_path, "a")

    assert names(tmp_path) == [".b.tmp-1-00"]


@pytest.mark.parametrize("name", ["atomic_dir", "sha256_file", "fsync_tree"])
def test_the_helpers_are_public_core_names(name: str) -> None:
    helper: Callable[..., object] = getattr(codex_core, name)

    assert helper is getattr(fsutil, name)


# -- write failures -----------------------------------------------------------------------
@pytest.mark.parametrize(("code", "reason"), [
    (errno.ENOSPC, "no space left on device"), (errno.EDQUOT, "disk quota exceeded"),
    (errno.EFBIG, "file size limit exceeded"), (errno.EROFS, "read-only file system"),
    (errno.EACCES, "permission denied"), (errno.EPERM, "operation not permitted"),
])
def test_a_write_failure_the_location_explains_is_one_line_naming_the_file(code: int, reason: str) -> None:
    error = write_error(OSError(code, os.strerror(code), "/data/runs/a/metrics.ndjson"))

    assert isinstance(error, WriteError) and error.errno == code
    assert error.message == f"cannot write /data/runs/a/metrics.ndjson: {reason}"
    assert error.hint and "\n" not in str(error)


def test_the_os_error_is_found_behind_a_library_error() -> None:
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError:
            raise RuntimeError("[enforce fail at inline_container.cc:672] unexpected pos") from None
    except RuntimeError as chained:  # torch.save writing through a Python file
        behind = write_error(chained, "/runs/a/trainer_state.pt")
    rust = ValueError("Error while serializing: I/O error: File too large (os error 27)")  # safetensors

    assert behind is not None and behind.message.endswith(": no space left on device")
    assert write_error(rust, "/runs/a/model.safetensors") is not None
    assert write_error(rust, "/runs/a/model.safetensors").errno == errno.EFBIG  # type: ignore[union-attr]


def test_other_failures_are_not_write_errors() -> None:
    assert write_error(FileNotFoundError(errno.ENOENT, "No such file", "/nowhere/x")) is None
    assert write_error(ValueError("a bug"), "/runs/a/x") is None
    assert write_error(OSError(errno.ENOSPC, "No space left on device")) is None  # names no file


def run_limited(code: str, limit: int) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh Python whose files may not grow past ``limit`` bytes (RLIMIT_FSIZE,
    SIGXFSZ ignored: a write past it fails with EFBIG, as on a full disk with ENOSPC)."""
    prelude = ("import resource, signal\n"
               "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
               f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))\n")
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=60)


def test_atomic_write_past_the_file_size_limit_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "manifest.json"
    target.write_text("old")

    done = run_limited(f"""
        from codex_core.errors import WriteError
        from codex_core.fsutil import atomic_write
        try:
            atomic_write({str(target)!r}, "x" * 5000)
        except WriteError as exc:
            print(exc.message)
    """, limit=1000)

    assert done.stdout.strip() == f"cannot write {target}: file size limit exceeded", done.stderr
    assert names(tmp_path) == ["manifest.json"] and target.read_text() == "old"


def test_a_failed_append_is_cut_back_so_no_torn_line_stays(tmp_path: Path) -> None:
    rows = tmp_path / "metrics.ndjson"
    rows.write_text('{"step": 1}\n' * 75)  # 900 bytes

    done = run_limited(f"""
        from codex_core.errors import WriteError
        from codex_core.fsutil import append_whole
        try:
            append_whole({str(rows)!r}, b'{{"step": 2, "pad": "' + b"x" * 300 + b'"}}\\n')
        except WriteError as exc:
            print(exc.message)
    """, limit=1000)  # 100 bytes of the line would fit

    assert done.stdout.strip() == f"cannot write {rows}: file size limit exceeded", done.stderr
    assert rows.read_text() == '{"step": 1}\n' * 75


def test_a_write_failure_in_atomic_dir_names_the_file_by_its_final_name(tmp_path: Path) -> None:
    named, unnamed = tmp_path / "step-00000006", tmp_path / "step-00000009"

    done = run_limited(f"""
        from pathlib import Path
        from codex_core.errors import WriteError
        from codex_core.fsutil import atomic_dir, atomic_write, writing
        for final in (Path({str(named)!r}), Path({str(unnamed)!r})):
            try:
                with atomic_dir(final) as tmp:
                    atomic_write(tmp / "config.json", "{{}}")
                    if final.name.endswith("6"):
                        with writing(tmp / "weights.bin"):
                            (tmp / "weights.bin").write_bytes(b"x" * 5000)
                    else:  # a write error that names no file (as a file object's write)
                        (tmp / "weights.bin").write_bytes(b"x" * 5000)
            except WriteError as exc:
                print(exc.message)
    """, limit=1000)

    assert done.stdout.splitlines() == [f"cannot write {named}/weights.bin: file size limit exceeded",
                                        f"cannot write {unnamed}: file size limit exceeded"], done.stderr
    assert names(tmp_path) == []
