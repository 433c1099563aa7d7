"""Secret hygiene: canary secrets pushed through every path — the CLI (embedded and remote), the
server, the helper library (the example function), `exec` with and without `--redact`, error
paths, the audit log — then searched for, raw and base64-encoded, in every output that is not
meant to hold them, every log, every audit record, the store's files and the temporary folders
of the run. Found nowhere.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
from pathlib import Path

import pytest

from conftest import client_env, envseal_binary
from test_example_function import function_binary


def forms(canary: str) -> list[bytes]:
    raw = canary.encode()
    return [raw, base64.b64encode(raw), base64.urlsafe_b64encode(raw).rstrip(b"="), raw.hex().encode()]


def test_canaries_are_found_nowhere(server, admin, kms, make_principal, tmp_path: Path) -> None:
    canaries = {name: f"canary-{name.lower()}-{secrets.token_hex(16)}" for name in ("DB_PASSWORD", "API_KEY", "STRIPE_API_KEY")}
    work = tmp_path / "work"
    temporary = tmp_path / "tmp"
    work.mkdir()
    temporary.mkdir()
    plain = work / "plain.env"
    plain.write_text("".join(f"{name}={value}\n" for name, value in canaries.items()) + "DB_HOST=db.internal\n")
    outputs: list[tuple[str, bytes]] = []  # what must not hold a canary

    def run(*args: str, env_extra: dict | None = None, expect_secret_stdout: bool = False, input: bytes | None = None,
            remote: bool = True, command: list[str] | None = None) -> subprocess.CompletedProcess:
        env = client_env(work / "home", TMPDIR=str(temporary))
        if remote:
            env.update(AWS_ENDPOINT_URL_KMS=server.url, AWS_SHARED_CREDENTIALS_FILE=str(admin.path), AWS_REGION="us-east-1")
        env.update(env_extra or {})
        result = subprocess.run(command or [str(envseal_binary()), *args], cwd=work, env=env, input=input,
                                stdin=None if input is not None else subprocess.DEVNULL, capture_output=True, timeout=120)
        outputs.append((f"{' '.join(args[:2])} stderr", result.stderr))
        if not expect_secret_stdout:
            outputs.append((f"{' '.join(args[:2])} stdout", result.stdout))
        return result

    key = kms.create_key(Description="canary")["KeyMetadata"]["KeyId"]
    run("encrypt", "plain.env", "--key", key, "--context", "LambdaFunctionName=billing-fn", "-o", "sealed.env")
    run("verify", "sealed.env")
    run("verify", "sealed.env", "--output", "json")
    run("get", "sealed.env", "API_KEY", expect_secret_stdout=True)
    run("decrypt", "sealed.env", expect_secret_stdout=True)
    run("decrypt", "sealed.env", "-o", "out.env")
    run("set", "sealed.env", "API_KEY", input=canaries["API_KEY"].encode() + b"\n")
    run("rotate", "sealed.env")
    run("rewrap", "sealed.env")
    run("inspect", "sealed.env", remote=False)
    run("encrypt", "plain.env", "--key", key, "--mode", "lambda", "--function", "billing-fn", "-o", "lambda.env")
    run("decrypt", "lambda.env", "--mode", "lambda", "--function", "other-fn")  # refused: an error path
    run("exec", "--file", "sealed.env", "--redact", "--", "sh", "-c",
        'echo "$DB_PASSWORD $API_KEY"; printf %s "$STRIPE_API_KEY" | base64; echo "$DB_PASSWORD" >&2; exit 3')
    run("exec", "--file", "sealed.env", "--", "sh", "-c", 'test -n "$DB_PASSWORD"')
    # Error paths: a tampered file, a wrong key, a closed port, a principal without permission.
    tampered = (work / "sealed.env").read_text().replace("DB_HOST=db.internal", "DB_HOST=evil")
    (work / "tampered.env").write_text(tampered)
    run("verify", "tampered.env")
    run("exec", "--file", "tampered.env", "--redact", "--", "true")
    run("verify", "sealed.env", env_extra={"AWS_ENDPOINT_URL_KMS": "http://127.0.0.1:1"})
    stranger = make_principal("canary-stranger")
    run("get", "sealed.env", "DB_PASSWORD", env_extra={"AWS_SHARED_CREDENTIALS_FILE": str(stranger.credentials.path)})
    # The embedded store: the same file sealed without a server, opened, edited.
    editor = work / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/^DB_HOST=.*/DB_HOST=db2.internal/' \"$1\"\n")
    editor.chmod(0o755)
    run("keys", "create", "--alias", "alias/canary", "--keystore", "ks", remote=False)
    run("encrypt", "plain.env", "--key", "alias/canary", "-o", "local.env", "--keystore", "ks", remote=False)
    run("edit", "local.env", "--keystore", "ks", remote=False, env_extra={"EDITOR": str(editor)})
    run("get", "local.env", "DB_PASSWORD", "--keystore", "ks", remote=False, expect_secret_stdout=True)
    run("audit", "tail", "-n", "100", "--output", "json", "--keystore", "ks", remote=False)
    # The helper library, inside the example function, as a function principal.
    function = make_principal("canary-fn")
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps({"Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/admin"}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": function.arn}, "Action": "kms:Decrypt", "Resource": "*"}]}))
    sealed_vars = {}
    for line in (work / "sealed.env").read_text().splitlines():
        name, _, value = line.partition("=")
        sealed_vars[name] = value.strip('"')
    run("function", command=[str(function_binary())], input=b'{"invoice":"INV-1","amount":1}',
        env_extra={**sealed_vars, "AWS_SHARED_CREDENTIALS_FILE": str(function.credentials.path),
                   "AWS_LAMBDA_FUNCTION_NAME": "billing-fn"})
    # The server's own audit log, through the CLI, on its store.
    outputs.append(("server audit", server.cli("audit", "tail", "-n", "500", "--output", "json").stdout.encode()))

    # Where the canaries must not be.
    places: list[tuple[str, bytes]] = list(outputs)
    places.append(("server log", server.stderr_path.read_bytes()))
    for folder in (server.keystore, work / "ks", temporary):
        for path in folder.rglob("*"):
            if path.is_file():
                places.append((str(path.relative_to(tmp_path.parent)) if path.is_relative_to(tmp_path.parent) else path.name, path.read_bytes()))
    for path in work.iterdir():
        if path.is_file() and path.name not in {"plain.env", "out.env"}:
            places.append((path.name, path.read_bytes()))
    shm = Path("/dev/shm")
    if shm.is_dir():
        leftovers = [p.name for p in shm.iterdir() if p.name.startswith("envseal-edit-")]
        assert not leftovers, f"edit left folders in /dev/shm: {leftovers}"
    found = []
    for where, data in places:
        for name, canary in canaries.items():
            if any(form in data for form in forms(canary)):
                found.append(f"{name} in {where}")
    print(f"searched {len(places)} outputs, logs, audit records and files for {len(canaries)} canaries in 4 forms each")
    assert not found, "canaries found: " + "; ".join(found)
    # The plaintext output that was asked for is there, mode 0600: the search above is not blind.
    assert canaries["DB_PASSWORD"].encode() in (work / "out.env").read_bytes()
    assert ((work / "out.env").stat().st_mode & 0o777) == 0o600
