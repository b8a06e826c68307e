"""No secret is committed: private keys, cloud and SaaS tokens, random-looking passwords, .env files.

Scans every file git tracks, and every untracked file that is not ignored (the next commit's
candidates). Findings that are not secrets are allowed below, each with its reason.
"""

import math
import os
import re
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").strip().lower() == "true"

TOKEN_PATTERNS = {
    "private key": re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY(?: BLOCK)?-----"),
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "AWS secret access key": re.compile(r"(?i)aws_?secret_?access_?key\W{1,4}[A-Za-z0-9/+=]{40}\b"),
    "Stripe key": re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z]{16,}\b"),
    "Stripe webhook secret": re.compile(r"\bwhsec_[0-9A-Za-z]{24,}\b"),
    "Slack token": re.compile(r"\bxox[abposr]-[0-9A-Za-z-]{10,}\b"),
    "Slack webhook": re.compile(r"https://hooks\.slack\.com/services/T[0-9A-Z]+/B[0-9A-Z]+/[0-9A-Za-z]+"),
    "GitHub token": re.compile(r"\b(?:gh[pousr]_[0-9A-Za-z]{36,}|github_pat_[0-9A-Za-z_]{22,})\b"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
    "password in a URL": re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:[^@\s/'\"$]{2,}@"),
}
# NAME = "value" / NAME: value / "name": "value", where NAME says it holds a secret.
SECRET_ASSIGNMENT = re.compile(
    r"""(?ix)
    (?P<name>[\w.-]*(?:secret|password|passwd|pwd|token|api_?key|private_?key|signing_?key|write_?key)[\w.-]*)
    ["']?\s*[:=]\s*["']?
    (?P<value>[A-Za-z0-9+/=_\-.~!@#$%^&*]{16,})
    """
)
MIN_ENTROPY_BITS_PER_CHAR = 3.5
SECRET_NAME = re.compile(r"(?i)secret|password|passwd|token|api_?key|private_?key|signing_?key|write_?key")
# A secret's default written into code: os.environ.get("SECRET_KEY", "literal").
SECRET_DEFAULT = re.compile(r"""environ\.get\(\s*["'](?P<name>\w+)["']\s*,\s*["'](?P<value>[^"']{8,})["']""")
# Any literal value under a secret's name in a data or configuration file.
DATA_FILE_SUFFIXES = {".json", ".yml", ".yaml", ".toml", ".ini", ".cfg", ".env", ".example"}
DATA_ASSIGNMENT = re.compile(r"""(?P<name>["']?[\w.-]+["']?)\s*[:=]\s*["']?(?P<value>[^\s"'$<{][^\s"']{7,})""")


@dataclass(frozen=True)
class Allowed:
    path: str
    text: str
    reason: str


ALLOWED = (
    Allowed(
        "tests/integrations/fixtures/signature_test_vectors.json",
        '"secret": "test',
        "the providers' public signature test vectors, signed with their documentation's example keys",
    ),
    Allowed(
        "funnel/settings/base.py",
        "insecure-local-development-key-change-me",
        "the development SECRET_KEY placeholder; production refuses to start without a real one",
    ),
    Allowed(".env.example", "change-me", "the placeholder password the example tells operators to replace"),
    Allowed("README.md", "postgres://user:" + "pw@host", "the documented shape of DATABASE_URL"),
)


def shannon_entropy(value: str) -> float:
    counts = Counter(value)
    return -sum(count / len(value) * math.log2(count / len(value)) for count in counts.values())


def looks_random(value: str) -> bool:
    """A generated key rather than a word, a setting's name or a readable test password."""
    has_letters_and_digits = any(c.isalpha() for c in value) and any(c.isdigit() for c in value)
    return has_letters_and_digits and shannon_entropy(value) >= MIN_ENTROPY_BITS_PER_CHAR


def repository_files() -> list[str]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=ROOT,
            capture_output=True,
            check=True,
            timeout=60,
        )
    except (OSError, subprocess.CalledProcessError) as error:
        message = f"not a git checkout ({error}): cannot list the repository's files"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return [name for name in listed.stdout.decode().split("\0") if name and (ROOT / name).is_file()]


def text_of(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\0" in data:
        return None
    return data.decode("utf-8", errors="replace")


def is_allowed(path: str, line: str) -> bool:
    return any(allowed.path == path and allowed.text in line for allowed in ALLOWED)


def findings_in(path: str, text: str) -> list[str]:
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        if is_allowed(path, line):
            continue
        kinds = [kind for kind, pattern in TOKEN_PATTERNS.items() if pattern.search(line)]
        kinds += [
            f"random-looking value for {match['name']}"
            for match in SECRET_ASSIGNMENT.finditer(line)
            if looks_random(match["value"])
        ]
        kinds += [
            f"literal default for {match['name']}"
            for match in SECRET_DEFAULT.finditer(line)
            if SECRET_NAME.search(match["name"])
        ]
        if is_data_file(path):
            kinds += [
                f"literal value for {match['name']}"
                for match in DATA_ASSIGNMENT.finditer(line)
                if SECRET_NAME.search(match["name"])
            ]
        found += [f"{path}:{number}: {kind}" for kind in kinds]
    return found


def is_data_file(path: str) -> bool:
    name = Path(path).name
    return Path(path).suffix in DATA_FILE_SUFFIXES or name.startswith(".env")


def is_env_file(path: str) -> bool:
    name = Path(path).name
    return (name == ".env" or name.startswith(".env.")) and name != ".env.example"


def test_no_file_in_the_repository_holds_a_secret():
    findings = []
    for path in repository_files():
        text = text_of(ROOT / path)
        if text is not None:
            findings += findings_in(path, text)

    assert findings == []


def test_no_env_file_is_in_the_repository():
    assert [path for path in repository_files() if is_env_file(path)] == []


def test_every_allowance_still_matches_a_file():
    files = set(repository_files())
    for allowed in ALLOWED:
        assert allowed.path in files, f"{allowed.path} is gone: drop its allowance"
        assert allowed.text in (ROOT / allowed.path).read_text(), f"{allowed.path} no longer holds {allowed.text!r}"


# The detectors themselves, on made-up values (assembled so this file holds none of them).


@pytest.mark.parametrize(
    "line",
    [
        "-----BEGIN " + "RSA PRIVATE KEY-----",
        "-----BEGIN " + "OPENSSH PRIVATE KEY-----",
        "key_id = AKIA" + "Q3EGRIKHXMN5Z2OB",
        "stripe = 'sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc'",
        "SLACK = 'xoxb-" + "123456789012-abcdefABCDEF'",
        "url = 'https://hooks.slack.com/services/T0" + "0000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX'",
        "GITHUB = 'ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8'",
        'SECRET_KEY = "' + "h7Fq2xK9vLm3Pz8RtW4yB6nC1dJ5sE0a" + '"',
        '"api_key": "' + "9f8e7d6c5b4a39281706f5e4d3c2b1a0" + '"',
        "DATABASE_PASSWORD=" + "Zx81Kq0Lm29Vn3Bc7Hd6",
        'SECRET_KEY = os.environ.get("SECRET_KEY", "' + 'django-insecure-but-real"' + ")",
        "DATABASE_URL=postgres://app:" + "S3cr3tPw@db:5432/app",
    ],
)
def test_the_detectors_find_secrets(line):
    assert findings_in("example.py", line) != []


@pytest.mark.parametrize("path", ["config.json", "compose.yml", "deploy/.env.production"])
def test_any_literal_under_a_secrets_name_in_a_data_file_is_found(path):
    assert findings_in(path, '"client_secret": "' + 'plain-words-here"') != []
    assert findings_in(path, "client_secret: ${CLIENT_SECRET}") == []


@pytest.mark.parametrize(
    "line",
    [
        'SECRET_KEY = os.environ.get("SECRET_KEY", "")',
        'PASSWORD = "a-long-test-password"',
        "POSTGRES_PASSWORD=change-me",
        "token, _ = Token.objects.get_or_create(user=user)",
        "AXES_PASSWORD_FORM_FIELD = password_field_name",
    ],
)
def test_the_detectors_leave_ordinary_code_alone(line):
    assert findings_in("example.py", line) == []


def test_env_files_are_recognised():
    assert is_env_file(".env")
    assert is_env_file("docker/.env.production")
    assert not is_env_file(".env.example")
