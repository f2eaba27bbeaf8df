"""The pure-Python tokenizer engine: reads a ``tokenizer.json`` written by the Hugging Face
``tokenizers`` library and gives the same ids, tokens, offsets and decoded text, without
importing ``tokenizers`` (only ``regex``).

Pipeline (as in the library): added tokens are split out of the input, the rest is
normalized (``normalizers``), pre-tokenized into pieces (``pre_tokenizers``), each piece is
tokenized by the model (``models``), offsets are mapped back to the input through the
alignments of :class:`~codex_tokenizers.pure.normalized.NormalizedString`, then the
post-processor adds special tokens (``processors``); ``decoders`` turn tokens back into text.

Offsets everywhere are *character* offsets (what the library's Python binding returns).
"""
