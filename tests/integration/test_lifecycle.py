"""The server as a process: restarts on the same key store, SIGTERM under load, a port in use,
a root key anyone may read. Each test runs its own server(s), driven by boto3."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import tempfile
import threading
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

from conftest import Credentials, EnvsealServer, assert_same_secret


@pytest.fixture
def fresh():
    """Makes servers in temporary folders; stops (SIGTERM) and removes them at the end."""
    made: list[EnvsealServer] = []

    def make(workdir: Path | None = None) -> EnvsealServer:
        instance = EnvsealServer(workdir or Path(tempfile.mkdtemp(prefix="envseal-it-life-")))
        made.append(instance)
        return instance

    yield make
    for instance in made:
        instance.stop()
    for workdir in {instance.workdir for instance in made}:
        shutil.rmtree(workdir, ignore_errors=True)


def test_restart_keeps_keys_principals_and_credentials(fresh, request):
    first = fresh()
    first.start()
    admin = first.admin_credentials()
    kms = first.client(admin)
    arn = kms.create_key(Description="survives a restart")["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName="alias/survivor", TargetKeyId=arn)
    plaintext = os.urandom(32)
    blob = kms.encrypt(KeyId=arn, Plaintext=plaintext, EncryptionContext={"Boot": "1"})["CiphertextBlob"]
    kms.rotate_key_on_demand(KeyId=arn)
    first.cli("principals", "create", "restarted-user", "--credentials", str(first.workdir / "user.credentials"))
    user = Credentials.read(first.workdir / "user.credentials")
    first.remember_secret(user.secret_access_key)
    code, seconds = first.stop()
    assert code == 0, f"exit {code} after SIGTERM"
    assert seconds < 10

    second = fresh(first.workdir)
    second.secrets = list(first.secrets)
    second.start()
    again = second.admin_credentials()
    assert again.access_key_id == admin.access_key_id, "a restart must not make a new admin"
    kms = second.client(admin)
    meta = kms.describe_key(KeyId="alias/survivor")["KeyMetadata"]
    assert meta["Arn"] == arn and meta["KeyState"] == "Enabled"
    opened = kms.decrypt(CiphertextBlob=blob, EncryptionContext={"Boot": "1"})
    assert_same_secret(opened["Plaintext"], plaintext, "a ciphertext from before the restart")
    assert len(kms.list_key_rotations(KeyId=arn)["Rotations"]) == 1
    got = len(second.client(user).generate_random(NumberOfBytes=8)["Plaintext"])
    assert got == 8


def test_sigterm_under_load_finishes_cleanly(fresh):
    server = fresh()
    server.start()
    admin = server.admin_credentials()
    kms = server.client(admin)
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    outcomes: list[str] = []
    successes = threading.Event()

    def load() -> None:
        client = server.client(admin)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                blob = client.encrypt(KeyId=arn, Plaintext=b"in flight")["CiphertextBlob"]
                client.decrypt(CiphertextBlob=blob)
                outcomes.append("ok")
                if len(outcomes) >= 20:
                    successes.set()
            except ClientError as error:
                outcomes.append(f"HTTP {error.response['ResponseMetadata']['HTTPStatusCode']} "
                                f"{error.response['Error']['Code']}")
                return
            except (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError) as error:
                outcomes.append(f"connection: {type(error).__name__}")
                return

    threads = [threading.Thread(target=load) for _ in range(3)]
    for thread in threads:
        thread.start()
    assert successes.wait(30), "the load never got going"
    code, seconds = server.stop()
    for thread in threads:
        thread.join(timeout=40)
    assert code == 0, f"exit {code} after SIGTERM under load"
    assert seconds < 10, f"took {seconds:.1f} s to stop"
    errors = [outcome for outcome in outcomes if outcome.startswith("HTTP")]
    assert not errors, f"answers during shutdown: {errors}"


def test_port_in_use_is_reported(fresh):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        server = fresh()
        process = server.launch(port=taken.getsockname()[1])
        code = process.wait(timeout=60)
    assert code != 0, "the server ran on a port already in use"
    assert "already in use" in server.stderr_text(), server.stderr_tail()


def test_root_key_readable_by_others_is_refused(fresh):
    server = fresh()
    server.start()
    assert stat.S_IMODE(os.stat(server.keystore / "root.key").st_mode) == 0o600
    code, _ = server.stop()
    assert code == 0
    os.chmod(server.keystore / "root.key", 0o644)
    logged = len(server.stderr_text())
    process = server.launch()
    code = process.wait(timeout=60)
    assert code != 0, "the server started with a root key anyone may read"
    assert "root.key" in server.stderr_text()[logged:], server.stderr_tail()
