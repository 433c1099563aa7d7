"""Fixtures for envseal's integration suite: the real server binary, driven by real AWS clients.

Every test module gets a fresh server: a new key store in a temporary folder, a free port on
127.0.0.1, readiness awaited on /readyz with a deadline, and at the end of the module a SIGTERM
after which the server must exit 0 within a few seconds (graceful shutdown is tested there).

Secrets never reach the test output: the server's stderr is shown for a failing test with every
known secret key redacted, and plaintexts and data keys are compared with ``assert_same_secret``,
which says what differed but never shows a value.
"""

from __future__ import annotations

import configparser
import dataclasses
import hmac
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Iterator, Optional

import boto3
import botocore.credentials
import pytest
from botocore.config import Config

REPO_ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT_ID = "111122223333"
KEY_ARN_PATTERN = re.compile(
    r"^arn:aws:kms:us-east-1:111122223333:key/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)
READY_DEADLINE_SECONDS = float(os.environ.get("ENVSEAL_READY_DEADLINE", "60"))
STOP_DEADLINE_SECONDS = 10.0
LOG_LEVEL = os.environ.get("ENVSEAL_LOG_LEVEL", "info")
STDERR_TAIL_LINES = 80

# An empty folder for the AWS clients' config and credentials: nothing of the developer's AWS
# setup (profiles, endpoints, regions, SSO) may change what the suite sends.
_ISOLATED_AWS_DIR = tempfile.mkdtemp(prefix="envseal-it-aws-")


def pytest_configure(config: pytest.Config) -> None:
    # Long tracebacks show the arguments of the failing frame: botocore's `api_params` would show a
    # Plaintext, a helper's arguments the values it compared. Short ones show code and message only.
    if getattr(config.option, "tbstyle", "auto") in ("auto", "long"):
        config.option.tbstyle = "short"
    config.option.showlocals = False
    # botocore logs request bodies (plaintexts, in base64) at DEBUG: never, whatever --log-level says.
    for name in ("botocore", "boto3", "urllib3", "aws_encryption_sdk", "s3transfer"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in list(os.environ):
        if name.startswith("AWS_") or name in ("BOTO_CONFIG",):
            del os.environ[name]
    os.environ["AWS_CONFIG_FILE"] = os.path.join(_ISOLATED_AWS_DIR, "config")
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.path.join(_ISOLATED_AWS_DIR, "credentials")
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_ISOLATED_AWS_DIR, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Secrets


class SecretValues(dict):
    """A dict of secret test values that never shows them in a repr."""

    def __repr__(self) -> str:
        return f"<{len(self)} secret values: {', '.join(self)}>"


def assert_same_secret(actual: object, expected: bytes, what: str) -> None:
    """Fails unless ``actual`` is exactly ``expected`` (bytes), saying what differed, never a value."""
    __tracebackhide__ = True
    if not isinstance(actual, (bytes, bytearray)):
        raise AssertionError(f"{what}: expected bytes, got {type(actual).__name__}")
    if not hmac.compare_digest(bytes(actual), expected):
        raise AssertionError(
            f"{what}: the bytes differ from the expected ones ({len(actual)} bytes, expected {len(expected)})"
        )


def assert_secret_differs(actual: object, other: bytes, what: str) -> None:
    """Fails if ``actual`` equals ``other``, never showing either."""
    __tracebackhide__ = True
    if isinstance(actual, (bytes, bytearray)) and hmac.compare_digest(bytes(actual), other):
        raise AssertionError(f"{what}: the bytes are the same, and must not be")


def assert_not_contained(haystack: bytes | str, secret: bytes | str, what: str) -> None:
    """Fails if ``secret`` occurs in ``haystack``, never showing either."""
    __tracebackhide__ = True
    if isinstance(haystack, str):
        haystack = haystack.encode()
    if isinstance(secret, str):
        secret = secret.encode()
    if secret and secret in haystack:
        raise AssertionError(f"{what}: a secret value occurs in it")


# ---------------------------------------------------------------------------------------------
# The binary and the server


def envseal_binary() -> Path:
    configured = os.environ.get("ENVSEAL_BIN")
    return Path(configured) if configured else REPO_ROOT / ".build" / "debug" / "envseal"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclasses.dataclass
class Credentials:
    """One principal's credentials file, parsed."""

    path: Path
    access_key_id: str
    secret_access_key: str = dataclasses.field(repr=False)
    region: Optional[str]

    @classmethod
    def read(cls, path: Path) -> "Credentials":
        parser = configparser.ConfigParser()
        parser.read(path)
        section = parser["default"]
        return cls(
            path=path,
            access_key_id=section["aws_access_key_id"],
            secret_access_key=section["aws_secret_access_key"],
            region=section.get("region"),
        )

    def botocore(self) -> botocore.credentials.Credentials:
        return botocore.credentials.Credentials(self.access_key_id, self.secret_access_key)


@dataclasses.dataclass
class Principal:
    name: str
    arn: str
    credentials: Credentials
    client: object


class EnvsealServer:
    """The real `envseal server` on a fresh key store."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.keystore = workdir / "KeyStore"
        self.stderr_path = workdir / "server.stderr"
        self.port = 0
        self.metrics_port = 0
        self.process: Optional[subprocess.Popen] = None
        self.secrets: list[str] = []
        self._stderr_file = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def metrics_url(self) -> str:
        """The metrics listener (`--metrics-listen`): /metrics is never on the KMS listener."""
        return f"http://127.0.0.1:{self.metrics_port}"

    @property
    def admin_credentials_path(self) -> Path:
        return self.keystore / "admin.credentials"

    def extra_arguments(self) -> list[str]:
        """Server options a subclass adds (a shared store, say)."""
        return []

    def launch(self, port: Optional[int] = None) -> subprocess.Popen:
        """Starts the process on ``port`` (a free one by default) without waiting for it."""
        binary = envseal_binary()
        if not binary.exists():
            pytest.fail(f"no envseal binary at {binary}: run `swift build` or set ENVSEAL_BIN", pytrace=False)
        self.port = port or free_port()
        self.metrics_port = free_port()
        if self._stderr_file:
            self._stderr_file.close()
        self._stderr_file = open(self.stderr_path, "ab")
        self.process = subprocess.Popen(
            [
                str(binary), "server",
                "--keystore", str(self.keystore),
                "--listen", f"127.0.0.1:{self.port}",
                "--metrics-listen", f"127.0.0.1:{self.metrics_port}",
                "--log-level", LOG_LEVEL,
                "--region", REGION,
                "--account-id", ACCOUNT_ID,
                *self.extra_arguments(),
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._stderr_file,
            stderr=self._stderr_file,
            start_new_session=True,
        )
        return self.process

    def start(self) -> None:
        """Starts the server on a free port and waits for /readyz; fails the test if it does not get ready."""
        last_failure = ""
        for _ in range(3):  # the free port may be taken between our probe and the server's bind
            logged = len(self.stderr_text())
            self.launch()
            failure = self._wait_ready()
            if failure is None:
                return
            last_failure = failure
            if "already in use" not in self.stderr_text()[logged:]:
                break
        pytest.fail(f"the envseal server did not get ready: {last_failure}\n{self.stderr_tail()}", pytrace=False)

    def _wait_ready(self) -> Optional[str]:
        deadline = time.monotonic() + READY_DEADLINE_SECONDS
        last = "no answer"
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                return f"it exited with status {code}"
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=2) as response:
                    if response.status == 200 and self.admin_credentials_path.exists():
                        self.remember_secret(Credentials.read(self.admin_credentials_path).secret_access_key)
                        return None
                    last = f"/readyz answered {response.status}"
            except urllib.error.HTTPError as error:
                last = f"/readyz answered {error.code}"
            except OSError as error:
                last = f"/readyz: {error}"
            time.sleep(0.1)
        self.process.kill()
        self.process.wait()
        return f"not ready within {READY_DEADLINE_SECONDS:.0f} s ({last})"

    def stop(self) -> tuple[Optional[int], float]:
        """SIGTERM, then wait. Returns (exit status or None if it had to be killed, seconds taken)."""
        if self.process is None:
            return 0, 0.0
        started = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_DEADLINE_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                return None, time.monotonic() - started
        if self._stderr_file:
            self._stderr_file.close()
            self._stderr_file = None
        return self.process.returncode, time.monotonic() - started

    def remember_secret(self, secret: str) -> None:
        if secret and secret not in self.secrets:
            self.secrets.append(secret)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "<redacted>")
        return re.sub(r"(?i)(aws_secret_access_key\s*[=:]\s*)\S+", r"\1<redacted>", text)

    def stderr_text(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def stderr_tail(self, lines: int = STDERR_TAIL_LINES) -> str:
        text = self.redact(self.stderr_text())
        tail = text.splitlines()[-lines:]
        return "--- envseal server stderr (last %d lines, secrets redacted) ---\n%s" % (len(tail), "\n".join(tail))

    # The envseal CLI on the same key store, while the server runs.

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(envseal_binary()), *args, "--keystore", str(self.keystore)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise AssertionError(
                f"envseal {' '.join(args)} exited {result.returncode}: {self.redact(result.stderr.strip())}"
            )
        return result

    def admin_credentials(self) -> Credentials:
        return Credentials.read(self.admin_credentials_path)

    def client(self, credentials: Credentials, **config: object) -> object:
        return kms_client(self.url, credentials, **config)


def kms_client(endpoint_url: str, credentials: Credentials, retries: int = 1, **config: object) -> object:
    """A boto3 KMS client on the server; by default without retries, so nothing hides a failure."""
    session = boto3.session.Session(
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        region_name=REGION,
    )
    return session.client(
        "kms",
        endpoint_url=endpoint_url,
        config=Config(retries={"mode": "standard", "max_attempts": retries}, connect_timeout=5, read_timeout=30, **config),
    )


_RUNNING: dict[str, EnvsealServer] = {}


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest) -> Iterator[EnvsealServer]:
    workdir = Path(tempfile.mkdtemp(prefix="envseal-it-"))
    instance = EnvsealServer(workdir)
    _RUNNING[request.module.__name__] = instance
    try:
        instance.start()
        yield instance
        code, seconds = instance.stop()
        log = instance.stderr_text()
        for secret in instance.secrets:
            assert_not_contained(log, secret, "the server's stderr")
        if code is None:
            raise AssertionError(
                f"the server did not exit within {STOP_DEADLINE_SECONDS:.0f} s of SIGTERM\n{instance.stderr_tail()}"
            )
        if code != 0:
            raise AssertionError(f"the server exited {code} after SIGTERM (expected 0)\n{instance.stderr_tail()}")
    finally:
        instance.stop()
        _RUNNING.pop(request.module.__name__, None)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        instance = _RUNNING.get(item.module.__name__)
        if instance is not None:
            report.sections.append(("envseal server", instance.stderr_tail()))


@pytest.fixture(scope="module")
def admin(server: EnvsealServer) -> Credentials:
    return server.admin_credentials()


@pytest.fixture(scope="module")
def kms(server: EnvsealServer, admin: Credentials) -> object:
    """boto3's KMS client for the admin principal."""
    return server.client(admin)


@pytest.fixture(scope="module")
def kms_unvalidated(server: EnvsealServer, admin: Credentials) -> object:
    """The admin's client without botocore's parameter validation, so out-of-range values reach the server."""
    return server.client(admin, parameter_validation=False)


@pytest.fixture
def new_key(kms: object) -> Callable[..., str]:
    """Creates a key as the admin; returns its ARN."""

    def make(description: str = "integration test key", **kwargs: object) -> str:
        return kms.create_key(Description=description, **kwargs)["KeyMetadata"]["Arn"]

    return make


@pytest.fixture(scope="module")
def make_principal(server: EnvsealServer) -> Callable[..., Principal]:
    """Creates a principal with `envseal principals create`; returns its ARN, credentials and client."""

    def make(name: str, admin: bool = False) -> Principal:
        path = server.workdir / f"{name}.credentials"
        # A namesake's file, left by `principals delete` (it was written outside the key store):
        # `principals create` never overwrites a file.
        path.unlink(missing_ok=True)
        args = ["principals", "create", name, "--credentials", str(path), "--region", REGION, "--account-id", ACCOUNT_ID]
        if admin:
            args.append("--admin")
        result = server.cli(*args)
        credentials = Credentials.read(path)
        server.remember_secret(credentials.secret_access_key)
        assert_not_contained(result.stdout + result.stderr, credentials.secret_access_key, "principals create output")
        match = re.search(r"arn:aws:iam::\d{12}:user/\S+", result.stdout)
        arn = match.group(0) if match else f"arn:aws:iam::{ACCOUNT_ID}:user/{name}"
        return Principal(name=name, arn=arn, credentials=credentials, client=server.client(credentials))

    return make


def run_tool(
    command: list[str], env: dict[str, str], secret_stdout: bool = False, check: bool = True,
    input_bytes: Optional[bytes] = None, cwd: Optional[Path] = None, timeout: float = 120,
) -> subprocess.CompletedProcess:
    """Runs a client (aws, sops, …). On failure shows its stderr, and its stdout unless that may hold a secret."""
    result = subprocess.run(
        command, env=env, capture_output=True, timeout=timeout, input=input_bytes,
        stdin=None if input_bytes is not None else subprocess.DEVNULL, cwd=cwd,
    )
    if check and result.returncode != 0:
        shown_stdout = "(not shown: it may hold a secret)" if secret_stdout else result.stdout.decode(errors="replace")
        raise AssertionError(
            f"{' '.join(command[:4])} … exited {result.returncode}\nstderr: {result.stderr.decode(errors='replace')}\n"
            f"stdout: {shown_stdout}"
        )
    return result


def tool_path(name: str) -> str:
    """A console script installed next to this Python (pip's bin folder), or on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: run bash scripts/integration-deps.sh", pytrace=False)
    return found


def client_env(home: Path, **extra: str) -> dict[str, str]:
    """A minimal environment for a client process: PATH, HOME in ``home``, no AWS settings but ``extra``."""
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "AWS_CONFIG_FILE": str(home / "no-aws-config"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_PAGER": "",
    }
    for name in ("PYENV_ROOT", "PYENV_VERSION", "VIRTUAL_ENV", "TMPDIR"):
        if name in os.environ:
            env[name] = os.environ[name]
    env.update(extra)
    return env
