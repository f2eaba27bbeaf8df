"""Safety filters: built-in secret rules, redact / block / allow policies, and the filter."""

from __future__ import annotations

import random
import string
from collections import Counter
from pathlib import Path

import pytest

from codex_core.errors import CodexError
from codex_core.protocols import Document
from codex_data.safety import FilterResult, Policy, SafetyFilter
from codex_data.safety_rules import BUILTIN_RULES
from codex_data.stdlib import StdlibCodeDataset

UPPER_DIGITS = string.ascii_uppercase + string.digits
ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"


def fake(alphabet: str, n: int, seed: int = 0) -> str:
    """A random-looking string, as a real secret would be."""
    return "".join(random.Random(seed).choice(alphabet) for _ in range(n))


BUILTINS = Policy.load()

SECRETS = {
    "aws-access-key-id": ["AKIA" + fake(UPPER_DIGITS, 16), "ASIA" + fake(UPPER_DIGITS, 16, 1)],
    "aws-secret-access-key": [fake(B64, 40)],
    "github-token": [
        "ghp_" + fake(ALNUM, 36),
        "gho_" + fake(ALNUM, 36, 1),
        "ghu_" + fake(ALNUM, 36, 2),
        "ghs_" + fake(ALNUM, 36, 3),
        "ghr_" + fake(ALNUM, 36, 4),
        "github_pat_" + fake(ALNUM, 22) + "_" + fake(ALNUM, 59),
    ],
    "slack-token": [
        "xoxb-" + fake(string.digits, 12) + "-" + fake(string.digits, 13) + "-" + fake(ALNUM, 24),
        "xoxp-" + fake(string.digits, 12, 1) + "-" + fake(string.digits, 12) + "-" + fake(ALNUM, 32, 1),
        "xoxa-2-" + fake(ALNUM, 40, 2),
        "xapp-1-A"
        + fake(UPPER_DIGITS, 10)
        + "-"
        + fake(string.digits, 13)
        + "-"
        + fake("0123456789abcdef", 64),
    ],
    "slack-webhook": [
        f"https://hooks.slack.com/services/T{fake(UPPER_DIGITS, 8)}/B{fake(UPPER_DIGITS, 8)}/{fake(ALNUM, 24)}"
    ],
    "stripe-key": [
        "sk_live_" + fake(ALNUM, 24),
        "rk_live_" + fake(ALNUM, 99),
        "pk_live_" + fake(ALNUM, 24, 1),
        "sk_test_" + fake(ALNUM, 24, 2),
    ],
    "private-key": [
        "-----BEGIN RSA PRIVATE KEY-----\n"
        + fake(B64, 64)
        + "\n"
        + fake(B64, 20)
        + "==\n-----END RSA PRIVATE KEY-----",
        "-----BEGIN OPENSSH PRIVATE KEY-----\n" + fake(B64, 70) + "\n-----END OPENSSH PRIVATE KEY-----",
        "-----BEGIN PRIVATE KEY-----\\n" + fake(B64, 64) + "\\n-----END PRIVATE KEY-----",  # as in JSON
    ],
    "jwt": [
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ."
        + fake(ALNUM + "-_", 43)
    ],
    "email": ["jane.doe+ml@mail.example.org", "x_y@sub.example.co.uk"],
}


CHECKED = {"keyword-secret", "high-entropy"}
"""The rules decided by a check (test_safety_heuristics.py)."""


def test_every_builtin_rule_has_samples() -> None:
    assert set(SECRETS) | {"url-password"} | CHECKED == set(BUILTIN_RULES)


@pytest.mark.parametrize(("rule", "secret"), [(r, s) for r, samples in SECRETS.items() for s in samples])
def test_builtin_rule_redacts_a_realistic_secret(rule: str, secret: str) -> None:
    if rule == "aws-secret-access-key":
        text = f'config:\n  aws_secret_access_key = "{secret}"\n  next: 1'
        expected = 'config:\n  aws_secret_access_key = "[REDACTED:aws-secret-access-key]"\n  next: 1'
    else:
        text = f"before {secret} after"
        expected = f"before [REDACTED:{rule}] after"
    assert BUILTINS.apply(text) == FilterResult(expected, False, {rule: 1})


@pytest.mark.parametrize(
    "name",
    ["AWS_SECRET_ACCESS_KEY=", "SecretAccessKey: ", '"aws_secret_key": ', "AWS_SECRET_KEY := "],
)
def test_aws_secret_keys_are_found_under_their_usual_names(name: str) -> None:
    assert BUILTINS.apply(name + fake(B64, 40)).counts == {"aws-secret-access-key": 1}


def test_url_password_redacts_the_password_only() -> None:
    text = "DATABASE_URL=postgres://app:s3cr3t-Pa55@db.internal:5432/app and redis://:hunter22@cache"
    assert BUILTINS.apply(text).text == (
        "DATABASE_URL=postgres://app:[REDACTED:url-password]@db.internal:5432/app"
        " and redis://:[REDACTED:url-password]@cache"
    )


NEAR_MISSES = [
    "AKIA" + fake(UPPER_DIGITS, 15),  # too short
    "AKIA" + fake(UPPER_DIGITS, 17),  # too long
    "AKIB" + fake(UPPER_DIGITS, 16),  # wrong prefix
    "XAKIA" + fake(UPPER_DIGITS, 16),  # inside a longer word
    "akia" + fake(UPPER_DIGITS, 16).lower(),  # lower case
    "sha1 = " + fake("0123456789abcdef", 40),  # a random-looking hash
    "the aws secret key is " + fake(B64, 40),  # not an assignment
    "aws_secret_access_key = " + fake(B64, 39),  # too short
    "ghp_" + fake(ALNUM, 20),  # too short
    "ghx_" + fake(ALNUM, 36),  # wrong prefix
    "github_pat_token = 1",
    "xoxb-your-token-here",  # a placeholder
    "xoxc-" + fake(string.digits, 12) + "-" + fake(ALNUM, 24),  # not one of the listed prefixes
    "https://hooks.slack.com/services/",
    "pk_test_" + fake(ALNUM, 24),  # publishable test keys are public
    "sk_live_" + fake(ALNUM, 10),  # too short
    'if line.startswith("-----BEGIN PRIVATE KEY-----"):\n    end = "-----END PRIVATE KEY-----"',
    "-----BEGIN PUBLIC KEY-----\n" + fake(B64, 64) + "\n-----END PUBLIC KEY-----",
    "Enter your password: and the password is at https://example.com/password",
    "https://user@example.com/ and https://example.com:8080/path",
    "https://user:password@db https://u:xxx@h:80 ftp://u:{password}@h ssh://u:$PASS@h",  # placeholders
    "eyJmb28iOiAiYmFyIn0=",  # base64 JSON, not a JWT
    "eyJhbGciOiJIUzI1NiJ9",  # a lone header
    "abc.def.ghi_jkl and " + fake(ALNUM, 30) + "." + fake(ALNUM, 30) + "." + fake(ALNUM, 30),
    "user@localhost and root@127",  # no dotted domain: not an e-mail address (a decision, see docs)
    "@property\ndef f(self): return a @ b.T",
]


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_builtin_rules_do_not_fire_on_near_misses(text: str) -> None:
    assert BUILTINS.apply(text) == FilterResult(text, False, {})


def test_redaction_keeps_the_surrounding_text() -> None:
    key = "AKIA" + fake(UPPER_DIGITS, 16)
    text = f"line 1\n\tkey={key};\n# mail bob@example.org, ok\n"
    assert (
        BUILTINS.apply(text).text
        == "line 1\n\tkey=[REDACTED:aws-access-key-id];\n# mail [REDACTED:email], ok\n"
    )


def test_text_without_matches_is_returned_as_it_is() -> None:
    text = "nothing to see here\n" * 10
    assert BUILTINS.apply(text).text is text


def test_counts_are_per_rule() -> None:
    text = "a@example.org b@example.org AKIA" + fake(UPPER_DIGITS, 16)
    assert BUILTINS.apply(text).counts == {"email": 2, "aws-access-key-id": 1}


def test_block_rule_marks_the_document_blocked() -> None:
    policy = Policy.from_dict({"rules": [{"name": "private-key", "action": "block"}]})
    result = policy.apply("deploy key:\n" + SECRETS["private-key"][0])
    assert (result.blocked, result.counts) == (True, {"private-key": 1})


def test_allow_rule_spares_documentation_examples() -> None:
    policy = Policy.from_dict(
        {
            "rules": [
                {"name": "aws-docs-key", "action": "allow", "literal": "AKIAIOSFODNN7EXAMPLE"},
                {"name": "example-domains", "action": "allow", "pattern": r"@example\.(com|org)\b"},
            ]
        }
    )
    text = "AKIAIOSFODNN7EXAMPLE jo@example.com jo@corp.io AKIA" + fake(UPPER_DIGITS, 16)
    assert policy.apply(text) == FilterResult(
        "AKIAIOSFODNN7EXAMPLE jo@example.com [REDACTED:email] [REDACTED:aws-access-key-id]",
        False,
        {"aws-docs-key": 1, "example-domains": 1, "email": 1, "aws-access-key-id": 1},
    )


def test_own_rules_with_literal_pattern_flags_and_replacement() -> None:
    policy = Policy.from_dict(
        {
            "builtin": False,
            "rules": [
                {"name": "codename", "literal": "Project X.", "replacement": "a project."},
                {"name": "ssn", "pattern": r"ssn: (\d{3}-\d{2}-\d{4})", "group": 1, "flags": ["ignorecase"]},
                {"name": "nsfw", "action": "block", "pattern": r"\bNSFW\b"},
            ],
        }
    )
    assert policy.apply("Project X. SSN: 123-45-6789").text == "a project. SSN: [REDACTED:ssn]"
    assert policy.apply("tagged NSFW").blocked


def test_own_rules_and_builtins_share_one_scan() -> None:
    policy = Policy.from_dict({"builtin": ["email"], "rules": [{"name": "ticket", "pattern": r"TICKET-\d+"}]})
    text = "TICKET-12 by ann@example.org, TICKET-13"
    assert policy.apply(text).text == "[REDACTED:ticket] by [REDACTED:email], [REDACTED:ticket]"


def test_safety_filter_drops_blocked_documents_and_keeps_totals() -> None:
    policy = Policy.from_dict(
        {"builtin": ["email"], "rules": [{"name": "secret", "action": "block", "literal": "TOP SECRET"}]}
    )
    documents = [
        Document("a", "mail ann@example.org or bob@example.org", {"path": "a"}),
        Document("b", "TOP SECRET plans"),
        Document("c", "plain text"),
    ]
    safety = SafetyFilter(policy)
    kept = list(safety(documents))
    assert [(d.id, d.text, dict(d.meta)) for d in kept] == [
        ("a", "mail [REDACTED:email] or [REDACTED:email]", {"path": "a"}),
        ("c", "plain text", {}),
    ]
    assert safety.summary() == {
        "policy": policy.fingerprint(),
        "documents": 3,
        "blocked": 1,
        "redacted": 1,
        "counts": {"email": 2, "secret": 1},
    }
    assert safety.blocked_ids == ["b"]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "safety.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_policy_loads_from_yaml(tmp_path: Path) -> None:
    path = write(tmp_path, "builtin: [email]\nrules:\n  - {name: codename, literal: Falcon}\n")
    assert Policy.load(path).apply("Falcon: x@y.org").text == "[REDACTED:codename]: [REDACTED:email]"


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        (
            "rules:\n  - {name: bad, pattern: 'a(b'}\n",
            "rule 'bad': bad regex 'a(b': missing ), unterminated subpattern",
        ),
        (
            "rules:\n  - {name: r, action: redcat, literal: x}\n",
            "rule 'r': unknown action 'redcat'; did you mean 'redact'?",
        ),
        ("builtin: [emial]\n", "unknown built-in rule 'emial'; did you mean 'email'?"),
        ("rules:\n  - {name: r, patern: x}\n", "rule 'r': unknown key 'patern'; did you mean 'pattern'?"),
        ("bulitin: true\n", "unknown key 'bulitin'; did you mean 'builtin'?"),
        ("rules:\n  - {name: r, pattern: 'a*'}\n", "rule 'r': the pattern 'a*' matches empty text"),
        ("rules:\n  - {name: r}\n", "rule 'r': needs a 'pattern' (a regex) or a 'literal' (a string)"),
        ("rules:\n  - {name: r, literal: x, flags: [ignorcase]}\n", "rule 'r': unknown flag 'ignorcase'"),
        ("rules:\n  - {name: r, pattern: '(a)\\1'}\n", "rule 'r': named groups and back-references"),
        ("rules:\n  - {name: r, literal: x}\n  - {name: r, literal: y}\n", "rule 'r': defined twice"),
        ("rules: [\n", "not valid YAML (line 2)"),
    ],
)
def test_policy_errors_name_the_file_and_the_rule(tmp_path: Path, yaml_text: str, message: str) -> None:
    path = write(tmp_path, yaml_text)
    with pytest.raises(CodexError) as info:
        Policy.load(path)
    assert str(info.value).startswith(f"{path}: ") and message in str(info.value)
    assert "\n" not in str(info.value)


def test_fingerprint_changes_with_any_rule_change() -> None:
    base = {"rules": [{"name": "r", "action": "redact", "literal": "x"}]}
    variants = [
        base,
        {"rules": [{"name": "r", "action": "block", "literal": "x"}]},
        {"rules": [{"name": "r", "action": "redact", "literal": "y"}]},
        {"rules": [{"name": "r", "action": "redact", "literal": "x", "replacement": "?"}]},
        {"rules": [{"name": "r", "action": "redact", "literal": "x", "flags": ["ignorecase"]}]},
        {"rules": [{"name": "s", "action": "redact", "literal": "x"}]},
        {**base, "builtin": False},
        {**base, "builtin": ["email"]},
    ]
    prints = [Policy.from_dict(v).fingerprint() for v in variants]
    assert len(set(prints)) == len(variants)
    assert Policy.from_dict(base).fingerprint() == prints[0]  # and is stable


def test_fingerprint_includes_builtin_rule_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    before = Policy.load().fingerprint()
    monkeypatch.setitem(BUILTIN_RULES, "jwt", BUILTIN_RULES["jwt"]._replace(version=2))
    assert Policy.load().fingerprint() != before


@pytest.fixture(scope="module")
def stdlib_findings() -> tuple[Counter[str], dict[str, dict[str, int]]]:
    """What the built-in rules find in the standard library (its scan speed: bench/safety.py)."""
    documents = list(StdlibCodeDataset())
    results = {d.id: BUILTINS.apply(d.text) for d in documents}
    totals: Counter[str] = Counter()
    for r in results.values():
        totals.update(r.counts)
    secrets = {i: r.counts for i, r in results.items() if set(r.counts) - {"email"} - CHECKED}
    print(f"\nstdlib: {len(documents)} files; {dict(totals)}; secrets: {secrets}")
    return totals, secrets


def test_builtins_find_no_secrets_in_the_stdlib(stdlib_findings: tuple[Counter[str], dict]) -> None:
    _, secrets = stdlib_findings
    assert secrets == {}


def test_builtins_find_only_the_authors_e_mail_addresses_in_the_stdlib(
    stdlib_findings: tuple[Counter[str], dict],
) -> None:
    totals, _ = stdlib_findings
    assert set(totals) <= {"email"} | CHECKED and totals["email"] < 250  # credits such as guido@python.org
