#!/usr/bin/env bash
# Install the packages of one image target from built wheels:
#
#     docker/install.sh TARGET WHEEL_DIR        TARGET: train or eval
#     docker/install.sh --targets               print the targets, one a line
#     docker/install.sh --requirements TARGET   print what TARGET installs, one a line
#
# The Dockerfile runs this for each of its targets, and CI runs it in a fresh virtual
# environment, so both install the same way. It installs into the first `python` on PATH,
# or into $PYTHON.
#
# The codex-* packages come from the wheel files in WHEEL_DIR only, by file name
# (tools/dist.py install), never from an index: an unrelated project named `codex-core` is
# on the public index. Their other dependencies come from the configured index, under
# PIP_CONSTRAINT: as set by the caller, else the checkout's constraints.txt (set it to the
# empty string for none). Where TORCH_INDEX_URL is set (the Dockerfile sets PyTorch's CPU
# index), torch alone is installed from that index first, without its dependencies; the
# other packages never see that index.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
targets=(train eval)

usage() {
    echo "usage: docker/install.sh TARGET WHEEL_DIR (TARGET: ${targets[*]}) | --targets | --requirements TARGET"
}

fail() {
    echo "error: $1" >&2
    exit 2
}

requirements() {
    case "$1" in
        train) echo "codex-core codex-tokenizers[rust] codex-data codex-models codex-telemetry" ;;
        eval) echo "codex-core codex-tokenizers[rust] codex-data codex-models[eval,lm-eval] codex-telemetry" ;;
        *) return 1 ;;
    esac
}

case "${1-}" in
    --targets)
        printf '%s\n' "${targets[@]}"
        exit 0
        ;;
    -h | --help)
        usage
        exit 0
        ;;
esac
if [[ $# -ne 2 ]]; then
    usage >&2
    exit 2
fi
if [[ "$1" == --requirements ]]; then target="$2"; else target="$1"; fi
line="$(requirements "$target")" || fail "unknown target '$target'; choose one of: ${targets[*]}"
read -r -a reqs <<<"$line"
if [[ "$1" == --requirements ]]; then
    printf '%s\n' "${reqs[@]}"
    exit 0
fi
wheel_dir="$2"
[[ -d "$wheel_dir" ]] || fail "no folder $wheel_dir of wheels; build them with: python tools/dist.py build $wheel_dir"

python="${PYTHON:-python}"
command -v "$python" >/dev/null || fail "no Python '$python' on PATH; set PYTHON to the environment's python"
if [[ -z "${PIP_CONSTRAINT+set}" && -f "$root/constraints.txt" ]]; then
    export PIP_CONSTRAINT="$root/constraints.txt"
fi
echo "installing target $target into $("$python" -c 'import sys; print(sys.prefix)')" \
    "(constraints: ${PIP_CONSTRAINT:-none})"

# tools/dist.py reads wheel versions (epochs included) with `packaging`, a codex-core dependency.
if ! "$python" -c 'import packaging.utils' 2>/dev/null; then
    "$python" -m pip install packaging
fi
if [[ -n "${TORCH_INDEX_URL-}" ]]; then
    "$python" -m pip install --no-deps --index-url "$TORCH_INDEX_URL" torch
fi
"$python" "$root/tools/dist.py" install "$wheel_dir" --python "$python" "${reqs[@]}"
"$python" -m pip check
# Every installed plugin must load: strict mode makes a broken one fail the install.
CODEX_STRICT_PLUGINS=1 "$python" -m codex_core plugins list
