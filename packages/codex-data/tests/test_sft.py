"""The ``sft-jsonl`` dataset: chat rendering and loss masks checked with a real BPE tokenizer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import codex_tokenizers
from codex_core.errors import CodexError
from codex_core.protocols import Tokenizer
from codex_data.record_params import SFTParams
from codex_data.sft import IGNORE_INDEX, SFTDataset, SFTExample, pad_examples

EOS = "<|endoftext|>"
CORPUS = [
    "The quick brown fox jumps over the lazy dog. What is the capital of France? Paris is the capital.",
    "A user asks a question and the assistant answers it. Be brief and helpful, and say it again.",
    "<|user|>\nHow many legs has a spider?\n<|assistant|>\nA spider has eight legs.\n",
]


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Tokenizer:
    path = tmp_path_factory.mktemp("tok") / "t.json"
    codex_tokenizers.train("bpe", vocab_size=400, texts=CORPUS * 20, output=path)
    return codex_tokenizers.load(path)


def sft(tmp_path: Path, *records: dict[str, Any], **params: Any) -> SFTDataset:
    path = tmp_path / "sft.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return SFTDataset(SFTParams(paths=[str(path)], **params))


def trained_texts(tokenizer: Tokenizer, example: SFTExample) -> list[str]:
    """The decoded runs of consecutive tokens whose loss mask is 1."""
    runs: list[list[int]] = []
    previous = 0
    for token, masked in zip(example.input_ids, example.loss_mask, strict=True):
        if masked and not previous:
            runs.append([])
        if masked:
            runs[-1].append(token)
        previous = masked
    return [tokenizer.decode(run) for run in runs]


def untrained_text(tokenizer: Tokenizer, example: SFTExample) -> str:
    return tokenizer.decode([t for t, m in zip(example.input_ids, example.loss_mask, strict=True) if not m])


PROMPT = {"prompt": "What is the capital of France?", "completion": "Paris is the capital."}
CHAT = {
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say: the lazy dog"},
        {"role": "assistant", "content": "the lazy dog"},
        {"role": "user", "content": "Say it again."},
        {"role": "assistant", "content": "The lazy dog, again."},
    ]
}


def test_documents_are_rendered_with_the_default_template(tmp_path: Path) -> None:
    (doc,) = sft(tmp_path, PROMPT, eos_token=EOS)
    assert (
        doc.text == f"<|user|>\nWhat is the capital of France?\n<|assistant|>\nParis is the capital.{EOS}\n"
    )


def test_document_meta_has_the_record(tmp_path: Path) -> None:
    (doc,) = sft(tmp_path, PROMPT)
    assert (doc.id, doc.meta["record"]) == ("sft.jsonl:1", PROMPT)


def test_the_loss_mask_covers_exactly_the_completion_and_eos(tmp_path: Path, tokenizer: Tokenizer) -> None:
    (example,) = sft(tmp_path, PROMPT).examples(tokenizer)
    assert trained_texts(tokenizer, example) == [f"Paris is the capital.{EOS}"]


def test_prompt_tokens_are_not_trained_on(tmp_path: Path, tokenizer: Tokenizer) -> None:
    (example,) = sft(tmp_path, PROMPT).examples(tokenizer)
    assert (
        untrained_text(tokenizer, example)
        == f"{EOS}<|user|>\nWhat is the capital of France?\n<|assistant|>\n\n"
    )


def test_a_multi_turn_chat_trains_only_on_assistant_turns(tmp_path: Path, tokenizer: Tokenizer) -> None:
    (example,) = sft(tmp_path, CHAT).examples(tokenizer)
    assert trained_texts(tokenizer, example) == [f"the lazy dog{EOS}", f"The lazy dog, again.{EOS}"]


def test_a_custom_jinja_template(tmp_path: Path, tokenizer: Tokenizer) -> None:
    template = (
        "{% for m in messages %}{% if m['role'] == 'user' %}Q:\n{{ m['content'] }}\n"
        "{% elif m['role'] == 'assistant' %}A:\n{{ m['content'] }}{{ eos_token }}\n{% endif %}{% endfor %}"
    )
    dataset = sft(tmp_path, CHAT, chat_template=template)
    (example,) = dataset.examples(tokenizer)
    assert trained_texts(tokenizer, example) == [f"the lazy dog{EOS}", f"The lazy dog, again.{EOS}"]


def test_a_tokenizer_config_json_supplies_template_and_eos(tmp_path: Path, tokenizer: Tokenizer) -> None:
    config = tmp_path / "tokenizer_config.json"
    config.write_text(
        json.dumps(
            {
                "eos_token": {"content": EOS},
                "chat_template": "{% for m in messages %}<|{{ m.role }}|>{{ m.content | trim }}"
                "{% if m.role == 'assistant' %}{{ eos_token }}{% endif %}{% endfor %}",
            }
        )
    )
    dataset = sft(tmp_path, {"prompt": "Be brief.", "completion": "  Paris.  "}, tokenizer_config=str(config))
    (example,) = dataset.examples(tokenizer)
    assert ([d.text for d in dataset], trained_texts(tokenizer, example)) == (
        [f"<|user|>Be brief.<|assistant|>Paris.{EOS}"],
        [f"Paris.{EOS}"],
    )


def test_an_assistant_reply_repeating_the_prompt_is_masked_at_its_own_place(
    tmp_path: Path, tokenizer: Tokenizer
) -> None:
    (example,) = sft(tmp_path, {"prompt": "the dog", "completion": "the dog"}).examples(tokenizer)
    assert untrained_text(tokenizer, example) == f"{EOS}<|user|>\nthe dog\n<|assistant|>\n\n"


def test_truncation_keeps_the_start(tmp_path: Path, tokenizer: Tokenizer) -> None:
    dataset = sft(tmp_path, PROMPT)
    (full,) = dataset.examples(tokenizer)
    (cut,) = dataset.examples(tokenizer, max_length=len(full) - 3)
    assert (cut.input_ids, dataset.truncated_examples) == (full.input_ids[:-3], 1)


def test_an_example_with_no_completion_left_after_truncation_is_skipped_and_counted(
    tmp_path: Path, tokenizer: Tokenizer
) -> None:
    short = {"prompt": "Hi", "completion": "Paris."}
    (whole,) = sft(tmp_path, short).examples(tokenizer)
    dataset = sft(tmp_path, {"prompt": "A long question. " * 5, "completion": "Paris."}, short)
    kept = list(dataset.examples(tokenizer, max_length=len(whole)))
    assert ([e.id for e in kept], dataset.skipped_examples) == (["sft.jsonl:2"], 1)


BAD = [
    {"prompt": "no completion"},
    {"messages": [{"role": "user", "content": "nobody answers"}]},
    {"messages": [{"role": "robot", "content": "beep"}, {"role": "assistant", "content": "x"}]},
    {"messages": "not a list"},
]


def test_bad_records_are_errors_naming_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(CodexError, match=r"sft\.jsonl:2: not an sft record"):
        list(sft(tmp_path, PROMPT, *BAD))


def test_bad_records_are_skipped_and_counted_by_reason(tmp_path: Path, tokenizer: Tokenizer) -> None:
    dataset = sft(tmp_path, PROMPT, *BAD, bad_rows="skip")
    examples = list(dataset.examples(tokenizer))
    assert (len(examples), dataset.skipped_reasons) == (
        1,
        {"not an sft record": 1, "no assistant message": 1, "bad message": 1, "bad messages": 1},
    )


def test_a_template_that_does_not_compile_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CodexError, match="does not compile"):
        sft(tmp_path, PROMPT, chat_template="{% for m in messages %}")


def test_the_fingerprint_covers_the_template(tmp_path: Path) -> None:
    default = sft(tmp_path, PROMPT).fingerprint()
    assert sft(tmp_path, PROMPT, chat_template="{{ messages }}").fingerprint() != default


def test_pad_examples_pads_each_example_in_its_own_row() -> None:
    batch = pad_examples([SFTExample([5, 6, 7], [0, 1, 1]), SFTExample([8], [1])], pad_id=0)
    assert batch == {
        "input_ids": [[5, 6, 7], [8, 0, 0]],
        "attention_mask": [[1, 1, 1], [1, 0, 0]],
        "labels": [[IGNORE_INDEX, 6, 7], [8, IGNORE_INDEX, IGNORE_INDEX]],
    }


def test_pad_examples_refuses_an_example_longer_than_the_length() -> None:
    with pytest.raises(CodexError, match="more than the padded length 2"):
        pad_examples([SFTExample([1, 2, 3], [1, 1, 1])], pad_id=0, length=2)
