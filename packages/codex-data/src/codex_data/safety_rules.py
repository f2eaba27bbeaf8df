"""The built-in safety rules: secrets and personal data that training text must not keep.

A rule is one or more alternative regular expressions (Python ``re`` syntax). Every
alternative starts with a literal character and has no top-level ``|``: then the one
combined regex of a policy starts with a set of characters, and ``re`` skips straight to
the few places where a rule can start (about 20x faster than patterns that start with
``\\b`` or a character class). A word boundary before a rule is therefore written as a
look-behind after its literal prefix, e.g. ``AKIA(?<!\\wAKIA)``.

``version`` is bumped whenever a rule's patterns or meaning change, so the policy
fingerprint (and every token cache keyed on it) changes with it. ``group`` names the
capture group replaced (``0``: the whole match), so that only the password of
``https://user:password@host`` is redacted. ``left`` is a regex for text the match is
extended over to its left (at least one character; none: no match): the e-mail rule matches from the
``@`` and takes in the local part that way.

``check`` names a check of :mod:`codex_data.safety_heuristics` that decides on each match in
Python (``keyword-secret``, ``high-entropy``); such a rule's patterns are made from its params,
and it gives way to every other rule matching inside its value.

All built-ins redact by default. ``docs/data-safety.md`` lists them with examples.
"""

from __future__ import annotations

from typing import NamedTuple

from codex_data.safety_heuristics import DEFAULTS, patterns


class BuiltinRule(NamedTuple):
    """A built-in rule: its alternatives, a one-line summary, a version, group, left and check."""

    patterns: tuple[str, ...]
    summary: str
    version: int = 1
    group: int = 0
    left: str = ""
    check: str = ""


def _word_start(prefix: str) -> str:
    """``prefix`` not preceded by a word character (``\\b`` before it, checked after it)."""
    return rf"{prefix}(?<!\w{prefix})"


_SECRET_VALUE = r"[\"']?\s*(?::=|=>|[:=])\s*[\"']?([A-Za-z0-9+/]{40})(?![A-Za-z0-9+/=])"
_PEM_LABEL = r"(?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?"
_B64URL = r"[A-Za-z0-9_-]"

BUILTIN_RULES: dict[str, BuiltinRule] = {
    "aws-access-key-id": BuiltinRule(
        (_word_start("A[KS]IA") + r"[A-Z0-9]{16}\b",),
        "AWS access key ids: AKIA (long-term) or ASIA (temporary) and 16 upper-case letters or digits",
    ),
    "aws-secret-access-key": BuiltinRule(
        tuple(
            first + rest + _SECRET_VALUE
            for first, rest in [
                ("a", r"(?i:ws_?secret_?(?:access_?)?key)"),
                ("A", r"(?i:ws_?secret_?(?:access_?)?key)"),
                ("s", r"(?i:ecret_?access_?key)"),
                ("S", r"(?i:ecret_?access_?key)"),
            ]
        ),
        "AWS secret access keys (40 characters) assigned to a name like aws_secret_access_key, "
        "SecretAccessKey or AWS_SECRET_KEY (the value is replaced, the name kept)",
        group=1,
    ),
    "github-token": BuiltinRule(
        (
            _word_start("gh[pousr]_") + r"[A-Za-z0-9]{36,251}\b",
            _word_start("github_pat_") + r"[A-Za-z0-9_]{60,244}\b",
        ),
        "GitHub tokens: ghp_, gho_, ghu_, ghs_, ghr_ with 36+ letters/digits, and github_pat_",
    ),
    "slack-token": BuiltinRule(
        (_word_start("x(?:ox[abp]|app)-") + r"[0-9]+-[0-9A-Za-z-]{16,}",),
        "Slack tokens: xoxb-, xoxp-, xoxa-, xapp- followed by a numeric id and the secret",
    ),
    "slack-webhook": BuiltinRule(
        (
            r"https://hooks\.slack\.com/(?:services|workflows|triggers)/T[A-Z0-9]{6,}/[A-Z0-9]{6,}/[A-Za-z0-9]{16,}",
        ),
        "Slack incoming-webhook URLs (https://hooks.slack.com/services/T.../B.../...)",
    ),
    "stripe-key": BuiltinRule(
        (
            _word_start("sk_(?:live|test)_") + r"[0-9A-Za-z]{24,}\b",
            _word_start("rk_live_") + r"[0-9A-Za-z]{24,}\b",
            _word_start("pk_live_") + r"[0-9A-Za-z]{24,}\b",
        ),
        "Stripe keys: sk_live_, rk_live_, pk_live_ and sk_test_ with 24+ letters/digits",
    ),
    "private-key": BuiltinRule(
        (rf"-----BEGIN {_PEM_LABEL}-----[A-Za-z0-9+/=:,.\s\\-]*?(?:-----END {_PEM_LABEL}-----|\Z)",),
        "PEM private key blocks (RSA, EC, DSA, OPENSSH, ENCRYPTED, PGP ...) from BEGIN to END, "
        "or to the end of a truncated document",
    ),
    "url-password": BuiltinRule(
        (
            r"://(?<=[A-Za-z0-9]://)[^\s:/@'\"<>{}]*:"
            r"(?!(?i:password|passwd|pass|pwd|secret|x+|\*+)@)([^\s:/@'\"<>{}$]+)@[A-Za-z0-9\[]",
        ),
        "passwords in URLs, scheme://user:password@host (the password is replaced; placeholders "
        "such as password, pass, xxx, ***, {password} or $PASS are left alone)",
        group=1,
    ),
    "jwt": BuiltinRule(
        (_word_start("eyJ") + rf"{_B64URL}{{10,}}\.ey{_B64URL}{{10,}}\.{_B64URL}*",),
        "JSON Web Tokens: three base64url segments, the header starting eyJ and the payload ey",
    ),
    "email": BuiltinRule(
        (r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![A-Za-z0-9-])",),
        "e-mail addresses with a dotted domain (user@example.org; not user@localhost, nor the "
        "user of a URL such as https://user@example.org)",
        left=r"(?<![/A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+",
    ),
    "keyword-secret": BuiltinRule(
        patterns("keyword-secret", DEFAULTS["keyword-secret"]),
        "values of 8+ characters assigned to a name containing secret, password, passwd, token, api_key "
        "or private_key (the value is replaced, the name kept); not names, calls, numbers, words or templates",
        group=1,
        check="keyword-secret",
    ),
    "high-entropy": BuiltinRule(
        patterns("high-entropy", DEFAULTS["high-entropy"]),
        "random-looking strings after a quote, = or :, base64 of 20+ characters above 4.5 bits a character "
        "or hex of 32+ above 3.0; not hashes named as such (sha256:..., integrity, commit), UUIDs or alphabets",
        group=1,
        check="high-entropy",
    ),
}
"""The built-in rules by name, in the order they are tried at one position."""
