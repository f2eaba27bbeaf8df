"""docker/Dockerfile and docker/install.sh agree, without a container engine: each runtime
target of the Dockerfile runs install.sh for the target of its name, runs as a non-root user,
keeps CODEX_HOME on a volume and stays offline; the base image is pinned; torch alone comes
from PyTorch's CPU index; the build context leaves out local state but nothing the build
copies. (tests/install/test_docker.py runs install.sh for real.)"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "docker" / "Dockerfile"
INSTALL_SH = ROOT / "docker" / "install.sh"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


@dataclass
class Stage:
    name: str
    parent: str  # the FROM image or stage, as written
    lines: list[tuple[str, str]] = field(default_factory=list)  # (INSTRUCTION, arguments)

    def args(self, instruction: str) -> list[str]:
        return [rest for name, rest in self.lines if name == instruction]


def instructions(text: str) -> list[tuple[str, str]]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    joined, pending = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in joined]


def parse(text: str) -> tuple[dict[str, str], dict[str, Stage]]:
    """(global ARG defaults, stages by name)."""
    global_args: dict[str, str] = {}
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for name, rest in instructions(text):
        if name == "FROM":
            match = re.fullmatch(r"(?:--\S+\s+)*(\S+)\s+AS\s+(\S+)", rest, re.IGNORECASE)
            assert match, f"every stage is named (FROM IMAGE AS NAME): FROM {rest}"
            current = stages[match[2]] = Stage(match[2], match[1])
        elif current is None:
            assert name == "ARG", f"{name} before the first FROM"
            key, _, value = rest.partition("=")
            global_args[key] = value
        else:
            current.lines.append((name, rest))
    return global_args, stages


def install_targets(stage: Stage) -> list[str]:
    return [m[1] for run in stage.args("RUN") for m in re.finditer(r"docker/install\.sh\s+(\S+)\s", run)]


def lineage(stages: dict[str, Stage], name: str) -> list[Stage]:
    """The stage and the stages it is built FROM, nearest first."""
    chain = [stages[name]]
    while chain[-1].parent in stages:
        chain.append(stages[chain[-1].parent])
    return chain


def env_of(stages: dict[str, Stage], name: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for stage in reversed(lineage(stages, name)):
        for rest in stage.args("ENV"):
            env.update(item.split("=", 1) for item in shlex.split(rest))
    return env


def effective(stages: dict[str, Stage], name: str, instruction: str) -> str | None:
    """The last value of an instruction that a stage has, itself or by inheritance."""
    for stage in lineage(stages, name):
        values = stage.args(instruction)
        if values:
            return values[-1]
    return None


def install_sh(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(INSTALL_SH), *args], capture_output=True, text=True, timeout=60)


GLOBAL_ARGS, STAGES = parse(DOCKERFILE.read_text())
TARGETS = [name for name, stage in STAGES.items() if install_targets(stage)]


def test_each_runtime_target_runs_install_sh_for_its_own_name_and_install_sh_knows_exactly_those() -> None:
    listed = install_sh("--targets")

    assert listed.returncode == 0, listed.stderr
    assert TARGETS == listed.stdout.split() == ["train", "eval"]
    assert {name: install_targets(STAGES[name]) for name in TARGETS} == {name: [name] for name in TARGETS}
    assert set(STAGES) == {"build", "base", *TARGETS}


def test_the_eval_target_installs_the_train_target_with_the_evaluation_extras() -> None:
    train, evaluation = (install_sh("--requirements", name).stdout.split() for name in ("train", "eval"))

    assert train == ["codex-core", "codex-tokenizers[rust]", "codex-data", "codex-models", "codex-telemetry"]
    assert evaluation == [r if r != "codex-models" else "codex-models[eval,lm-eval]" for r in train]
    assert STAGES["eval"].parent == "train"


@pytest.mark.parametrize("target", TARGETS)
def test_a_target_runs_codex_as_a_non_root_user_with_codex_home_on_a_volume_offline(target: str) -> None:
    user = effective(STAGES, target, "USER")
    env = env_of(STAGES, target)

    assert user is not None
    uid = user.split(":")[0].replace("${CODEX_UID}", GLOBAL_ARGS["CODEX_UID"])
    assert uid.isdigit() and int(uid) != 0, user
    assert STAGES[target].args("USER")[-1] == user  # the stage ends as that user (eval installs as root)
    assert env["CODEX_HOME"] == "/data" and effective(STAGES, target, "VOLUME") in ("/data", '["/data"]')
    assert (env["HF_HUB_OFFLINE"], env["HF_DATASETS_OFFLINE"]) == ("1", "1")
    assert env["PIP_NO_CACHE_DIR"] == "1" and env["PIP_CONSTRAINT"] == "/opt/codex/constraints.txt"
    assert effective(STAGES, target, "ENTRYPOINT") == '["codex"]'


def test_train_trains_by_default_and_eval_shows_its_help() -> None:
    assert (STAGES["train"].args("CMD"), STAGES["eval"].args("CMD")) == (['["train"]'], ['["eval", "--help"]'])


def test_the_base_image_is_pinned_by_tag_and_shared_by_every_stage() -> None:
    image = GLOBAL_ARGS["PYTHON_IMAGE"]

    assert re.fullmatch(r"python:3\.11-slim(@sha256:[0-9a-f]{64})?", image), image
    assert {s.parent for s in STAGES.values() if s.parent not in STAGES} == {"${PYTHON_IMAGE}"}


def test_torch_alone_comes_from_pytorchs_cpu_index_and_no_extra_index_is_used() -> None:
    text = INSTALL_SH.read_text()

    assert f"ARG TORCH_INDEX_URL={TORCH_CPU_INDEX}" in [f"ARG {a}" for a in STAGES["train"].args("ARG")]
    assert '"$python" -m pip install --no-deps --index-url "$TORCH_INDEX_URL" torch' in text
    for path in (DOCKERFILE, INSTALL_SH):
        assert "extra-index-url" not in path.read_text(), path


def test_the_runtime_keeps_no_sources_or_wheels_in_its_layers() -> None:
    for name in ("base", *TARGETS):
        copied = STAGES[name].args("COPY")
        runs = STAGES[name].args("RUN")
        assert copied in ([], ["constraints.txt /opt/codex/constraints.txt"]), (name, copied)
        assert all("--mount=type=bind,from=build" in run for run in runs if "install.sh" in run), name


def test_install_sh_refuses_an_unknown_target_or_a_missing_wheel_folder_in_one_line(tmp_path: Path) -> None:
    unknown = install_sh("gpu", str(tmp_path))
    missing = install_sh("train", str(tmp_path / "nowhere"))
    bare = install_sh()

    assert (unknown.returncode, unknown.stderr) == (2, "error: unknown target 'gpu'; choose one of: train eval\n")
    assert missing.returncode == 2 and missing.stderr.startswith(f"error: no folder {tmp_path / 'nowhere'} of wheels;")
    assert bare.returncode == 2 and bare.stderr.startswith("usage: docker/install.sh TARGET WHEEL_DIR")


def dockerignore_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go's filepath.Match, plus ``**``) as a regex over a path."""
    out, i = "", 0
    pattern = pattern.strip("/")
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i:end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def ignored(path: str, patterns: list[re.Pattern[str]]) -> bool:
    """Whether the path, or a folder above it, matches a pattern (the file has no exceptions)."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    return any(p.fullmatch(prefix) for p in patterns for prefix in prefixes)


def test_the_build_context_leaves_out_local_state_but_nothing_the_build_copies() -> None:
    lines = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    assert not any(line.startswith("!") for line in lines)  # ignored() does not model exceptions
    patterns = [dockerignore_regex(line) for line in lines if line and not line.startswith("#")]
    copied = [shlex.split(rest)[0] for rest in STAGES["build"].args("COPY")] + ["constraints.txt"]
    tracked = subprocess.run(["git", "ls-files", "--", *copied], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()

    assert len(tracked) > 50 and [p for p in tracked if ignored(p, patterns)] == []
    for local in ("runs/run-1/metrics.ndjson", ".venv/bin/python", ".tox/py311/log", ".git/HEAD",
                  "packages/codex-core/src/codex_core/__pycache__/cli.cpython-311.pyc", "dist/x.whl",
                  ".pytest_cache/v", ".hypothesis/examples", ".coverage.host.1", "packages/codex-data/runs/r/x"):
        assert ignored(local, patterns), local


@pytest.mark.parametrize("tool,argv", [("hadolint", [str(DOCKERFILE)]), ("shellcheck", [str(INSTALL_SH)])])
def test_the_linters_pass_where_they_are_installed(tool: str, argv: list[str]) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed here (tox -e lint runs hadolint)")

    done = subprocess.run([tool, *argv], capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stdout + done.stderr
