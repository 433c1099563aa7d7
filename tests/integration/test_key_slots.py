"""A file sealed for two keys on two separate envseal servers (header version 2) opens with
either server stopped, black box:

    AWS_SHARED_CREDENTIALS_FILE=two.credentials \\
      envseal encrypt app.env --key alias/slots-a --key alias/slots-b \\
        --endpoint a@http://127.0.0.1:PORT_A --endpoint b@http://127.0.0.1:PORT_B -o sealed.env
    ... envseal get sealed.env DB_PASSWORD --endpoint a@… --endpoint b@…   (A stopped, then B)
    ... envseal keys remove | add sealed.env --key …   (every value line byte for byte)

The shared credentials file holds each server's admin credentials under its own profile, which
`--endpoint PROFILE@URL` picks per endpoint. Values are random and never in any output.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from conftest import REGION, EnvsealServer, assert_not_contained, client_env, envseal_binary

UNAVAILABLE = 69


@pytest.fixture()
def two_servers() -> Iterator[tuple[EnvsealServer, EnvsealServer]]:
    workdirs = [Path(tempfile.mkdtemp(prefix="envseal-it-slots-")) for _ in range(2)]
    servers = tuple(EnvsealServer(workdir) for workdir in workdirs)
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()
        for workdir in workdirs:
            shutil.rmtree(workdir, ignore_errors=True)


class Work:
    def __init__(self, root: Path, servers: tuple[EnvsealServer, EnvsealServer]) -> None:
        self.root = root
        self.servers = servers
        self.credentials = root / "two.credentials"
        lines = []
        for profile, server in zip(("a", "b"), servers):
            admin = server.admin_credentials()
            lines += [f"[{profile}]", f"aws_access_key_id = {admin.access_key_id}",
                      f"aws_secret_access_key = {admin.secret_access_key}", ""]
        self.credentials.write_text("\n".join(lines))
        self.credentials.chmod(0o600)
        self.secrets = [s for server in servers for s in server.secrets]

    def endpoints(self, *which: str) -> list[str]:
        out = []
        for profile in which:
            out += ["--endpoint", f"{profile}@{self.servers['ab'.index(profile)].url}"]
        return out

    def run(self, *args: str, endpoints: tuple[str, ...] = ("a", "b"), check: bool = True) -> subprocess.CompletedProcess:
        env = client_env(self.root / "home", AWS_SHARED_CREDENTIALS_FILE=str(self.credentials), AWS_REGION=REGION)
        result = subprocess.run([str(envseal_binary()), *args, *self.endpoints(*endpoints)], cwd=self.root, env=env,
                                capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
        for secret in self.secrets:
            assert_not_contained(result.stderr, secret, f"stderr of envseal {args[0]}")
        if check and result.returncode != 0:
            raise AssertionError(f"envseal {' '.join(args)} exited {result.returncode}: {result.stderr.decode(errors='replace')}")
        assert not (self.root / "KeyStore").exists(), "the CLI used an embedded store instead of the endpoints"
        return result


def value_lines(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().split(b"\n") if not line.startswith(b"ENVSEAL=")]


def test_two_keys_on_two_servers_open_with_either_stopped(two_servers, tmp_path: Path) -> None:
    work = Work(tmp_path, two_servers)
    password = secrets.token_urlsafe(24)
    token = secrets.token_hex(20)
    (tmp_path / "app.env").write_text(f"DB_PASSWORD={password}\nAPI_TOKEN={token}\nLOG_LEVEL=info\n")
    arns = {}
    for profile in ("a", "b"):
        created = work.run("keys", "create", "--alias", f"alias/slots-{profile}", "--output", "json", endpoints=(profile,))
        arns[profile] = json.loads(created.stdout)["KeyMetadata"]["Arn"]

    # Key a is made on server a (GenerateDataKey); server a does not know key b, server b wraps it.
    work.run("encrypt", "app.env", "--key", "alias/slots-a", "--key", "alias/slots-b", "--context", "app=billing",
             "-o", "sealed.env")
    sealed = (tmp_path / "sealed.env").read_bytes()
    assert password.encode() not in sealed and token.encode() not in sealed
    listed = work.run("keys", "list", "sealed.env", endpoints=()).stdout.decode()
    assert listed.splitlines() == [f"1\tkms\t{arns['a']}\tapp=billing", f"2\tkms\t{arns['b']}\tapp=billing"]

    def opened() -> str:
        return work.run("get", "sealed.env", "DB_PASSWORD", "--no-newline").stdout.decode()

    assert opened() == password
    # Server a stopped: slot 1 cannot be reached, slot 2 opens at server b.
    work.servers[0].stop()
    assert opened() == password
    assert "slot 2 of 2" in work.run("verify", "sealed.env").stdout.decode()
    # Server a back (on another port: the file names no endpoint), server b stopped.
    work.servers[0].start()
    work.servers[1].stop()
    assert opened() == password
    # Both stopped: every slot is named, with why, and nothing secret.
    work.servers[0].stop()
    failed = work.run("get", "sealed.env", "DB_PASSWORD", check=False)
    assert failed.returncode == UNAVAILABLE
    stderr = failed.stderr.decode()
    assert "slot 1 (key " + arns["a"] in stderr and "slot 2 (key " + arns["b"] in stderr
    assert password not in stderr and not failed.stdout


def test_keys_remove_and_add_leave_every_value_line(two_servers, tmp_path: Path) -> None:
    work = Work(tmp_path, two_servers)
    password = secrets.token_urlsafe(24)
    (tmp_path / "app.env").write_text(f"# app\nDB_PASSWORD='{password}'\nLOG_LEVEL=info\n")
    for profile in ("a", "b"):
        work.run("keys", "create", "--alias", f"alias/slots-{profile}", endpoints=(profile,))
    work.run("encrypt", "app.env", "--key", "alias/slots-a", "-o", "sealed.env")
    before = value_lines(tmp_path / "sealed.env")

    work.run("keys", "add", "sealed.env", "--key", "alias/slots-b")
    assert value_lines(tmp_path / "sealed.env") == before
    assert len(work.run("keys", "list", "sealed.env", endpoints=()).stdout.splitlines()) == 2
    # Only server b left: key b's slot opens it.
    work.servers[0].stop()
    assert work.run("get", "sealed.env", "DB_PASSWORD", "--no-newline", endpoints=("b",)).stdout.decode() == password
    work.servers[0].start()

    removed = work.run("keys", "remove", "sealed.env", "--key", "alias/slots-a")
    assert b"envseal: warning:" in removed.stderr and b"envseal rotate sealed.env" in removed.stderr
    assert value_lines(tmp_path / "sealed.env") == before
    assert len(work.run("keys", "list", "sealed.env", endpoints=()).stdout.splitlines()) == 1
    # Server a alone no longer opens it.
    failed = work.run("get", "sealed.env", "DB_PASSWORD", endpoints=("a",), check=False)
    assert failed.returncode != 0 and not failed.stdout
    last = work.run("keys", "remove", "sealed.env", "--key", "alias/slots-b", check=False)
    assert last.returncode == 64 and b"last slot" in last.stderr
