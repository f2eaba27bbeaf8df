"""Fuzzing (hypothesis, derandomized so CI sees the same examples every time) of what users
write by hand: override strings, YAML run configs (random trees and random bytes) and
tokenizer.json files (random JSON, and a real BPE's file mutated). Each is handled or refused
with a :class:`CodexError`; any other exception is a bug.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from codex_core.errors import CodexError

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
YAMLISH = st.sampled_from(["[", "]", "{", "}", ":", ",", "'", '"', "&a", "*a", "!!python/object:os.system", "- ",
                           "#", "|", ">", "~", "null", "1e309", "-.inf", "0x1F", "${env:HOME}", "${x}", "..", ".",
                           "=", "+=", "-=", "\n", "\t", "é", "\u202e", "\x00"])
PIECES = st.lists(st.one_of(TEXT, YAMLISH, st.sampled_from(["trainer", "max_steps", "loggers", "0", "-1", "model",
                                                             "params", "name", "lr", "data", "split"])),
                  max_size=6).map("".join)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True), TEXT, YAMLISH)
TREES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(st.one_of(TEXT, YAMLISH), inner, max_size=4)),
                     max_leaves=12)
SECTIONS = ["run", "tokenizer", "data", "model", "loggers", "metrics", "trainer", "telemetry", "extends"]
TRAINER_KEYS = ["max_steps", "lr", "min_lr", "seq_len", "micro_batch_size", "warmup_steps", "device", "max_time",
                "checkpoint_every", "eval_every", "keep_last", "betas", "dtype", "grad_accum"]


def refuses_cleanly(call: Any, *args: Any) -> None:
    """``call(*args)`` returns or raises a CodexError; anything else fails the test."""
    try:
        call(*args)
    except CodexError as exc:
        assert str(exc).strip(), "an empty error message"
        assert "\n" not in str(exc).strip() or len(str(exc).splitlines()) <= 3, str(exc)


@pytest.fixture(scope="module")
def good_config(world) -> Path:
    return Path(world.paths["good_yaml"])


@FUZZ
@given(key=PIECES, value=st.one_of(PIECES, TREES.map(lambda t: yaml.safe_dump(t, default_flow_style=True).strip())),
       op=st.sampled_from(["=", "+=", "-=", "", "~"]))
def test_random_overrides_are_applied_or_refused(good_config: Path, key: str, value: str, op: str) -> None:
    from codex_core.config import load_config

    text = f"~{key}" if op == "~" else f"{key}{op}{value}"
    refuses_cleanly(load_config, good_config, [text])


@FUZZ
@example(sweeps=["0=,"])  # found by this test: no values left once the empty ones are dropped (IndexError)
@given(sweeps=st.lists(st.one_of(PIECES, st.builds("{}={}".format, PIECES, PIECES)), min_size=1, max_size=3))
def test_random_sweeps_expand_or_are_refused(sweeps: list[str]) -> None:
    from codex_core.config import expand_sweeps

    refuses_cleanly(expand_sweeps, sweeps)


CONFIG_TREES = st.one_of(
    TREES,
    st.dictionaries(st.sampled_from(SECTIONS), TREES, max_size=5),
    st.fixed_dictionaries({}, optional={
        "trainer": st.dictionaries(st.sampled_from(TRAINER_KEYS), SCALARS, max_size=4),
        "model": st.one_of(TEXT, st.fixed_dictionaries({"name": st.sampled_from(["gpt2", "llama", "x"])},
                                                       optional={"params": TREES})),
        "loggers": st.lists(st.one_of(TEXT, TREES), max_size=3),
        "data": st.fixed_dictionaries({}, optional={"name": TEXT, "split": TREES, "params": TREES}),
        "extends": st.one_of(TEXT, st.lists(TEXT, max_size=2)),
    }),
)


@FUZZ
@example(tree={"extends": "\x00"})  # found by this test: a NUL byte in a path (ValueError from pathlib)
@given(tree=CONFIG_TREES)
def test_random_yaml_configs_load_or_are_refused(tmp_path_factory: pytest.TempPathFactory, tree: Any) -> None:
    from codex_core.config import load_config

    path = tmp_path_factory.mktemp("yaml") / "run.yaml"
    path.write_text(yaml.safe_dump(tree, allow_unicode=True), encoding="utf-8")
    refuses_cleanly(load_config, path)


@FUZZ
@given(data=st.one_of(st.binary(max_size=200), TEXT.map(lambda t: t.encode("utf-16")),
                      st.lists(st.one_of(YAMLISH, TEXT), max_size=12).map(lambda p: "".join(p).encode("utf-8"))))
def test_random_bytes_as_a_config_are_refused(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    from codex_core.config import load_config

    path = tmp_path_factory.mktemp("bytes") / "run.yaml"
    path.write_bytes(data)
    refuses_cleanly(load_config, path)


# -- tokenizer.json ------------------------------------------------------------------------
JSON = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=False),
                              TEXT), lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                             st.dictionaries(TEXT, inner, max_size=4)),
                    max_leaves=10)


@pytest.fixture(scope="module")
def real_bpe(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A tiny byte-level BPE trained here, as parsed JSON."""
    from codex_tokenizers.training import train

    texts = ["def value(x):\n    return x + 1\n", "for item in items:\n    print(item)\n"] * 20
    file = tmp_path_factory.mktemp("bpe") / "tokenizer.json"
    train("bpe", vocab_size=300, texts=texts, min_frequency=1, output=file)
    return dict(json.loads(file.read_text(encoding="utf-8")))


def _paths(tree: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path in a JSON tree (lists only to their first 3 items, to keep it small)."""
    out = [prefix]
    if isinstance(tree, dict):  # a vocabulary only to its first 3 entries too
        for key, value in list(tree.items())[: 3 if len(tree) > 20 else None]:
            out += _paths(value, (*prefix, key))
    elif isinstance(tree, list):
        for i, value in enumerate(tree[:3]):
            out += _paths(value, (*prefix, i))
    return out


def _mutate(tree: Any, path: tuple[Any, ...], how: str, value: Any) -> Any:
    if not path:
        return value if how == "replace" else tree
    node = tree
    for part in path[:-1]:
        node = node[part]
    last = path[-1]
    if how == "delete":
        del node[last]
    else:
        node[last] = value
    return tree


def load_both(file: Path) -> None:
    """Load ``file`` with each engine and, where it loads, encode and decode a little text."""
    from codex_tokenizers.engine import load

    for backend in ("rust", "python"):
        try:
            tok = load(file, backend)
        except CodexError:
            continue
        refuses_cleanly(lambda t: t.decode(t.encode("def x(): return 1").ids), tok)


@settings(FUZZ, max_examples=150)
@given(spec=st.one_of(JSON, st.fixed_dictionaries({"model": JSON}, optional={
    "pre_tokenizer": JSON, "normalizer": JSON, "decoder": JSON, "added_tokens": JSON, "post_processor": JSON})))
def test_random_json_as_a_tokenizer_is_refused(tmp_path_factory: pytest.TempPathFactory, spec: Any) -> None:
    file = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    file.write_text(json.dumps(spec), encoding="utf-8")
    load_both(file)


@settings(FUZZ, max_examples=300)
@given(data=st.data())
def test_a_mutated_real_tokenizer_loads_or_is_refused(tmp_path_factory: pytest.TempPathFactory, real_bpe: Any,
                                                      data: st.DataObject) -> None:
    import copy

    tree = copy.deepcopy(real_bpe)
    how = data.draw(st.sampled_from(["delete", "replace", "truncate", "flip"]))
    file = tmp_path_factory.mktemp("mut") / "tokenizer.json"
    if how in ("delete", "replace"):
        paths = [p for p in _paths(tree) if p or how == "replace"]
        path = data.draw(st.sampled_from(paths))
        tree = _mutate(tree, path, how, data.draw(JSON))
        file.write_text(json.dumps(tree), encoding="utf-8")
    else:
        raw = bytearray(json.dumps(tree).encode("utf-8"))
        at = data.draw(st.integers(0, len(raw) - 1))
        if how == "truncate":
            raw = raw[:at]
        else:
            raw[at] ^= 1 << data.draw(st.integers(0, 7))
        file.write_bytes(bytes(raw))
    load_both(file)
