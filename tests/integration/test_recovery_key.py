"""Break-glass: a file sealed for a KMS key *and* an offline recovery recipient opens with the
recovery key's secret file when the key server is gone, without connecting anywhere:

    envseal recovery keygen -o recovery.key --passphrase-env PW        # prints esr1:…
    AWS_ENDPOINT_URL_KMS=… envseal encrypt app.env --key alias/app --recipient esr1:… -o app.sealed
    (the server stops)
    ENVSEAL_RECOVERY_PASSPHRASE=… envseal decrypt app.sealed --recovery-key recovery.key

While the recovery key is used, AWS_ENDPOINT_URL_KMS names a listening socket of the test's own
that counts connections: it must count none. A wrong recovery key, or a wrong passphrase, fails
with a clear error (exit 52) and no secret on either output. Values are random and compared
without being shown."""

from __future__ import annotations

import hashlib
import secrets
import socket
import stat
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Iterator

import pytest

from conftest import REGION, EnvsealServer, assert_not_contained, assert_same_secret, client_env, envseal_binary


class ConnectionCounter:
    """A listening socket that accepts and counts connections: a key service that must stay unasked."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(16)
        self.socket.settimeout(0.2)
        self.count = 0
        self.stopped = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.socket.getsockname()[1]}"

    def _accept(self) -> None:
        while not self.stopped:
            try:
                connection, _ = self.socket.accept()
            except (socket.timeout, OSError):
                continue
            self.count += 1
            connection.close()

    def close(self) -> None:
        self.stopped = True
        self.thread.join()
        self.socket.close()


@pytest.fixture
def counter() -> Iterator[ConnectionCounter]:
    instance = ConnectionCounter()
    yield instance
    instance.close()


class Work:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.secret = secrets.token_urlsafe(24)
        self.passphrase = secrets.token_urlsafe(12)
        (path / "app.env").write_text(f"REGION=eu-west-1\nAPI_TOKEN={self.secret}\n")

    def run(self, *args: str, env: dict[str, str], check: bool = True, shows_secret: bool = False) -> subprocess.CompletedProcess:
        result = subprocess.run([str(envseal_binary()), *args], cwd=self.path, env=env, capture_output=True,
                                stdin=subprocess.DEVNULL, timeout=120)
        assert_not_contained(result.stderr, self.secret, "standard error")
        assert_not_contained(result.stderr + result.stdout, self.passphrase, "the output")
        if not shows_secret:
            assert_not_contained(result.stdout, self.secret, "standard output")
        if check:
            assert result.returncode == 0, f"{args[0]} exited {result.returncode}: {result.stderr.decode(errors='replace')}"
        return result

    def offline_env(self, counter: ConnectionCounter, **extra: str) -> dict[str, str]:
        """Credentials and an endpoint that would be used if anything asked a key service."""
        return client_env(self.path / "home", AWS_ENDPOINT_URL_KMS=counter.url, AWS_REGION=REGION,
                          AWS_ACCESS_KEY_ID="AKIAEXAMPLEEXAMPLE00", AWS_SECRET_ACCESS_KEY="not-a-real-secret", **extra)

    def keygen(self, name: str, env: dict[str, str], *extra: str) -> str:
        recipient = self.run("recovery", "keygen", "-o", name, *extra, env=env).stdout.decode().strip()
        assert recipient.startswith("esr1:") and len(recipient) == 53
        assert stat.S_IMODE((self.path / name).stat().st_mode) == 0o600
        return recipient


@pytest.fixture
def work(tmp_path: Path) -> Work:
    return Work(tmp_path)


def test_sealed_for_a_key_and_a_recipient_opens_with_the_server_gone(work: Work, counter: ConnectionCounter) -> None:
    server = EnvsealServer(Path(tempfile.mkdtemp(prefix="envseal-it-recovery-")))
    server.start()
    try:
        remote = client_env(work.path / "home", AWS_ENDPOINT_URL_KMS=server.url, AWS_REGION=REGION,
                            AWS_SHARED_CREDENTIALS_FILE=str(server.admin_credentials_path))
        work.run("keys", "create", "--alias", "alias/recovery-it", env=remote)
        recipient = work.keygen("recovery.key", client_env(work.path / "home", PW=work.passphrase), "--passphrase-env", "PW")
        work.run("encrypt", "app.env", "--key", "alias/recovery-it", "--recipient", recipient, "-o", "app.sealed", env=remote)
        work.run("verify", "app.sealed", env=remote)
    finally:
        assert server.stop()[0] == 0

    offline = work.offline_env(counter, ENVSEAL_RECOVERY_PASSPHRASE=work.passphrase)
    # The key service is gone: opening through it fails (69), through the recovery key it works.
    gone = work.run("decrypt", "app.sealed", env=client_env(work.path / "home", AWS_ENDPOINT_URL_KMS=server.url, AWS_REGION=REGION,
                                                             AWS_SHARED_CREDENTIALS_FILE=str(server.admin_credentials_path)), check=False)
    assert gone.returncode != 0
    plain = work.run("decrypt", "app.sealed", "--recovery-key", "recovery.key", env=offline, shows_secret=True).stdout
    assert_same_secret(plain.split(b"API_TOKEN=")[1].strip(), work.secret.encode(), "API_TOKEN")
    got = work.run("get", "app.sealed", "API_TOKEN", "--no-newline", "--recovery-key", "recovery.key", env=offline, shows_secret=True)
    assert_same_secret(got.stdout, work.secret.encode(), "get API_TOKEN")
    work.run("verify", "app.sealed", "--recovery-key", "recovery.key", env=offline)
    digest = work.run("exec", "--file", "app.sealed", "--recovery-key", "recovery.key", "--",
                      "sh", "-c", 'printf %s "$API_TOKEN" | sha256sum', env=offline).stdout.decode().split()[0]
    assert digest == hashlib.sha256(work.secret.encode()).hexdigest()
    assert counter.count == 0, f"{counter.count} connections to the key service endpoint during recovery-key opens"

    # A wrong passphrase: 52, said plainly, nothing printed.
    wrong = work.run("decrypt", "app.sealed", "--recovery-key", "recovery.key", check=False,
                     env=work.offline_env(counter, ENVSEAL_RECOVERY_PASSPHRASE="not-" + work.passphrase))
    assert wrong.returncode == 52, wrong.stderr
    assert b"wrong passphrase" in wrong.stderr
    assert wrong.stdout == b""


def test_a_recipient_only_file_needs_no_key_service_and_refuses_another_key(work: Work, counter: ConnectionCounter) -> None:
    offline = work.offline_env(counter)
    recipient = work.keygen("recovery.key", offline)
    work.keygen("other.key", offline)
    work.run("encrypt", "app.env", "--recipient", recipient, "-o", "app.sealed", env=offline)
    got = work.run("get", "app.sealed", "API_TOKEN", "--no-newline", "--recovery-key", "recovery.key", env=offline, shows_secret=True)
    assert_same_secret(got.stdout, work.secret.encode(), "get API_TOKEN")

    wrong = work.run("decrypt", "app.sealed", "--recovery-key", "other.key", check=False, env=offline)
    assert wrong.returncode == 52, wrong.stderr
    assert b"not sealed for this recovery key" in wrong.stderr
    assert wrong.stdout == b""
    # Without any key: refused before any connection, naming what it needs.
    none = work.run("decrypt", "app.sealed", check=False, env=offline)
    assert none.returncode == 64 and none.stdout == b"", none.stderr
    assert b"recovery recipients only" in none.stderr and b"--recovery-key" in none.stderr, none.stderr
    # A mistyped recipient is refused before anything is sealed.
    typo = recipient[:20] + ("A" if recipient[20] != "A" else "B") + recipient[21:]
    refused = work.run("encrypt", "app.env", "--recipient", typo, "-o", "typo.sealed", env=offline, check=False)
    assert refused.returncode == 64 and b"checksum" in refused.stderr
    assert not (work.path / "typo.sealed").exists()
    assert counter.count == 0


def test_keys_add_and_remove_a_recipient_leave_every_value_line_alone(work: Work, counter: ConnectionCounter) -> None:
    store = ["--keystore", str(work.path / "ks")]
    local = client_env(work.path / "home")
    work.run("keys", "create", "--alias", "alias/slots", *store, env=local)
    work.run("encrypt", "app.env", "--key", "alias/slots", "-o", "app.sealed", *store, env=local)
    before = [line for line in (work.path / "app.sealed").read_bytes().splitlines() if not line.startswith(b"ENVSEAL=")]
    first = work.keygen("first.key", local)
    second = work.keygen("second.key", local)

    work.run("keys", "add", "app.sealed", "--recipient", first, *store, env=local)
    # With a recovery key, no key service: only recipients can be added, and nothing connects.
    offline = work.offline_env(counter)
    work.run("keys", "add", "app.sealed", "--recipient", second, "--recovery-key", "first.key", env=offline)
    listed = work.run("keys", "list", "app.sealed", env=offline).stdout.decode()
    assert first in listed and second in listed
    work.run("keys", "remove", "app.sealed", "--recipient", first, "--recovery-key", "second.key", env=offline)
    after = [line for line in (work.path / "app.sealed").read_bytes().splitlines() if not line.startswith(b"ENVSEAL=")]
    assert after == before
    assert counter.count == 0

    gone = work.run("get", "app.sealed", "API_TOKEN", "--recovery-key", "first.key", env=offline, check=False)
    assert gone.returncode == 52 and gone.stdout == b""
    got = work.run("get", "app.sealed", "API_TOKEN", "--no-newline", "--recovery-key", "second.key", env=offline, shows_secret=True)
    assert_same_secret(got.stdout, work.secret.encode(), "get API_TOKEN")
    # The key slot still opens it through the key store, and --endpoint does not go with --recovery-key.
    work.run("verify", "app.sealed", *store, env=local)
    refused = work.run("get", "app.sealed", "API_TOKEN", "--recovery-key", "second.key", "--endpoint", counter.url, env=offline, check=False)
    assert refused.returncode == 64
