"""``python -m codex_models.training ARGS``: one training process (what torchrun runs in
each process; the arguments are those of ``codex train``)."""

from codex_models.training.launch import main

if __name__ == "__main__":  # pragma: no cover
    main()
