"""Reading JSON numbers the way the ``tokenizers`` library does.

The library parses tokenizer.json with ``serde_json`` without its ``float_roundtrip``
feature: a number's digits become a ``u64`` significand (digits past ``u64::MAX`` are
dropped) scaled by a power of ten in one multiplication or division. That is not always
the correctly rounded double that Python's ``float()`` gives: the two can differ in the
last bit, and Unigram scores that tie to the last bit then pick different pieces. So the
pure engine reads numbers with the same algorithm (``json.loads(..., parse_float=serde_f64)``).
"""

from __future__ import annotations

import re

_U64_MAX = 2**64 - 1
_I32_MAX = 2**31 - 1
_POW10 = [float(f"1e{i}") for i in range(309)]
_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?\Z")


def _overflows(value: int, digit: int, limit: int) -> bool:
    return value >= limit // 10 and (value > limit // 10 or digit > limit % 10)


def _from_parts(positive: bool, significand: int, exponent: int) -> float:
    f = float(significand)
    while True:
        if abs(exponent) < len(_POW10):
            pow10 = _POW10[abs(exponent)]
            if exponent >= 0:
                f *= pow10
                if f == float("inf"):
                    raise ValueError("number out of range")
            else:
                f /= pow10
            break
        if f == 0.0:
            break
        if exponent >= 0:
            raise ValueError("number out of range")
        f /= 1e308
        exponent += 308
    return f if positive else -f


def serde_f64(text: str) -> float:
    """The double that ``serde_json`` (default features) reads from a JSON number."""
    match = _NUMBER.match(text)
    if not match:
        raise ValueError(f"not a JSON number: {text!r}")
    positive = not text.startswith("-")
    int_digits, frac, exp = match.group(1), match.group(2) or "", match.group(3) or ""
    significand, exponent, i = 0, 0, 0
    while i < len(int_digits):  # integer part
        digit = ord(int_digits[i]) - 48
        if _overflows(significand, digit, _U64_MAX):
            exponent += len(int_digits) - i  # parse_long_integer: the rest only scales
            break
        significand = significand * 10 + digit
        i += 1
    if frac:
        for ch in frac[1:]:
            digit = ord(ch) - 48
            if _overflows(significand, digit, _U64_MAX):
                break  # parse_decimal_overflow: later digits are ignored
            significand = significand * 10 + digit
            exponent -= 1
    if exp:
        sign = -1 if exp[1] == "-" else 1
        digits = exp[1:].lstrip("+-")
        value = 0
        for ch in digits:
            digit = ord(ch) - 48
            if _overflows(value, digit, _I32_MAX):
                if significand == 0 or sign < 0:
                    return 0.0 if positive else -0.0
                raise ValueError("number out of range")
            value = value * 10 + digit
        exponent = exponent + sign * value
    return _from_parts(positive, significand, exponent)
