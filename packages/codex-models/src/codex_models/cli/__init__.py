"""The commands of codex-models, one module each: ``codex models`` (``models_cmd``),
``codex train`` (``train_cmd``), ``codex generate`` (``generate_cmd``) and ``codex export``
(``export_cmd``); ``run_option`` is the shared ``--run RUN --which`` option."""
