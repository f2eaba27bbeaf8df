"""``codex data``: the datasets and connectors that are installed."""

from __future__ import annotations

import json
from typing import Any

import click


@click.group()
def data() -> None:
    """Datasets, connectors and prepared token caches."""


@data.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def list_components(as_json: bool) -> None:
    """List the installed datasets and connectors (from every plugin)."""
    from codex_core.plugins import get_plugin_manager

    registry = get_plugin_manager().registry
    rows = [{"kind": spec.kind, "name": spec.name, "aliases": list(spec.aliases), "plugin": spec.plugin,
             "description": spec.description}
            for kind in ("dataset", "connector") for spec in registry.list(kind)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no datasets or connectors installed")
        return
    width = max(len(r["name"]) for r in rows)
    for row in rows:
        click.echo(f"{row['kind']:<10} {row['name']:<{width}}  {row['description']} ({row['plugin']})")


def _key_values(items: tuple[str, ...]) -> dict[str, Any]:
    from codex_core.config.overrides import apply_overrides

    params: dict[str, Any] = {}
    apply_overrides(params, list(items))
    return params


def _tokenizer_ref(value: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A tokenizer.json path (or a directory holding one) goes through ``tokenizer-json``."""
    from pathlib import Path

    path = Path(value)
    if path.suffix == ".json" or path.is_dir() or path.is_file():
        return "tokenizer-json", {"path": value, **params}
    return value, params


@data.command()
@click.option("-c", "--config", "config_file", type=click.Path(dir_okay=False),
              help="Run config: its data (with data.split.seed) and tokenizer (default: none; use --dataset).")
@click.option("--dataset", help="A registered dataset (e.g. text, jsonl, stdlib-code).")
@click.option("--dataset-param", "dataset_params", multiple=True, metavar="KEY=VALUE", help="Dataset param; repeatable.")
@click.option("--tokenizer", "tokenizer_name", help="A tokenizer.json, or a registered tokenizer name.")
@click.option("--tokenizer-param", "tokenizer_params", multiple=True, metavar="KEY=VALUE",
              help="Tokenizer param; repeatable.")
@click.option("-o", "--output", type=click.Path(file_okay=False), help="Cache directory (default: under the cache root).")
@click.option("--policy", type=click.Path(dir_okay=False),
              help="Safety policy YAML (default: the config's data.safety, else the built-in rules).")
@click.option("--no-filters", is_flag=True, help="Turn the safety filters off (recorded in the manifest).")
@click.option("--seed", type=int, help="Seed of the split hash (default: the config's data.split.seed, else 1337).")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest summary as JSON.")
@click.argument("overrides", nargs=-1)
def prepare(config_file: str | None, dataset: str | None, dataset_params: tuple[str, ...], tokenizer_name: str | None,
            tokenizer_params: tuple[str, ...], output: str | None, policy: str | None, no_filters: bool,
            seed: int | None, as_json: bool, overrides: tuple[str, ...]) -> None:
    """Tokenize a dataset into a token cache (reused when nothing changed)."""
    from codex_core.config import DataSection
    from codex_core.context import BuildContext
    from codex_core.errors import CodexError
    from codex_core.plugins import get_plugin_manager
    from codex_data.pipeline import prepare_cache

    if no_filters and policy:
        raise CodexError("--policy and --no-filters contradict each other")
    safety = "off" if no_filters else policy
    if config_file is not None or overrides:
        from codex_core.config import load_config

        config = load_config(config_file, overrides).config
        d_params = {**config.data.params, **_key_values(dataset_params)}
        section = config.data.model_copy(update={"name": dataset or config.data.name, "params": d_params,
                                                 "safety": safety or config.data.safety})
        t_name, t_params = (_tokenizer_ref(tokenizer_name, _key_values(tokenizer_params)) if tokenizer_name
                            else (config.tokenizer.name, dict(config.tokenizer.params)))
        seed = config.data.split.seed if seed is None else seed
    else:
        if dataset is None or tokenizer_name is None:
            raise CodexError("give -c CONFIG, or --dataset NAME and --tokenizer FILE|NAME")
        section = DataSection(name=dataset, params=_key_values(dataset_params), safety=safety or "builtin")
        t_name, t_params = _tokenizer_ref(tokenizer_name, _key_values(tokenizer_params))
    seed = 1337 if seed is None else seed
    context = BuildContext(registry=get_plugin_manager().registry, seed=seed)
    tok = context.build("tokenizer", t_name, t_params)
    cache = prepare_cache(section, tok, context, seed=seed, out=output, progress=True)
    summary = {"path": str(cache.path), "reused": not cache.built, **_summary(cache.manifest.to_dict())}
    if not any(split["tokens"] for split in summary["splits"].values()):  # as codex train would find out later
        seen = ", ".join(f"{k} {v}" for k, v in {**summary["counts"], **summary["filter_counts"]}.items() if v)
        raise CodexError(f"dataset {section.name!r} {section.params} gave no tokens ({seen or 'no documents'})",
                         hint="check its params: the files may be empty, skipped or all filtered out")
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(f"{'reused' if summary['reused'] else 'wrote'} {summary['path']}")
    for name, split in summary["splits"].items():
        click.echo(f"  {name:<5} {split['documents']:>8} documents {split['tokens']:>12} tokens")
    counts = {**summary["counts"], **summary["filter_counts"]}
    click.echo("  " + ", ".join(f"{k} {v}" for k, v in counts.items() if v))


def _summary(manifest: dict[str, Any]) -> dict[str, Any]:
    return {
        "splits": {n: {"documents": s["documents"], "tokens": s["tokens"]} for n, s in manifest["splits"].items()},
        "counts": manifest["counts"],
        "filter_counts": manifest["filter_counts"],
        "tokenizer_fingerprint": manifest["tokenizer_fingerprint"],
        "dtype": manifest["dtype"],
    }


_MARGIN = 1024
"""Tokens on each side of a shown sample window that the safety filters see with it (a PEM key
is ~1700 characters)."""


@data.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--tokenizer", "tokenizer_name", help="Decode samples with this tokenizer.json or name.")
@click.option("--samples", type=click.IntRange(min=0), default=2, show_default=True, help="Samples per split.")
@click.option("--policy", type=click.Path(dir_okay=False),
              help="Safety policy YAML applied to the decoded samples before they are shown (default: the built-in rules).")
@click.option("--no-filters", is_flag=True, help="Show the decoded samples unfiltered.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def inspect(directory: str, tokenizer_name: str | None, samples: int, policy: str | None, no_filters: bool,
            as_json: bool) -> None:
    """Show a token cache: manifest, counts and sample windows (decoded samples pass the safety
    filters: a cache built with --no-filters may hold secrets)."""
    from codex_core.errors import CodexError
    from codex_data.safety import Policy, SafetyFilter
    from codex_data.token_cache import load_cache

    if no_filters and policy:
        raise CodexError("--policy and --no-filters contradict each other")
    safety = None if no_filters else SafetyFilter(Policy.load(policy))

    cache = load_cache(directory)
    manifest = cache.manifest.to_dict()
    tok = None
    if tokenizer_name:
        from codex_core.context import BuildContext
        from codex_core.plugins import get_plugin_manager

        name, params = _tokenizer_ref(tokenizer_name, {})
        tok = BuildContext(registry=get_plugin_manager().registry).build("tokenizer", name, params)
        if tok.fingerprint() != manifest["tokenizer_fingerprint"]:
            raise CodexError("that tokenizer is not the one this cache was built with (fingerprints differ)")
    shown: dict[str, list[Any]] = {}
    for split in manifest["splits"]:
        tokens = cache.split(split)
        shown[split] = []
        for i in range(samples):
            ids = [int(t) for t in tokens[i * 64:(i + 1) * 64]]
            if not ids:
                break
            if tok is None:
                shown[split].append(ids)
            elif safety is None:
                shown[split].append(tok.decode(ids))
            else:  # filtered with the text around it, so that a secret across the window's edge is found
                around = [[int(t) for t in tokens[a:b]] for a, b in ((max(0, i * 64 - _MARGIN), i * 64),
                                                                      ((i + 1) * 64, (i + 1) * 64 + _MARGIN))]
                shown[split].append(safety.redact_part(tok.decode(around[0]), tok.decode(ids), tok.decode(around[1])))
    info = {"path": str(cache.path), **_summary(manifest), "sources": manifest["sources"],
            "split_ratios": manifest["split_ratios"], "seed": manifest["seed"], "samples": shown,
            "samples_filter": safety.summary() if safety is not None and tok is not None else None}
    if as_json:
        click.echo(json.dumps(info, indent=2, ensure_ascii=False))
        return
    click.echo(f"token cache {info['path']} ({info['dtype']}, seed {info['seed']}, ratios {info['split_ratios']})")
    for name, split in info["splits"].items():
        click.echo(f"  {name:<5} {split['documents']:>8} documents {split['tokens']:>12} tokens")
    click.echo(f"  sources: {len(info['sources'])}; counts: {info['counts']}; filters: {info['filter_counts']}")
    for name, items in shown.items():
        for item in items:
            click.echo(f"  [{name}] {item!r}"[:300])


@data.command()
@click.argument("directory", type=click.Path(file_okay=False))
def verify(directory: str) -> None:
    """Re-hash every shard against the manifest (exit 1 naming a bad shard)."""
    from codex_data.token_cache import CorruptCacheError, load_cache

    try:
        cache = load_cache(directory, verify=True)
    except CorruptCacheError as exc:  # damaged: exit 1; not a cache at all (missing, another format): exit 2
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    shards = sum(len(s["shards"]) for s in cache.manifest.to_dict()["splits"].values())
    click.echo(f"ok: {shards} shards of {cache.path} match the manifest")
