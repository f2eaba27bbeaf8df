"""The reference training loop of ``bench/train.py``: bare PyTorch, nothing from codex.

It trains the job ``bench/train.py`` describes in a JSON spec, reading the same token
cache as codex: the shards that the cache's ``manifest.json`` lists for the ``train``
split (raw little-endian ``uint16``/``uint32`` ids, see docs/token-cache.md), memory-mapped.
Windows and their order follow the documented data-feed contract: window ``w`` is
``tokens[w*T : w*T + T + 1]``, epoch ``e`` visits the windows in the permutation drawn
from ``PCG64(SeedSequence([seed, e]))``, batch ``i`` is windows ``perm[i*B:(i+1)*B]``.
The model is ``GPT2LMHeadModel`` built from ``GPT2Config`` after ``torch.manual_seed(seed)``;
the loss is cross-entropy summed over the targets divided by their number; fused AdamW,
constant learning rate, no clipping.

    python bench/_train_reference.py SPEC.json

Prints one JSON line: the wall-clock and CPU time after each step (``perf_counter``,
``process_time``) and each step's loss.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

# bench/tokenizers.py would shadow the library: keep this folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]


def train_tokens(cache_dir: Path) -> Any:
    """The train split of a token cache as one array (a memmap when it has one shard)."""
    import numpy as np

    manifest = json.loads((cache_dir / "manifest.json").read_text())
    dtype = np.dtype(manifest["dtype"]).newbyteorder("<")
    shards = [np.memmap(cache_dir / shard["file"], dtype=dtype, mode="r")
              for shard in manifest["splits"]["train"]["shards"]]
    return shards[0] if len(shards) == 1 else np.concatenate(shards)


def batches(tokens: Any, seq_len: int, batch: int, seed: int) -> Any:
    """Batches of ``batch`` windows of ``seq_len + 1`` tokens (int64), endlessly."""
    import numpy as np

    n_windows = (len(tokens) - 1) // seq_len
    epoch = 0
    while True:
        order = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, epoch]))).permutation(n_windows)
        for i in range(n_windows // batch):
            rows = order[i * batch:(i + 1) * batch]
            yield np.stack([np.asarray(tokens[w * seq_len:w * seq_len + seq_len + 1], dtype=np.int64)
                            for w in rows.tolist()])
        epoch += 1


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    import torch
    import torch.nn.functional as F
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.set_num_threads(spec["threads"])
    torch.manual_seed(spec["seed"])
    config = GPT2Config(vocab_size=spec["vocab_size"], n_positions=spec["n_positions"], n_layer=spec["n_layer"],
                        n_head=spec["n_head"], n_embd=spec["n_embd"], resid_pdrop=0.0, embd_pdrop=0.0,
                        attn_pdrop=0.0, pad_token_id=spec["pad_id"], bos_token_id=spec["bos_id"],
                        eos_token_id=spec["eos_id"])
    model = GPT2LMHeadModel(config)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=spec["lr"], betas=tuple(spec["betas"]), eps=spec["eps"],
                                  weight_decay=0.0, fused=True)
    data = batches(train_tokens(Path(spec["cache_dir"])), spec["seq_len"], spec["micro_batch"], spec["seed"])
    vocab = config.vocab_size

    times, cpu, losses = [], [], []
    start = time.perf_counter()
    for _ in range(spec["steps"]):
        window = torch.from_numpy(next(data))
        inputs, targets = window[:, :-1], window[:, 1:]
        logits = model(input_ids=inputs).logits
        loss = F.cross_entropy(logits.float().reshape(-1, vocab), targets.reshape(-1), reduction="sum")
        loss = loss / targets.numel()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
        times.append(time.perf_counter())
        cpu.append(time.process_time())
    codex_modules = sorted(m for m in sys.modules if m.split(".")[0].startswith("codex"))
    if codex_modules:
        raise SystemExit(f"the reference imported codex modules: {codex_modules}")
    print(json.dumps({"start": start, "times": times, "cpu": cpu, "losses": losses,
                      "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
