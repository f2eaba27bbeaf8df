"""Safe archive extraction: good archives unpack; malicious ones are refused by member."""

from __future__ import annotations

import io
import re
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from codex_core.errors import CodexError
from codex_data.archives import extract

ZEROS = 50 * 2**20  # 50 MiB of zeros compress to about 50 KiB


def make_zip(path: Path, files: dict[str, bytes], symlinks: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=zipfile.ZIP_DEFLATED)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


def make_tgz(path: Path, members: list[tuple[str, str, bytes | str]]) -> Path:
    """``members``: ``(name, kind, data-or-link)`` with kind ``file``, ``symlink``, ``hardlink``, ``chr``."""
    kinds = {
        "file": tarfile.REGTYPE,
        "symlink": tarfile.SYMTYPE,
        "hardlink": tarfile.LNKTYPE,
        "chr": tarfile.CHRTYPE,
        "dir": tarfile.DIRTYPE,
    }
    with tarfile.open(path, "w:gz") as tf:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            info.type = kinds[kind]
            info.mode = 0o755 if kind == "dir" else 0o644
            if isinstance(payload, bytes):
                info.size = len(payload)
                tf.addfile(info, io.BytesIO(payload))
            else:
                info.linkname = payload
                tf.addfile(info)
    return path


def listing(paths: list[Path], root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in paths]


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_zip(tmp_path_factory.mktemp("bomb") / "bomb.zip", {"zeros.bin": bytes(ZEROS)})


@pytest.fixture(scope="module")
def tgz_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tgz(tmp_path_factory.mktemp("bomb") / "bomb.tgz", [("zeros.bin", "file", bytes(ZEROS))])


# -- good archives -----------------------------------------------------------------------
def test_a_zip_extracts_its_files_into_the_target(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "a.zip", {"a.txt": b"alpha", "sub/b.txt": b"beta", "sub/": b""})

    files = extract(archive, tmp_path / "out")

    assert listing(files, tmp_path / "out") == ["a.txt", "sub/b.txt"]


def test_extracted_bytes_match_the_archive(tmp_path: Path) -> None:
    archive = make_tgz(tmp_path / "a.tar.gz", [("d/a.txt", "file", b"alpha")])

    extract(archive, tmp_path / "out")

    assert (tmp_path / "out/d/a.txt").read_bytes() == b"alpha"


def test_links_that_stay_inside_the_target_are_kept(tmp_path: Path) -> None:
    archive = make_tgz(
        tmp_path / "a.tgz",
        [
            ("data/a.txt", "file", b"alpha"),
            ("latest", "symlink", "data/a.txt"),
            ("data/copy.txt", "hardlink", "data/a.txt"),
        ],
    )

    extract(archive, tmp_path / "out")

    assert [(tmp_path / "out" / n).read_bytes() for n in ("latest", "data/copy.txt")] == [b"alpha"] * 2


def test_a_compressible_file_under_the_ratio_floor_is_fine(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "a.zip", {"zeros.bin": bytes(100_000)})

    files = extract(archive, tmp_path / "out", max_ratio=2)

    assert files[0].stat().st_size == 100_000


# -- unsafe member paths -----------------------------------------------------------------
def test_an_absolute_path_is_refused_naming_the_member(tmp_path: Path) -> None:
    archive = make_tgz(tmp_path / "a.tgz", [("/tmp/codex-evil.txt", "file", b"x")])

    with pytest.raises(CodexError, match=re.escape("member '/tmp/codex-evil.txt' has an absolute path")):
        extract(archive, tmp_path / "out")


def test_an_absolute_path_in_a_zip_is_refused(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "a.zip", {"/tmp/codex-evil.txt": b"x"})

    with pytest.raises(CodexError, match="absolute path"):
        extract(archive, tmp_path / "out")


def test_a_dotdot_escape_is_refused_naming_the_member(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "a.zip", {"ok.txt": b"ok", "sub/../../escape.txt": b"x"})

    with pytest.raises(CodexError, match=r"member 'sub/\.\./\.\./escape.txt' has a '\.\.' component"):
        extract(archive, tmp_path / "out")


def test_a_refused_archive_leaves_nothing_behind(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "a.zip", {"ok.txt": b"ok", "../escape.txt": b"x"})
    (tmp_path / "work").mkdir()
    with pytest.raises(CodexError):
        extract(archive, tmp_path / "work/out")

    assert list((tmp_path / "work").iterdir()) == []


# -- links ------------------------------------------------------------------------------
def test_a_symlink_escaping_the_target_is_refused(tmp_path: Path) -> None:
    archive = make_tgz(tmp_path / "a.tgz", [("sub/link", "symlink", "../../outside")])

    with pytest.raises(
        CodexError, match=re.escape("member 'sub/link' is a link to '../../outside', outside the target")
    ):
        extract(archive, tmp_path / "out")


def test_an_absolute_symlink_is_refused(tmp_path: Path) -> None:
    archive = make_tgz(tmp_path / "a.tgz", [("passwd", "symlink", "/etc/passwd")])

    with pytest.raises(CodexError, match=re.escape("member 'passwd' is a symlink to an absolute path")):
        extract(archive, tmp_path / "out")


def test_a_symlink_escaping_through_another_symlink_is_refused(tmp_path: Path) -> None:
    archive = make_tgz(
        tmp_path / "a.tgz",
        [
            ("d1/d2/x", "symlink", "y/../.."),  # looks inside: d1/d2/y/../.. is d1
            ("d1/d2/y", "symlink", "../.."),  # ... but y is the target's root, so x is its parent
        ],
    )

    with pytest.raises(CodexError, match=r"member 'd1/d2/x' .* resolves outside the target"):
        extract(archive, tmp_path / "out")


def test_nothing_is_created_through_a_symlink_that_escapes(tmp_path: Path) -> None:
    archive = make_tgz(
        tmp_path / "a.tgz",
        [
            ("d1/d2/x", "symlink", "y/../.."),
            ("d1/d2/y", "symlink", "../.."),
            ("d1/d2/x/newdir/link", "symlink", "a"),  # x/newdir is outside the target
        ],
    )
    with pytest.raises(CodexError, match=re.escape("member 'd1/d2/x/newdir/link' is inside a link")):
        extract(archive, tmp_path / "a/b/out")

    assert not (tmp_path / "a/newdir").exists()


def test_a_file_is_never_written_through_a_symlink(tmp_path: Path) -> None:
    archive = make_tgz(tmp_path / "a.tgz", [("dir", "symlink", "."), ("dir/a.txt", "file", b"x")])

    with pytest.raises(CodexError, match=re.escape("member 'dir' is a link where the archive already has")):
        extract(archive, tmp_path / "out")


def test_a_zip_symlink_escaping_the_target_is_refused(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "a.zip", {}, symlinks={"link": "../outside"})

    with pytest.raises(CodexError, match=re.escape("member 'link' is a link to '../outside'")):
        extract(archive, tmp_path / "out")


def test_a_hardlink_escaping_the_target_is_refused(tmp_path: Path) -> None:
    archive = make_tgz(tmp_path / "a.tgz", [("shadow", "hardlink", "/etc/shadow")])

    with pytest.raises(CodexError, match=re.escape("member '/etc/shadow' has an absolute path")):
        extract(archive, tmp_path / "out")


def test_a_device_file_is_refused(tmp_path: Path) -> None:
    archive = make_tgz(tmp_path / "a.tgz", [("dev/null", "chr", "")])

    with pytest.raises(CodexError, match=re.escape("member 'dev/null' is a device file")):
        extract(archive, tmp_path / "out")


# -- bombs ------------------------------------------------------------------------------
def test_a_zip_bomb_over_the_total_size_limit_is_refused(zip_bomb: Path, tmp_path: Path) -> None:
    with pytest.raises(
        CodexError, match=re.escape("member 'zeros.bin' unpacks to more than max_total_bytes")
    ):
        extract(zip_bomb, tmp_path / "out", max_total_bytes=10 * 2**20)


def test_a_zip_bomb_over_the_ratio_limit_is_refused(zip_bomb: Path, tmp_path: Path) -> None:
    with pytest.raises(
        CodexError, match=re.escape("member 'zeros.bin' unpacks to more than max_ratio=100 times")
    ):
        extract(zip_bomb, tmp_path / "out", max_ratio=100)


def test_a_tgz_bomb_over_the_total_size_limit_is_refused(tgz_bomb: Path, tmp_path: Path) -> None:
    with pytest.raises(
        CodexError, match=re.escape("member 'zeros.bin' unpacks to more than max_total_bytes")
    ):
        extract(tgz_bomb, tmp_path / "out", max_total_bytes=10 * 2**20)


def test_a_tgz_bomb_over_the_ratio_limit_is_refused(tgz_bomb: Path, tmp_path: Path) -> None:
    with pytest.raises(
        CodexError, match=re.escape("member 'zeros.bin' unpacks to more than max_ratio=100 times")
    ):
        extract(tgz_bomb, tmp_path / "out", max_ratio=100, max_total_bytes=2**40)


# -- misuse -----------------------------------------------------------------------------
def test_an_existing_target_is_not_overwritten(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "a.zip", {"a.txt": b"alpha"})
    (tmp_path / "out").mkdir()

    with pytest.raises(CodexError, match="already exists"):
        extract(archive, tmp_path / "out")


def test_a_damaged_archive_is_a_clear_error(tmp_path: Path) -> None:
    archive = tmp_path / "a.tgz"
    archive.write_bytes(make_tgz(tmp_path / "b.tgz", [("a.txt", "file", b"alpha" * 1000)]).read_bytes()[:60])

    with pytest.raises(CodexError, match="could not be extracted"):
        extract(archive, tmp_path / "out")


def test_an_unknown_format_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.rar").write_bytes(b"x")

    with pytest.raises(CodexError, match="unknown archive format"):
        extract(tmp_path / "a.rar", tmp_path / "out")
