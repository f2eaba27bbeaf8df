"""Property tests of the override parser (hypothesis)."""

from __future__ import annotations

import math

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from codex_core.config.overrides import _FLOAT, apply_override, parse_override
from codex_core.config.sweep import expand_sweeps

keys = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True)
paths = st.lists(keys, min_size=1, max_size=4)
scalars = st.one_of(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.booleans(),
    # strings that read as exponent floats ("1e5") are parsed as floats on purpose
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20).filter(
        lambda s: not _FLOAT.match(s.strip())),
)
values = st.one_of(scalars, st.lists(scalars, max_size=4), st.dictionaries(keys, scalars, max_size=3))


def dump(value: object) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10**9, allow_unicode=True).removesuffix(
        "\n...\n").rstrip("\n")


def same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


@settings(max_examples=300, deadline=None)
@given(paths, values)
def test_set_parses_any_yaml_value_back_to_itself(path, value):
    override = parse_override(f"{'.'.join(path)}={dump(value)}")

    assert override.op == "set"
    assert override.path == tuple(path)
    assert same(override.value, value) or (value == "" and override.value == "")


@settings(max_examples=200, deadline=None)
@given(paths, values)
def test_applying_a_set_then_reading_the_path_gives_the_value(path, value):
    tree: dict = {}

    apply_override(tree, parse_override(f"{'.'.join(path)}={dump(value)}"))

    node = tree
    for key in path:
        node = node[key]
    assert same(node, value) or (value == "" and node == "")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(), min_size=1, max_size=5, unique=True), st.lists(st.integers(), min_size=1,
                                                                              max_size=3, unique=True))
def test_sweep_ids_are_stable_under_reordering(xs, ys):
    a = expand_sweeps([f"a.x={','.join(map(str, xs))}", f"b.y={','.join(map(str, ys))}"])
    b = expand_sweeps([f"b.y={','.join(map(str, ys))}", f"a.x={','.join(map(str, xs))}"])

    assert len(a) == len(xs) * len(ys)
    assert {p.id for p in a} == {p.id for p in b}


def test_exponent_floats_without_a_dot_are_floats():
    assert parse_override("trainer.lr=1e-3").value == 0.001
    assert parse_override("trainer.lr='1e-3'").value == "1e-3"


def test_a_unicode_space_is_a_value_not_whitespace_around_it():
    assert parse_override("run.name=\xa0").value == "\xa0"
