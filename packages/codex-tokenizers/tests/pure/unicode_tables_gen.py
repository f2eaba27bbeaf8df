"""Regenerate ``codex_tokenizers/pure/_unicode_data.py`` from the installed ``tokenizers``.

The Rust library mixes several Unicode versions (Rust std, the ``unicode_categories`` crate,
``unicode-normalization``, Oniguruma, the ``regex`` crate); Python's ``unicodedata`` and the
``regex`` module have their own. This script asks the library, code point by code point, what
each predicate the pure engine needs answers, and writes the answers as range tables (or as
overrides of what Python already knows). Run it after upgrading ``tokenizers``::

    python packages/codex-tokenizers/tests/pure/unicode_tables_gen.py

It takes about a minute (mostly the Oniguruma general categories).
"""

from __future__ import annotations

import pathlib
import unicodedata

import regex
import tokenizers
from tokenizers import Regex
from tokenizers import normalizers as hn
from tokenizers import pre_tokenizers as hp

CHARS = [chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000]
GENERAL_CATEGORIES = ["Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Co", "Cn"]
OUT = pathlib.Path(__file__).parents[2] / "src/codex_tokenizers/pure/_unicode_data.py"


def ranges(points: set[int]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for c in sorted(points):
        if out and out[-1][1] == c - 1:
            out[-1][1] = c
        else:
            out.append([c, c])
    return [(a, b) for a, b in out]


def class_text(points: set[int]) -> str:
    """The ranges as the body of a regex character class, ASCII-only escapes."""
    parts = []
    for a, b in ranges(points):
        parts.append(f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}")
    return "".join(parts)


def isolated_singles(pre: object, sep: str) -> set[int]:
    """Chars that ``pre`` cuts out as one-char pieces when each char is framed by ``sep``."""
    pieces = pre.pre_tokenize_str(sep.join(CHARS))  # type: ignore[attr-defined]
    return {ord(s) for s, _ in pieces if len(s) == 1 and s != sep}


def per_char(normalizer: object, sep: str = "\x1f") -> dict[str, str]:
    """Each char (but ``sep``) -> what ``normalizer`` makes of it."""
    chars = [c for c in CHARS if c != sep]
    out = normalizer.normalize_str(sep.join(chars)).split(sep)  # type: ignore[attr-defined]
    return dict(zip(chars, out, strict=True))


def onig_removed(pattern: str, text: str) -> set[int]:
    kept: set[str] = set()
    for s, _ in hp.Split(Regex(pattern), "removed").pre_tokenize_str(text):
        kept.update(s)
    return {ord(c) for c in text if c not in kept}


def mine_ccc() -> dict[int, int]:
    """Canonical combining classes the library's normalizer disagrees with ``unicodedata`` on."""
    nfd = hn.NFD()
    top, low = "\u0345", "\u0334"  # ccc 240 and ccc 1
    marks: dict[int, str] = {}
    for c in CHARS:
        k = unicodedata.combining(c)
        if k and k not in marks and unicodedata.normalize("NFD", c) == c:
            marks[k] = c
    out = {}
    for c in CHARS:
        p = unicodedata.combining(c)
        if not p or nfd.normalize_str(c) != c:
            continue
        nonzero = nfd.normalize_str(top + c) == c + top or nfd.normalize_str(c + low) == low + c
        if not nonzero:
            out[ord(c)] = 0
            continue
        m = marks[p]
        assert nfd.normalize_str(m + c) == m + c and nfd.normalize_str(c + m) == c + m, hex(ord(c))
    return out


def literal(value: dict[int, object]) -> str:
    items = [f"0x{k:x}: {v!a}" for k, v in sorted(value.items())]
    rows = [", ".join(items[i : i + 6]) for i in range(0, len(items), 6)]
    return "{\n    " + ",\n    ".join(rows) + ("," if rows else "") + "\n}"


def main() -> None:
    data: dict[str, object] = {}
    # Rust std
    data["RUST_NUMERIC"] = class_text(isolated_singles(hp.Digits(individual_digits=True), "a"))
    ws = hp.WhitespaceSplit().pre_tokenize_str("a".join(CHARS))
    kept = set("".join(s for s, _ in ws))
    whitespace = {ord(c) for c in CHARS if c not in kept}
    data["WHITESPACE"] = class_text(whitespace)
    lower = per_char(hn.Lowercase())
    data["LOWER_OVERRIDES"] = {ord(c): v for c, v in lower.items() if v != c.lower()}
    # unicode_categories crate (Bert)
    data["BERT_PUNCT"] = class_text(isolated_singles(hp.Punctuation(), "a"))
    bert = per_char(hn.BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False, lowercase=False), "#")
    removed = {ord(c) for c, v in bert.items() if v == ""}
    data["BERT_REMOVED"] = class_text(removed)
    bert_ws = {ord(c) for c, v in bert.items() if v == " " and c != " "}
    assert bert_ws | {0x20} == whitespace - removed, "Bert whitespace is not White_Space"
    chinese = per_char(hn.BertNormalizer(clean_text=False, handle_chinese_chars=True, strip_accents=False, lowercase=False), "#")
    data["CHINESE"] = class_text({ord(c) for c, v in chinese.items() if v == f" {c} "})
    strip = per_char(hn.StripAccents())
    data["NONSPACING_MARK"] = class_text({ord(c) for c, v in strip.items() if v == ""})
    nfd = per_char(hn.NFD())
    bert_strip = per_char(hn.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=True, lowercase=False))
    data["BERT_MN"] = class_text({ord(c) for c, v in bert_strip.items() if v == "" and nfd[c] == c})
    # unicode-normalization
    for form in ("NFD", "NFKD"):
        lib = per_char(getattr(hn, form)())
        data[f"{form}_OVERRIDES"] = {
            ord(c): v for c, v in lib.items() if v != unicodedata.normalize(form, c)
        }
    data["CCC_OVERRIDES"] = mine_ccc()
    # Oniguruma general categories: the regex module's, minus code points Oniguruma's
    # Unicode version does not assign yet, plus the few whose category changed since.
    text = "".join(CHARS)
    onig = {g: onig_removed(rf"\p{{{g}}}", text) for g in GENERAL_CATEGORIES}
    mine = {g: {ord(c) for c in regex.findall(rf"\p{{{g}}}", text)} for g in GENERAL_CATEGORIES}
    new = onig["Cn"] - mine["Cn"]
    data["ONIG_UNASSIGNED"] = class_text(new)
    changed = {}
    for g in GENERAL_CATEGORIES:
        for c in onig[g] - mine[g] - (new if g == "Cn" else set()):
            changed[c] = g
    data["ONIG_CATEGORY_OVERRIDES"] = changed
    word = onig_removed(r"\w", text)
    mine_word = {ord(c) for c in regex.findall(r"\w", text)} - new
    data["ONIG_WORD_EXTRA"] = class_text(word - mine_word)
    data["ONIG_WORD_MISSING"] = class_text(mine_word - word)
    assert onig_removed(r"\d", text) == onig["Nd"]
    assert {ord(c) for c in regex.findall(r"\d", text)} - new == onig["Nd"]
    assert onig_removed(r"\s", text) == whitespace
    # The regex crate (Whitespace pre-tokenizer, added tokens' single_word) has Oniguruma's
    # Unicode version: its \w is the regex module's minus the same unassigned code points.
    rust_word = isolated_singles(hp.Whitespace(), "!")
    assert rust_word == {ord(c) for c in regex.findall(r"\w", text)} - new

    lines = [
        '"""Unicode tables mined from the Rust `tokenizers` library (generated: do not edit).',
        "",
        f"Generated from tokenizers {tokenizers.__version__} by tests/pure/unicode_tables_gen.py. Strings are",
        "bodies of regex character classes; dicts map code points to the library's answer.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        f"TOKENIZERS_VERSION = {tokenizers.__version__!r}",
    ]
    for name, value in data.items():
        if isinstance(value, str):
            lines.append(f'{name} = r"{value}"')
        else:
            kind = "str" if name.endswith(("LOWER_OVERRIDES", "NFD_OVERRIDES", "NFKD_OVERRIDES", "CATEGORY_OVERRIDES")) else "int"
            lines.append(f"{name}: dict[int, {kind}] = {literal(value)}")
    OUT.write_text("\n".join(lines) + "\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
