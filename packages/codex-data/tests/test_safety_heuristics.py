"""The checked built-in rules: ``keyword-secret`` (values assigned to secret-like names) and
``high-entropy`` (random-looking strings); their params in a policy file; and
:meth:`SafetyFilter.redact` for what codex writes about data."""

from __future__ import annotations

import hashlib
import json
import random
import string
import uuid
from pathlib import Path

import pytest

from codex_core.cli import main
from codex_core.errors import CodexError
from codex_data.safety import FilterResult, Policy, SafetyFilter
from codex_data.safety_heuristics import shannon_entropy
from codex_data.stdlib import StdlibCodeDataset

BUILTINS = Policy.load()
B64 = string.ascii_letters + string.digits + "+/"
HEXDIGITS = "0123456789abcdef"
AWS_EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def fake(alphabet: str, n: int, seed: int = 0) -> str:
    """A random string, as a real secret would be."""
    rng = random.Random(seed)
    return "".join(rng.choice(alphabet) for _ in range(n))


CONFIG = {  # what a new user pastes: every secret beside the AWS secret key is found by a prefix
    "aws_access_key_id": "AKIAQ3ZJ5V7W2XK9PLMN",
    "aws_secret": AWS_EXAMPLE_SECRET,
    "github": "ghp_" + fake(string.ascii_letters + string.digits, 36),
    "slack": "xoxb-123456789012-1234567890123-" + fake(string.ascii_letters, 24),
    "db": "postgres://app:s3cr3t-Pa55@db.internal/app",
    "owner": "jane.doe@corp.example.org",
}


def test_an_aws_secret_key_under_a_short_name_is_redacted_with_the_secrets_beside_it() -> None:
    result = BUILTINS.apply(json.dumps(CONFIG, indent=2))

    assert json.loads(result.text) == {
        "aws_access_key_id": "[REDACTED:aws-access-key-id]",
        "aws_secret": "[REDACTED:keyword-secret]",
        "github": "[REDACTED:github-token]",
        "slack": "[REDACTED:slack-token]",
        "db": "postgres://app:[REDACTED:url-password]@db.internal/app",
        "owner": "[REDACTED:email]",
    }


def codex(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """``codex *args`` in this process; its stdout."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        main(list(args))
    out, err = capsys.readouterr()
    assert done.value.code == 0, err
    return out


def prepare(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    """A token cache (char tokenizer) of some code and the settings file with the secrets."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(20):
        (corpus / f"m{i}.py").write_text(f"def f{i}(x):\n    return x * {i}\n")
    (corpus / "settings.json").write_text(json.dumps(CONFIG, indent=2))
    return json.loads(codex(capsys, "data", "prepare", "--dataset", "text", "--dataset-param", f"paths=[{corpus}]",
                            "--tokenizer", "char", "-o", str(tmp_path / "cache"), "--json", *args))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_the_aws_secret_key_reaches_the_token_cache_redacted(tmp_path: Path, home: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    summary = prepare(tmp_path, capsys)
    from codex_core.context import BuildContext
    from codex_core.plugins import get_plugin_manager
    from codex_data import load_cache

    cache = load_cache(tmp_path / "cache")
    tok = BuildContext(registry=get_plugin_manager().registry).build("tokenizer", "char", {})
    text = "".join(tok.decode([int(t) for t in cache.split(s)]) for s in summary["splits"])

    assert AWS_EXAMPLE_SECRET not in text and '"aws_secret": "[REDACTED:keyword-secret]"' in text
    assert summary["filter_counts"]["rule:keyword-secret"] == 1 and summary["filter_counts"]["redacted"] == 1


def test_data_inspect_shows_the_samples_of_an_unfiltered_cache_filtered(tmp_path: Path, home: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    prepare(tmp_path, capsys, "--no-filters")
    args = ("data", "inspect", str(tmp_path / "cache"), "--tokenizer", "char", "--samples", "20", "--json")

    shown = json.loads(codex(capsys, *args))
    raw = json.loads(codex(capsys, *args, "--no-filters"))

    windows = [w for split in shown["samples"].values() for w in split]
    secrets = [v for k, v in CONFIG.items() if k != "db"] + ["s3cr3t-Pa55"]
    pieces = {v[i:i + 8] for v in secrets for i in range(len(v) - 7)}
    assert AWS_EXAMPLE_SECRET in "".join(w for split in raw["samples"].values() for w in split)
    assert not [p for p in pieces if any(p in w for w in windows)]  # not even a part cut by a window's edge
    assert set(shown["samples_filter"]["counts"]) == {"aws-access-key-id", "keyword-secret", "github-token",
                                                      "slack-token", "url-password", "email"}
    assert raw["samples_filter"] is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"client_secret": "Zx9!kQ2#vL5w"}', '{"client_secret": "[REDACTED:keyword-secret]"}'),  # JSON
        ("db:\n  password: hunter2!x\n", "db:\n  password: [REDACTED:keyword-secret]\n"),  # YAML, bare
        ("db:\n  password: 'hunter2'\n", "db:\n  password: 'hunter2'\n"),  # 7 characters: too short
        ('API_KEY = "0c2f3e9ab71d"\n', 'API_KEY = "[REDACTED:keyword-secret]"\n'),  # Python
        ("[db]\npasswd = c0rrect-h0rse\n", "[db]\npasswd = [REDACTED:keyword-secret]\n"),  # INI
        ("DB_PASSWORD=Tr0ub4dor&3\n", "DB_PASSWORD=[REDACTED:keyword-secret]\n"),  # env file
        ("'secret_token' => 'p4ss-w0rd-99',", "'secret_token' => '[REDACTED:keyword-secret]',"),  # PHP
        ('token := "tok-1234-abcd"', 'token := "[REDACTED:keyword-secret]"'),  # Go
        ('conf["apiKey"] = "ab12cd34ef"', 'conf["apiKey"] = "[REDACTED:keyword-secret]"'),
        ("curl --password=S3cure#Pass x", "curl --password=[REDACTED:keyword-secret] x"),
        ("X-Api-Key: 9f8e7d6c5b4a\r\n", "X-Api-Key: [REDACTED:keyword-secret]\r\n"),
        ("private_key: s3cr3t-P4ss, user: x", "private_key: [REDACTED:keyword-secret], user: x"),
    ],
)
def test_keyword_secret_redacts_the_value_and_keeps_the_name(text: str, expected: str) -> None:
    assert BUILTINS.apply(text).text == expected


CODE = [
    "password = None",
    "token = self._next()",
    'secret = os.environ["X"]',
    "secret = os.environ.get('AWS_SECRET')",
    "def get_token(self, secret_name: str) -> str:",
    "password: str",
    "password: Optional[str] = None",
    'token_type = "Bearer"',
    "token_type = 'invalid-mailbox'",  # a word
    'passwd_file = "/etc/passwd"',  # a path
    "passwd='geheim$parole'",  # no digit: a word or a phrase (a docstring's example)
    'token_url = "https://oauth2.example.com/token"',  # a URL
    "token = tokens[i + 1]",
    "tokens = tokenize.generate_tokens(readline)",
    "password = password_hash",  # a name
    "token = token2",
    "password = s3cr3tP4ss",  # a name too: in code, a bare value that is an identifier is a variable
    "usage[TokenKey.CACHE_INPUT] = above_1hr",
    "    with_added_tokens: boolean:",  # a docstring
    'TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id-token"',  # a URN
    "token_count = 12345678",  # a number
    'password = "%(password)s"',  # templates
    'token_range = "%d,%d-%d,%d:" % (start + end)',
    'secret = f"{prefix}-{name}"',
    "TOKEN=${GITHUB_TOKEN}",
    "password = $DB_PASSWORD",
    'password = "<your-password>"',
    'password = "xxxxxxxx"',
    'password = "********"',
    'TOKEN_RE = r"[A-Za-z_][A-Za-z0-9_]*"',  # a regular expression
    "if token == 'abcdefgh12':",  # a comparison
    "Enter your password: and press return",  # prose
    'secret = "[REDACTED:keyword-secret]"',  # filtered before
]


@pytest.mark.parametrize("text", CODE)
def test_keyword_secret_leaves_code_and_prose_alone(text: str) -> None:
    assert BUILTINS.apply(text) == FilterResult(text, False, {})


def test_a_secret_with_its_own_rule_is_counted_under_that_rule() -> None:
    key = "ghp_" + fake(string.ascii_letters + string.digits, 36)
    assert BUILTINS.apply(f'GITHUB_TOKEN = "{key}"').counts == {"github-token": 1}


@pytest.mark.parametrize(
    "value",
    [fake(B64, 40), fake(B64, 30, 1) + "==", fake(HEXDIGITS, 40), fake(HEXDIGITS, 64, 1),
     fake(string.ascii_letters + string.digits + "-_", 43)],  # base64, padded, hex, base64url
)
@pytest.mark.parametrize(("before", "after"), [('key = "', '"'), ("'", "',"), ("HOOK=", "\n"), ("k: ", " ")])
def test_high_entropy_redacts_random_strings(value: str, before: str, after: str) -> None:
    text = f"{before}{value}{after}"
    assert BUILTINS.apply(text) == FilterResult(f"{before}[REDACTED:high-entropy]{after}", False,
                                                {"high-entropy": 1})


NOT_RANDOM = [
    f"sha256:{hashlib.sha256(b'x').hexdigest()}",  # hashes named as such
    f"pip install x --hash=sha256:{hashlib.sha256(b'y').hexdigest()}",
    f'"integrity": "sha512-{fake(B64, 86)}=="',
    f'"sha": "{hashlib.sha1(b"z").hexdigest()}"',
    f'commit = "{hashlib.sha1(b"c").hexdigest()}"',
    f"hashlib.md5(b'a').hexdigest() == '{hashlib.md5(b'a').hexdigest()}'",
    f"    >>> token_hex(16)\n    '{fake(HEXDIGITS, 32, 3)}'\n",  # a doctest's output
    f'id = "{uuid.UUID(int=random.Random(2).getrandbits(128))}"',
    f"'{string.ascii_letters}' and '{string.ascii_uppercase}234567'",  # alphabets
    "'23025850929940456840179914546843642076011014886'",  # a number
    "'" + "ab" * 20 + "' and '" + fake("abc", 40) + "'",  # low entropy
    "'some_rather_long_identifier_name' = 'DoSomethingWithAVeryLongName'",
    f"{fake(B64, 40)} without a quote or an assignment",
    f"'{fake(B64, 18)}' and '{fake(HEXDIGITS, 30)}'",  # too short
]


@pytest.mark.parametrize("text", NOT_RANDOM)
def test_high_entropy_leaves_hashes_uuids_alphabets_and_words_alone(text: str) -> None:
    assert BUILTINS.apply(text) == FilterResult(text, False, {})


def test_a_rejected_candidate_does_not_hide_a_rule_starting_inside_it() -> None:
    text = '"AKIAQ3ZJ5V7W2XK9PLMN"'  # 20 characters: never random enough, but an access key id
    assert BUILTINS.apply(text).text == '"[REDACTED:aws-access-key-id]"'


def test_entropy_is_shannon_bits_per_character() -> None:
    assert (shannon_entropy(""), shannon_entropy("aaaa"), shannon_entropy("abab"), shannon_entropy("abcd")) == \
        (0.0, 0.0, 1.0, 2.0)
    assert shannon_entropy(AWS_EXAMPLE_SECRET) > 4.5 > shannon_entropy("some_rather_long_identifier_name")


# -- params ---------------------------------------------------------------------------------


def policy(rules: list[dict]) -> Policy:
    return Policy.from_dict({"rules": rules})


def test_params_change_what_the_checked_rules_find() -> None:
    secret = fake(B64, 40)
    strict = policy([{"name": "high-entropy", "params": {"base64_limit": 6.0}}])
    loose = policy([{"name": "high-entropy", "params": {"base64_limit": 3.0, "base64_min_length": 10}}])
    keywords = policy([{"name": "keyword-secret", "params": {"keywords": ["credential"], "min_length": 4}}])
    allow = policy([{"name": "high-entropy", "params": {"allow": [r"^fixture_\w+ = "]}}])
    no_builtin_allow = policy([{"name": "high-entropy", "params": {"builtin_allow": False}}])
    sha = f"sha256:{hashlib.sha256(b'x').hexdigest()}"

    assert strict.apply(f'k = "{secret}"').counts == {}
    assert loose.apply("k = 'Xy7Qp2Lm9R'").counts == {"high-entropy": 1}
    assert keywords.apply("credential = 'p4ss'\npassword = 'hunter2!x'").text == \
        "credential = '[REDACTED:keyword-secret]'\npassword = 'hunter2!x'"
    assert allow.apply(f'fixture_key = "{secret}"\nreal = "{secret}"').counts == {"high-entropy": 1}
    assert (BUILTINS.apply(sha).counts, no_builtin_allow.apply(sha).counts) == ({}, {"high-entropy": 1})


def test_a_checked_rule_is_turned_off_or_blocks_like_any_built_in() -> None:
    text = f'token = "{fake(B64, 12)}" and "{fake(B64, 40)}"'
    off = policy([{"name": "keyword-secret", "enabled": False}, {"name": "high-entropy", "enabled": False}])
    only = Policy.from_dict({"builtin": ["high-entropy"]})
    block = policy([{"name": "keyword-secret", "action": "block"}])

    assert off.apply(text) == FilterResult(text, False, {})
    assert {r.name for r in off.rules} == {r.name for r in BUILTINS.rules} - {"keyword-secret", "high-entropy"}
    assert only.apply(text).counts == {"high-entropy": 1}
    assert block.apply(text).blocked


def test_params_are_part_of_the_fingerprint() -> None:
    prints = {policy(rules).fingerprint() for rules in (
        [], [{"name": "high-entropy", "params": {"hex_limit": 3.5}}],
        [{"name": "keyword-secret", "params": {"keywords": ["secret"]}}], [{"name": "high-entropy", "enabled": False}],
    )}
    assert len(prints) == 4
    assert policy([{"name": "high-entropy", "params": {"hex_limit": 3}}]).fingerprint() == \
        policy([{"name": "high-entropy", "params": {"hex_limit": 3.0}}]).fingerprint()


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"name": "high-entropy", "params": {"base64_limt": 4}}, "unknown param 'base64_limt'; did you mean 'base64_limit'?"),
        ({"name": "high-entropy", "params": {"hex_limit": "high"}}, "param 'hex_limit' must be a number >= 0"),
        ({"name": "high-entropy", "params": {"hex_min_length": 0}}, "param 'hex_min_length' must be a whole number"),
        ({"name": "high-entropy", "params": {"allow": ["a("]}}, "bad regex 'a(' in 'allow'"),
        ({"name": "high-entropy", "params": [1]}, "'params' must be a mapping"),
        ({"name": "keyword-secret", "params": {"keywords": ["api key"]}}, "'keywords' must be words"),
        ({"name": "keyword-secret", "params": {"keywords": []}}, "'keywords' must be words"),
        ({"name": "email", "params": {}}, "only the built-in rules keyword-secret, high-entropy take 'params'"),
        ({"name": "mine", "literal": "x", "params": {}}, "only the built-in rules"),
        ({"name": "high-entropy", "enabled": "no"}, "'enabled' must be true or false"),
    ],
)
def test_bad_params_are_one_line_naming_the_rule(tmp_path: Path, rule: dict, message: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(json.dumps({"rules": [rule]}))  # JSON is YAML
    with pytest.raises(CodexError) as info:
        Policy.load(path)
    assert str(info.value).startswith(f"{path}: rule {rule['name']!r}: ") and message in str(info.value)
    assert "\n" not in str(info.value)


# -- the standard library: what the checked rules change ------------------------------------


def test_checked_rules_change_few_lines_of_the_standard_library() -> None:
    """The default job's corpus is not shredded (the numbers: python bench/safety.py --false-positives)."""
    checked = Policy.from_dict({"builtin": ["keyword-secret", "high-entropy"]})
    lines = changed = 0
    for doc in StdlibCodeDataset():
        before = doc.text.splitlines()
        after = checked.apply(doc.text).text.splitlines()
        lines += len(before)
        changed += sum(a != b for a, b in zip(before, after, strict=True))
    assert lines > 10_000 and changed / lines < 0.001


# -- SafetyFilter.redact: texts codex writes ------------------------------------------------


def test_redact_filters_every_text_of_a_record_but_its_id_and_counts() -> None:
    safety = SafetyFilter(BUILTINS)
    record = {"id": "mail@example.org", "prompt": 'password = "hunter2!x"', "outputs": ["ok", "mail bob@corp.io"],
              "score": 1.0, "meta": {"note": CONFIG["github"]}}

    out = safety.redact(record)
    same = safety.redact({"id": "b", "prompt": "nothing"})

    assert out == {"id": "mail@example.org", "prompt": 'password = "[REDACTED:keyword-secret]"',
                   "outputs": ["ok", "mail [REDACTED:email]"], "score": 1.0,
                   "meta": {"note": "[REDACTED:github-token]"}}
    assert same == {"id": "b", "prompt": "nothing"}
    assert safety.summary()["counts"] == {"email": 1, "github-token": 1, "keyword-secret": 1}
    assert (safety.documents, safety.redacted, safety.blocked) == (2, 1, 0)


def test_redact_withholds_a_blocked_text_and_keeps_the_record() -> None:
    safety = SafetyFilter(policy([{"name": "nsfw", "action": "block", "literal": "NSFW"}]))
    assert safety.redact({"id": 3, "output": "an NSFW text", "reference": "fine"}) == \
        {"id": 3, "output": "[BLOCKED]", "reference": "fine"}
    assert (safety.blocked, safety.blocked_ids, safety.redact("plain")) == (1, ["3"], "plain")
