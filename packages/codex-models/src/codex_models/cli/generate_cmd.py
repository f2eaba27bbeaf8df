"""``codex generate``: sample a continuation of a prompt from a model directory, streamed.

The model and its tokenizer are loaded with :func:`codex_models.models.model_dir.load_model_dir`;
the sampling is :func:`codex_models.generation.sampling.generate`. torch and transformers are imported
only when the command runs.
"""

from __future__ import annotations

import json
import logging

import click

from codex_models.cli.run_option import model_source, run_options


@click.command("generate")
@click.option("--model", "model_dir", metavar="DIR", help="A model directory (weights, config and tokenizer.json).")
@run_options
@click.argument("prompt", required=False)
@click.option("--max-new-tokens", type=int, default=128, show_default=True, help="Most tokens to add.")
@click.option("--temperature", type=float, default=0.9, show_default=True,
              help="Divides the logits; 0 takes the most likely token (greedy), 1 the model's distribution.")
@click.option("--top-k", type=int, help="Sample from the K most likely tokens only.")
@click.option("--top-p", type=float, default=0.95, show_default=True,
              help="Sample from the smallest set of tokens whose probabilities add up to P (1: all tokens).")
@click.option("--seed", type=int, help="Seed of the sampling (the same seed gives the same text); default: random.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--dtype", default="fp32", show_default=True, help="fp32, bf16 or fp16.")
@click.option("--no-heal", is_flag=True,
              help="Keep a prompt's trailing whitespace token as it is (by default the first new token must "
                   "start with it instead, as a name follows 'def ' in training text).")
@click.option("--no-stream", is_flag=True, help="Print the text when it is complete instead of as it comes.")
@click.option("--json", "as_json", is_flag=True,
              help="Print {prompt, text, prompt_tokens, new_tokens, new_ids, stop_reason, seed, truncated} as JSON.")
def generate(model_dir: str | None, run: str | None, which: str, runs_dir: str | None, prompt: str | None,
             max_new_tokens: int, temperature: float, top_k: int | None, top_p: float | None, seed: int | None,
             device: str, dtype: str, no_heal: bool, no_stream: bool, as_json: bool) -> None:
    """Continue PROMPT with the model in --model DIR (or a checkpoint of --run RUN, see
    --which); PROMPT `-` reads it from stdin (one trailing newline dropped), no PROMPT
    starts from the beginning of a document.

    Prints the prompt, then the continuation as it is sampled. It stops at the tokenizer's
    end-of-sequence token, after --max-new-tokens, or at the model's context length.
    """
    from codex_core.errors import CodexError
    from codex_models.generation.sampling import check_sampling
    from codex_models.generation.sampling import generate as run_generate

    check_sampling(max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k, top_p=top_p)
    source = model_source({"--model DIR": model_dir}, run, which, runs_dir)
    if not source.is_dir():
        raise CodexError(f"model directory {str(source)!r} does not exist")
    if prompt == "-":
        from codex_core.cli.output import read_stdin_text

        prompt = read_stdin_text("the prompt on standard input")
        prompt = prompt[:-1] if prompt.endswith("\n") else prompt
    prompt = prompt or ""

    from codex_models.models.model_dir import load_model_dir

    model, tokenizer = load_model_dir(source, dtype=dtype, device=device)
    stream = not (no_stream or as_json)
    if stream:
        click.echo(prompt, nl=False)
    result = run_generate(model, tokenizer, prompt, max_new_tokens=max_new_tokens, temperature=temperature,
                          top_k=top_k, top_p=top_p, seed=seed, heal_whitespace=not no_heal,
                          on_text=(lambda text: click.echo(text, nl=False)) if stream else None)
    logging.getLogger("codex").info("stopped at %s; sampled with seed %d", result.stop_reason, result.seed)
    if as_json:
        click.echo(json.dumps({
            "prompt": prompt,
            "text": result.text,
            "prompt_tokens": len(result.prompt_ids),
            "new_tokens": len(result.new_ids),
            "new_ids": result.new_ids,
            "stop_reason": result.stop_reason,
            "seed": result.seed,
            "truncated": result.truncated,
        }, ensure_ascii=False, indent=2))
    elif stream:
        click.echo()
    else:
        click.echo(prompt + result.text)
