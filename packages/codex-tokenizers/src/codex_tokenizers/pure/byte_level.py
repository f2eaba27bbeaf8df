"""The byte <-> printable-character table of byte-level BPE (GPT-2's ``bytes_to_unicode``)."""

from __future__ import annotations


def _bytes_to_unicode() -> dict[int, str]:
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table = {b: chr(b) for b in printable}
    n = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + n)
            n += 1
    return table


BYTE_TO_CHAR: dict[int, str] = _bytes_to_unicode()
"""Each byte value -> the character that stands for it in byte-level tokens."""

CHAR_TO_BYTE: dict[str, int] = {c: b for b, c in BYTE_TO_CHAR.items()}
"""The inverse of :data:`BYTE_TO_CHAR`."""


def to_byte_chars(text: str) -> str:
    """``"é"`` -> ``"Ã©"``: each UTF-8 byte of ``text`` as its byte-level character."""
    return "".join(BYTE_TO_CHAR[b] for b in text.encode("utf-8"))


def from_byte_chars(chars: str) -> bytes:
    """The bytes that byte-level characters stand for (characters outside the table are
    encoded as UTF-8, as the library's ByteLevel decoder does)."""
    out = bytearray()
    for c in chars:
        b = CHAR_TO_BYTE.get(c)
        if b is None:
            out += c.encode("utf-8")
        else:
            out.append(b)
    return bytes(out)
