"""The built-in ``stdlib`` problem set: doctested functions of this Python's standard library.

A problem is a module-level function of a standard-library file (the files of the
``stdlib-code`` dataset) whose docstring carries doctest examples:

* the prompt is the imports the function and its examples need, then the function's
  signature and docstring as written; the model writes the body (HumanEval's layout).
  The imports are the module's own top-level ones (relative ones made absolute), and
  ``from <module> import ...`` for the other module-level names they use (helpers,
  constants, exceptions);
* ``check(candidate)`` binds the function's name to the candidate and runs the docstring's
  examples with :mod:`doctest`, failing with an ``AssertionError`` naming the first
  example that failed;
* ``canonical_solution`` is the real body; ``source`` is the file's path inside the
  standard library (like the ``stdlib-code`` document ids) and ``sha256`` the sha256 of its
  text (UTF-8).

Only self-contained functions are kept: no decorators, ``global`` or ``nonlocal``, no
example that touches files, the network, time, randomness, processes or the platform.
Each kept problem is verified in the sandbox: its real body passes (twice, so output that
changes between runs is dropped, and within :data:`SLOW` seconds) and a ``pass`` body
fails. Problems come shortest prompt first. Scanning and verifying take a while (about
ten seconds), so the set is cached as a problem file under ``<cache_dir>/eval/``, keyed by
the Python version, a hash of the files scanned and :data:`BUILDER_VERSION`.
"""

from __future__ import annotations

import ast
import builtins
import doctest
import hashlib
import logging
import platform
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from codex_models.evaluation.problems import Problem, dump_problems, fingerprint, load_problems, program

log = logging.getLogger("codex.eval")

BUILDER_VERSION = 1
"""Bumped whenever the scan or the test code changes (part of the cache key)."""
VERIFY_TIMEOUT = 5.0
SLOW = 1.0
"""A problem whose real body takes longer than this (seconds) is dropped."""
_UNSAFE = re.compile(
    r"\b(open|input|print\s*\(\s*id|exec|__import__|breakpoint)\s*\(|"
    r"\b(os|sys|time|datetime|random|secrets|socket|ssl|urllib|http|ftplib|smtplib|tempfile|shutil|glob|"
    r"pathlib|subprocess|threading|multiprocessing|asyncio|signal|platform|locale|getpass|pwd|grp|uuid|"
    r"ctypes|sqlite3|tkinter|webbrowser|mailbox|zipfile|tarfile|gc|inspect|warnings|weakref)\b"
)
_BUILTINS = frozenset(dir(builtins))
_SIDE_EFFECTS = frozenset({"antigravity", "this", "idlelib.idle", "tkinter.__main__"})
"""Modules whose import does something (a problem never imports from them)."""

_CHECK = '''
def check(candidate):
    import doctest

    class _Runner(doctest.DocTestRunner):
        first = ""

        def report_failure(self, out, test, example, got):
            self.first = self.first or f"{{example.source.strip()!r}}: expected {{example.want.strip()!r}}, got {{got.strip()!r}}"

        def report_unexpected_exception(self, out, test, example, exc_info):
            self.first = self.first or f"{{example.source.strip()!r}} raised {{exc_info[0].__name__}}: {{exc_info[1]}}"

    globs = dict(globals())
    globs[{name!r}] = candidate
    test = doctest.DocTestParser().get_doctest({doc!r}, globs, {name!r}, {source!r}, 0)
    runner = _Runner(verbose=False)
    runner.run(test, out=lambda text: None)
    assert not runner.failures, f"{{runner.failures}} of {{runner.tries}} doctest examples failed; first: {{runner.first[:300]}}"
'''


def _module_of(rel: str) -> tuple[str, str]:
    """``json/encoder.py`` -> (module ``json.encoder``, package ``json``)."""
    dotted = rel.removesuffix(".py").replace("/", ".")
    if dotted.endswith(".__init__"):
        dotted = dotted.removesuffix(".__init__")
        return dotted, dotted
    return dotted, dotted.rpartition(".")[0]


def _imports(tree: ast.Module, package: str) -> dict[str, str]:
    """Name -> the import statement (one line) that binds it, for the module's top-level
    imports; relative imports made absolute."""
    bound: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.asname or alias.name.partition(".")[0]
                bound[name] = ast.unparse(ast.Import(names=[alias]))
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            module = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                if node.level - 1 > len(parts) or not package:
                    continue
                base = ".".join(parts[: len(parts) - (node.level - 1)])
                module = f"{base}.{module}" if module else base
            for alias in node.names:
                if alias.name != "*":
                    bound[alias.asname or alias.name] = ast.unparse(ast.ImportFrom(module=module, names=[alias], level=0))
    return bound


def _names(node: ast.AST) -> tuple[set[str], set[str]]:
    """(names read, names bound) anywhere under ``node`` (an over-approximation of scopes,
    which the sandbox's verification settles)."""
    read: set[str] = set()
    bound: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            (read if isinstance(sub.ctx, ast.Load) else bound).add(sub.id)
        elif isinstance(sub, ast.arg):
            bound.add(sub.arg)
        elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(sub.name)
        elif isinstance(sub, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name.partition(".")[0]) for a in sub.names)
        elif isinstance(sub, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and sub.name:
            bound.add(sub.name)
    return read, bound


def _example_names(examples: Sequence[doctest.Example]) -> set[str] | None:
    """The free names of a docstring's examples; None when one does not parse or looks
    unsafe (files, network, time, randomness, processes, the platform)."""
    read: set[str] = set()
    bound: set[str] = set()
    for example in examples:
        if _UNSAFE.search(example.source):
            return None
        try:
            tree = ast.parse(example.source)
        except SyntaxError:
            return None
        r, b = _names(tree)
        read |= r - bound
        bound |= b
    return read - bound


def _candidate(node: ast.FunctionDef, lines: list[str], imports: dict[str, str], rel: str,
               module: str, sha256: str) -> Problem | None:
    doc = ast.get_docstring(node, clean=False)
    if not doc or ">>>" not in doc or node.decorator_list or len(node.body) < 2:
        return None
    if any(isinstance(sub, (ast.Global, ast.Nonlocal)) for sub in ast.walk(node)):
        return None
    doc_end = node.body[0].end_lineno or 0
    if node.body[1].lineno <= doc_end or lines[doc_end - 1][node.body[0].end_col_offset or 0:].strip():
        return None
    try:
        examples = doctest.DocTestParser().get_examples(doc)
    except ValueError:
        return None
    example_names = _example_names(examples)
    if not examples or example_names is None:
        return None
    read, bound = _names(node)
    free = ((read - bound) | example_names) - _BUILTINS - {node.name}
    own = sorted(name for name in free if name not in imports)
    if own and (module in _SIDE_EFFECTS or module.endswith("__main__")):
        return None
    needed = sorted({imports[name] for name in free if name in imports}, key=list(imports.values()).index)
    if own:
        needed.append(f"from {module} import {', '.join(own)}")
    header = "".join(line + "\n" for line in lines[node.lineno - 1: doc_end])
    body = "".join(line + "\n" for line in lines[doc_end: node.end_lineno])
    prompt = ("\n".join(needed) + "\n\n\n" if needed else "") + header
    test = _CHECK.format(name=node.name, doc=doc, source=rel)
    return Problem(task_id=f"stdlib/{module}:{node.name}", prompt=prompt, test=test, entry_point=node.name,
                   canonical_solution=body, source=rel, sha256=sha256)


def scan_source(rel: str, text: str) -> list[Problem]:
    """The candidate problems of one standard-library file (not yet verified)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    module, package = _module_of(rel)
    imports = _imports(tree, package)
    lines = text.splitlines()
    sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
    found = [_candidate(node, lines, imports, rel, module, sha256)
             for node in tree.body if isinstance(node, ast.FunctionDef)]
    return [p for p in found if p is not None]


def pass_body(problem: Problem) -> str:
    """A body that does nothing, indented like the real one."""
    first = next((line for line in (problem.canonical_solution or "").splitlines() if line.strip()), "    pass")
    return first[: len(first) - len(first.lstrip())] + "pass\n"


def verify(candidates: Sequence[Problem], *, workers: int | None = None) -> list[Problem]:
    """The candidates whose real body passes twice (quickly) and whose ``pass`` body fails."""
    from codex_models.evaluation.sandbox import run_programs

    programs = []
    for p in candidates:
        solved = program(p, p.canonical_solution or "")
        programs += [solved, solved, program(p, pass_body(p))]
    outcomes = run_programs(programs, timeout=VERIFY_TIMEOUT, workers=workers)
    kept = []
    for i, p in enumerate(candidates):
        first, second, empty = outcomes[3 * i: 3 * i + 3]
        if first.passed and second.passed and not empty.passed and max(first.duration, second.duration) <= SLOW:
            kept.append(p)
        else:
            log.debug("stdlib problems: dropped %s (%s / %s / pass body %s)", p.task_id, first.error or first.status,
                      second.error or second.status, empty.status)
    return kept


def _sources(files: Iterable[str] | None) -> tuple[list[tuple[str, str]], str]:
    """``[(relative path, text)]`` of the files to scan (all of the standard library's
    ``.py`` files, or those named), and the cache key over their paths and hashes."""
    from codex_data import StdlibCodeDataset

    dataset = StdlibCodeDataset()
    wanted = None if files is None else set(files)
    if wanted is not None:
        unknown = wanted - {f.rel for f in dataset.files}
        if unknown:
            from codex_core.errors import CodexError

            raise CodexError(f"not files of this standard library: {', '.join(sorted(unknown))}",
                             hint="name them relative to the standard library folder, e.g. 'textwrap.py'")
    digest = hashlib.sha256(f"{BUILDER_VERSION}\n{platform.python_implementation()}\n"
                            f"{platform.python_version()}".encode())
    for f in dataset.files:
        if wanted is None or f.rel in wanted:
            digest.update(f"\n{f.rel}\t{f.sha256}".encode())
    sources = [(doc.id, doc.text) for doc in dataset if wanted is None or doc.id in wanted]
    return sources, digest.hexdigest()


def build_stdlib_problems(sources: Iterable[tuple[str, str]], *, workers: int | None = None) -> list[Problem]:
    """Scan and verify (no cache): the problems of ``sources``, ``(path relative to the
    standard library, text)`` pairs, shortest prompt first (so that ``--max-samples N``
    scores the N that fit a small model's context best)."""
    kept = verify([p for rel, text in sources for p in scan_source(rel, text)], workers=workers)
    return sorted(kept, key=lambda p: (len(p.prompt), p.task_id))


def stdlib_problems(cache_dir: str | Path, files: Iterable[str] | None = None, *,
                    workers: int | None = None) -> list[Problem]:
    """The ``stdlib`` problem set of ``files`` (paths relative to the standard library;
    default: all its ``.py`` files outside the test suites), from
    ``<cache_dir>/eval/stdlib-problems-<key>.jsonl`` when it is there, else built
    (:func:`build_stdlib_problems`) and cached there."""
    from codex_core.fsutil import atomic_write

    files = None if files is None else sorted(set(files))
    sources, key = _sources(files)
    path = Path(cache_dir) / "eval" / f"stdlib-problems-{key[:16]}.jsonl"
    if path.is_file():
        return load_problems(path) if path.stat().st_size else []
    log.info("building the stdlib problem set (scanning %d files, verifying in the sandbox)", len(sources))
    problems = build_stdlib_problems(sources, workers=workers)
    atomic_write(path, dump_problems(problems))
    return problems


def stdlib_fingerprint(problems: Sequence[Problem]) -> str:
    """The fingerprint of a ``stdlib`` problem set: its problems and this Python's version."""
    return fingerprint(problems, {"set": "stdlib", "python_version": platform.python_version(),
                                  "implementation": platform.python_implementation()})
