"""Run generated Python programs in a separate, limited process.

Each program runs in its own ``python -I`` process (isolated mode: no user site, no
``PYTHON*`` variables, no script folder on ``sys.path``), in a new session, with a fresh
temporary directory as its working directory and ``HOME``/``TMPDIR``, and a clean
environment (``PATH``, ``LANG``, ``LC_ALL``, ``HOME``, ``TMPDIR`` only). Where ``unshare --net`` works
(probed once per process) the process gets an empty network namespace. A small bootstrap
runs before the program: it sets resource limits (address space, CPU seconds, file size,
open files), drops to an unprivileged uid (``nobody``) when codex runs as root and that uid
can read this Python, and installs an audit hook (``sys.addaudithook``) that refuses:

* ``open`` for writing, and removing, renaming or creating files, outside the temp dir;
* starting programs: ``subprocess.Popen``, ``os.system``, ``os.exec*``, ``os.spawn*``,
  ``os.fork``, ``os.posix_spawn``; signals to other processes;
* ``ctypes`` (any ``ctypes.*`` event) and sockets (any ``socket.*`` event).

A refused operation raises ``PermissionError`` in the program and makes the run fail even
when the program catches it. At the timeout the whole process group is killed.

This contains accidents and model mistakes (an infinite loop, a runaway allocation, a
stray ``os.remove``); it is **not a security boundary**. Audit hooks can be evaded by
code that sets out to (the hook lives in the same interpreter as the program), and
without the uid drop or the network namespace the program runs with codex's own
rights. Do not run code from an adversary with it; use a container or a VM for that.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("codex.eval")

MEMORY_LIMIT = 1 << 30
"""Default address-space limit of a program (bytes)."""
FILE_SIZE_LIMIT = 16 << 20
"""Largest file a program may write (bytes; stdout and stderr included)."""
OPEN_FILES_LIMIT = 64
NOBODY = 65534
ERROR_CHARS = 500
"""An outcome's error line is cut to this many characters."""

_BOOTSTRAP = r"""
import os, sys, resource, traceback, builtins, _thread
_tmp, _uid, _mem, _cpu, _fsize, _nofile = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
for _res, _val in ((resource.RLIMIT_AS, _mem), (resource.RLIMIT_CPU, _cpu), (resource.RLIMIT_FSIZE, _fsize), (resource.RLIMIT_NOFILE, _nofile)):
    _hard = resource.getrlimit(_res)[1]
    if _val > 0:
        _val = _val if _hard == resource.RLIM_INFINITY else min(_val, _hard)
        resource.setrlimit(_res, (_val, _val + 1 if _res == resource.RLIMIT_CPU and _hard == resource.RLIM_INFINITY else _val))
if _uid >= 0:
    os.setgroups([])
    os.setgid(_uid)
    os.setuid(_uid)
with open(os.path.join(_tmp, "program.py"), encoding="utf-8") as _f:
    _source = _f.read()
_refused = []
_busy = set()
_WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_PATHS = {"os.remove": 1, "os.rename": 2, "os.rmdir": 1, "os.mkdir": 1, "os.symlink": 2, "os.link": 2,
          "os.truncate": 1, "os.chmod": 1, "os.chown": 1, "os.utime": 1, "shutil.rmtree": 1, "shutil.move": 2}
_PROGRAMS = ("subprocess.Popen", "os.system", "os.exec", "os.spawn", "os.fork", "os.forkpty", "os.posix_spawn",
             "pty.spawn", "os.startfile")
def _inside(path):
    if isinstance(path, int):
        return True
    path = os.path.realpath(os.fsdecode(path))
    return path == _tmp or path.startswith(_tmp + os.sep)
def _refuse(event, what):
    _refused.append(f"{event} {what}".strip())
    raise PermissionError(f"sandbox: {event} is not allowed {what}".strip())
def _hook(event, args):
    _me = _thread.get_ident()
    if _me in _busy:
        return
    _busy.add(_me)
    try:
        if event == "open":
            flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
            mode = args[1] if len(args) > 1 and isinstance(args[1], str) else ""
            if (flags & _WRITE or any(c in mode for c in "wax+")) and not _inside(args[0]):
                _refuse("writing", f"outside the sandbox's folder: {args[0]!r}")
        elif event in _PATHS:
            for path in args[:_PATHS[event]]:
                if isinstance(path, (str, bytes, os.PathLike)) and not _inside(path):
                    _refuse(event, f"outside the sandbox's folder: {path!r}")
        elif event.startswith(_PROGRAMS):
            _refuse(event, "(no subprocesses)")
        elif event.startswith("ctypes."):
            _refuse(event, "(no ctypes)")
        elif event.startswith("socket."):
            _refuse(event, "(no network)")
        elif event in ("os.kill", "os.killpg") and args and args[0] not in (0, os.getpid(), os.getpgid(0)):
            _refuse(event, "(no signals to other processes)")
    finally:
        _busy.discard(_me)
sys.argv = ["program.py"]
sys.addaudithook(_hook)
del resource
_status = 0
try:
    exec(compile(_source, "program.py", "exec"), {"__name__": "__main__", "__builtins__": builtins})
except SystemExit as _exc:
    _status = _exc.code if isinstance(_exc.code, int) else (0 if _exc.code is None else 1)
    if _exc.code is not None and not isinstance(_exc.code, int):
        print(_exc.code, file=sys.stderr)
except BaseException:
    traceback.print_exc()
    _status = 1
if _refused and not _status:
    print(f"PermissionError: sandbox refused {_refused[0]}", file=sys.stderr)
    _status = 1
sys.stdout.flush()
sys.stderr.flush()
os._exit(_status)
"""


@dataclass(frozen=True)
class Outcome:
    """What running one program gave: ``status`` is ``"passed"`` (exit status 0),
    ``"failed"`` or ``"timeout"``; ``error`` is the last line of the traceback (or of the
    error output), ``""`` when it passed; ``duration`` in seconds."""

    status: str
    error: str = ""
    duration: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status == "passed"


_probe_lock = threading.RLock()
_probed_net: list[str] | None = None
_probed_uid: int | None = None


def _net_prefix() -> list[str]:
    """``unshare --net`` (as root; ``--map-root-user`` otherwise) when it works here, else
    ``[]`` (sockets are still refused by the audit hook). Probed once per process."""
    global _probed_net
    with _probe_lock:
        if _probed_net is None:
            _probed_net = _probe_unshare()
        return list(_probed_net)


def _probe_unshare() -> list[str]:
    unshare = shutil.which("unshare")
    if unshare is None or not sys.platform.startswith("linux"):
        return []
    prefix = [unshare, "--net"] if os.geteuid() == 0 else [unshare, "--net", "--map-root-user"]
    try:
        done = subprocess.run([*prefix, sys.executable, "-I", "-c", "pass"], capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return []
    if done.returncode != 0:
        log.info("sandbox: unshare --net does not work here; sockets are refused by the audit hook only")
        return []
    return prefix


def _drop_uid() -> int:
    """The uid programs run as: ``nobody`` when codex runs as root and ``nobody`` can read
    this Python's standard library (probed once per process), else -1 (no change)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return -1
    global _probed_uid
    with _probe_lock:
        if _probed_uid is None:
            probe = _run_one("import doctest, decimal, json\n", timeout=10, memory=MEMORY_LIMIT, uid=NOBODY)
            if not probe.passed:
                log.info("sandbox: uid %d cannot run this Python (%s); programs run as root", NOBODY, probe.error)
            _probed_uid = NOBODY if probe.passed else -1
        return _probed_uid


def _clean_env(tmp: str) -> dict[str, str]:
    return {"PATH": os.defpath, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "HOME": tmp, "TMPDIR": tmp}


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:ERROR_CHARS] if lines else ""


def _wait_unreaped(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for ``proc`` to exit, without reaping it: while it is
    a zombie its pid (its process group's id) cannot be reused, so killing the group after
    cannot reach another program. True when it exited."""
    deadline = time.monotonic() + timeout
    delay = 0.0005
    while True:
        try:
            if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
        except ChildProcessError:
            return True  # reaped already (nothing else waits for it, but then it exited)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.02)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # the group is empty
    except PermissionError:
        proc.kill()


def run_program(program: str, *, timeout: float, memory: int = MEMORY_LIMIT) -> Outcome:
    """Run one program in the sandbox; see the module docstring."""
    return _run_one(program, timeout=timeout, memory=memory, uid=_drop_uid())


def _run_one(program: str, *, timeout: float, memory: int, uid: int) -> Outcome:
    tmp = os.path.realpath(tempfile.mkdtemp(prefix="codex-sandbox-"))
    start = time.monotonic()
    try:
        Path(tmp, "program.py").write_text(program, encoding="utf-8")
        if uid >= 0:
            os.chown(tmp, uid, uid)
        cpu = max(1, math.ceil(timeout) + 1)
        argv = [*_net_prefix(), sys.executable, "-I", "-c", _BOOTSTRAP, tmp, str(uid), str(memory), str(cpu),
                str(FILE_SIZE_LIMIT), str(OPEN_FILES_LIMIT)]
        with open(os.path.join(tmp, ".stderr"), "w+b") as err:
            proc = subprocess.Popen(argv, cwd=tmp, env=_clean_env(tmp), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=err, start_new_session=True, close_fds=True)
            try:
                exited = _wait_unreaped(proc, timeout)
            finally:
                _kill_group(proc)  # at the timeout, and anything the program left behind in its group
                code = proc.wait()
            if not exited:
                return Outcome("timeout", f"timed out after {timeout:g} s", time.monotonic() - start)
            err.seek(0)
            stderr = err.read(1 << 20).decode("utf-8", "replace")
        duration = time.monotonic() - start
        if code == 0:
            return Outcome("passed", "", duration)
        if code == -signal.SIGXCPU:
            return Outcome("timeout", f"timed out after {timeout:g} s (CPU time)", duration)
        error = _last_line(stderr) or (f"killed by signal {-code}" if code < 0 else f"exit status {code}")
        return Outcome("failed", error, duration)
    except OSError as exc:
        return Outcome("failed", f"sandbox could not run the program: {exc}", time.monotonic() - start)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_programs(programs: Sequence[str], *, timeout: float, workers: int | None = None,
                 memory: int = MEMORY_LIMIT) -> list[Outcome]:
    """Run ``programs`` in the sandbox, up to ``workers`` at a time (default: the number of
    CPUs), each with ``timeout`` seconds of wall time; the outcomes in input order."""
    if not programs:
        return []
    uid = _drop_uid()
    _net_prefix()
    workers = max(1, min(workers or os.cpu_count() or 1, len(programs)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="codex-sandbox") as pool:
        return list(pool.map(lambda p: _run_one(p, timeout=timeout, memory=memory, uid=uid), programs))
