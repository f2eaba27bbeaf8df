"""``codex generate`` run as a real subprocess on a model directory saved by save_model_dir."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

CORPUS = ["Hello world 👋 and a party 🎉🚀 tonight.", "日本語のテキストと中文文本，还有한국어 텍스트。"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    from codex_models import GPT2Params, build_gpt2
    from codex_models.models.model_dir import save_model_dir
    from codex_tokenizers.training import train

    tokenizer = train("bpe", vocab_size=300, texts=CORPUS * 20)
    torch.manual_seed(0)
    model = build_gpt2(GPT2Params(n_layer=2, n_embd=32, n_head=2, vocab_size=tokenizer.vocab_size, n_positions=64))
    return save_model_dir(model, tokenizer, tmp_path_factory.mktemp("generate") / "model")


def codex(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codex_core", "generate", *args], input=stdin, capture_output=True,
                          text=True, encoding="utf-8", timeout=120)


def test_streams_the_prompt_and_the_same_continuation_as_json_gives_for_the_same_seed(model_dir: Path) -> None:
    from codex_models.models.model_dir import load_model_dir

    streamed = codex("--model", str(model_dir), "日本 🦊", "--max-new-tokens", "24", "--seed", "7")
    as_json = codex("--model", str(model_dir), "日本 🦊", "--max-new-tokens", "24", "--seed", "7", "--json")

    assert streamed.returncode == 0 and as_json.returncode == 0, streamed.stderr + as_json.stderr
    result: dict[str, Any] = json.loads(as_json.stdout)
    assert streamed.stdout == "日本 🦊" + result["text"] + "\n"
    _, tokenizer = load_model_dir(model_dir)
    assert result["text"] == tokenizer.decode(result["new_ids"], skip_special_tokens=True)
    assert (result["prompt"], result["seed"], result["new_tokens"]) == ("日本 🦊", 7, len(result["new_ids"]))
    assert result["new_tokens"] == 24 or result["stop_reason"] == "eos"


def test_a_dash_reads_the_prompt_from_stdin(model_dir: Path) -> None:
    out = codex("--model", str(model_dir), "-", "--max-new-tokens", "4", "--temperature", "0", "--json",
                stdin="Hello 👋\n")

    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["prompt"] == "Hello 👋"


@pytest.mark.parametrize(("args", "message"), [
    (["--model", "no-such-dir", "Hi"], "model directory 'no-such-dir' does not exist"),
    (["Hi"], "give --model DIR"),
    (["--temperature", "-1"], "temperature must be 0 (greedy) or more, got -1.0"),
    (["--top-p", "0"], "top_p must be in (0, 1], got 0.0"),
    (["--top-p", "1.5"], "top_p must be in (0, 1], got 1.5"),
    (["--top-k", "0"], "top_k must be 1 or more, got 0"),
])
def test_bad_input_is_one_line_and_exit_status_2(model_dir: Path, args: list[str], message: str) -> None:
    if "--model" not in args and args != ["Hi"]:
        args = ["--model", str(model_dir), "Hi", *args]
    out = codex(*args)

    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [out.stderr.strip()] and message in out.stderr
