"""The process, attacked: nothing of envseal's crosses into the programs it starts, no plaintext
outlives an interrupted `envseal edit`, and `audit tail` cannot be made to print a forged line.

Driven as an attacker would: a child that looks for descriptors it should not have, an editor
that sends envseal every terminating signal, a caller who puts terminal escapes and line breaks
in an encryption context.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from pathlib import Path

import pytest

from conftest import EnvsealServer, assert_not_contained, client_env, envseal_binary

# The child lists its shell's descriptors: `:` keeps sh from replacing itself with ls, and
# `sh -c` opens none of its own.
LIST_DESCRIPTORS = ["sh", "-c", "ls /proc/$$/fd; :"]


def run(work: Path, *args: str, env: dict[str, str] | None = None, check: bool = True,
        **kwargs: object) -> subprocess.CompletedProcess:
    result = subprocess.run([str(envseal_binary()), *args], cwd=work, env=env or client_env(work / "home"),
                            capture_output=True, timeout=60, stdin=kwargs.pop("stdin", subprocess.DEVNULL), **kwargs)
    if check:
        assert result.returncode == 0, f"envseal {' '.join(args[:2])} exited {result.returncode}: {result.stderr!r}"
    return result


# ---------------------------------------------------------------------------------------------
# 1. Descriptors: the child of `envseal exec` gets 0, 1 and 2, nothing else.


@pytest.fixture(scope="module")
def remote(server: EnvsealServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A file sealed under a key of the real server, and the environment that reaches it over TCP."""
    work = tmp_path_factory.mktemp("remote")
    env = client_env(work / "home", AWS_SHARED_CREDENTIALS_FILE=str(server.admin_credentials_path),
                     AWS_ENDPOINT_URL_KMS=server.url)
    key = run(work, "keys", "create", "--alias", "alias/process-attack", env=env).stdout
    assert key
    (work / "app.env").write_text(f"API_TOKEN=tok_{secrets.token_hex(16)}\n")
    run(work, "encrypt", "app.env", "--key", "alias/process-attack", "-o", "app.sealed.env", env=env)
    return work, env


@pytest.mark.parametrize("options", [[], ["--redact"]], ids=["replace", "redact"])
def test_exec_child_sees_only_the_standard_descriptors(remote: tuple[Path, dict[str, str]], options: list[str]) -> None:
    work, env = remote
    result = run(work, "exec", "--file", "app.sealed.env", *options, "--", *LIST_DESCRIPTORS, env=env)
    assert result.stdout.decode().split() == ["0", "1", "2"], \
        f"the child inherited descriptors of envseal's: {result.stdout.decode().split()}"


# ---------------------------------------------------------------------------------------------
# 3. `audit tail`: text that a caller chose is printed escaped, one record per line.


def test_audit_tail_escapes_what_a_caller_put_in_an_encryption_context(server: EnvsealServer, kms: object) -> None:
    key = kms.create_key(Description="audit escapes")["KeyMetadata"]["KeyId"]
    forged = "\n999\t2001-01-01T00:00:00Z\tadmin\tDecrypt\t-\t-\tAllowed"
    context = {"app\tname": "x\x1b[31mred\x1b[0m" + forged, "line": "a\r\nb\x7f\x9b2J\u2028\u202e,=\\"}
    kms.encrypt(KeyId=key, Plaintext=b"not secret", EncryptionContext=context)
    text = server.cli("audit", "tail", "-n", "3").stdout
    records = json.loads(server.cli("audit", "tail", "-n", "3", "--output", "json").stdout)
    lines = text.split("\n")
    assert lines[-1] == "" and len(lines) == len(records) + 1, f"a record spans several lines: {text!r}"
    for line in lines[:-1]:
        assert len(line.split("\t")) == 7, f"a record does not have 7 tab-separated fields: {line!r}"
        assert all(c == "\t" or (ord(c) >= 0x20 and not 0x7f <= ord(c) <= 0x9f) for c in line), \
            f"a control character: {line!r}"
        assert "\u2028" not in line and "\u202e" not in line, f"a line separator or bidi override: {line!r}"
    record = next(line for line in lines if "app" in line)
    assert "app\\tname=x\\x1b[31mred\\x1b[0m\\n999\\t2001-01-01T00:00:00Z\\tadmin" in record, record
    assert "line=a\\r\\nb\\x7f\\u009b2J\\u2028\\u202e\\x2c\\x3d\\\\" in record, record
