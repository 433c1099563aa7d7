"""The envseal CLI as a KMS client, black box, against two key services: envseal's own server and
moto's KMS server (``python -m moto.server``), which knows nothing of envseal:

    AWS_SHARED_CREDENTIALS_FILE=admin.credentials AWS_ENDPOINT_URL_KMS=http://127.0.0.1:PORT \\
      envseal keys create --alias alias/billing-app-XXXX --output json
    ... envseal encrypt app.env --key alias/billing-app-XXXX --except LOG_LEVEL -o app.sealed.env
    ... envseal verify --output json app.sealed.env
    ... envseal get app.sealed.env API_TOKEN --no-newline
    ... envseal decrypt app.sealed.env -o app.env
    ... printf '%s\\n' "$VALUE" | envseal set app.sealed.env DB_PASSWORD
    ... envseal unset | rotate | rewrap --key alias/second-XXXX app.sealed.env
    ... envseal encrypt app.env --key alias/billing-app-XXXX --mode lambda --function billing-fn -o lambda.env
    ... envseal keys disable | enable | schedule-deletion --days 7 | cancel-deletion KEY

Every test runs once per key service (``[envseal]``, ``[moto]``); principals and key policies are
envseal's own, so those tests run on its server only. Each run of the CLI gets a minimal
environment (``client_env``: a private HOME, AWS_CONFIG_FILE in an empty folder, no AWS variable
but those the test sets) and a working folder in which an embedded ``KeyStore`` must never appear:
that would mean the CLI ignored the endpoint.

Secrets never reach the output: values are random, compared with ``assert_same_secret``, and every
run of the CLI is checked for any of them (and any secret access key) in its stderr, and in its
stdout unless printing a value is its job. A failing run shows its stderr with those redacted, and
the end of the key service's log.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Iterator, Optional

import pytest
from botocore.exceptions import ClientError

from conftest import (
    REGION,
    Credentials,
    SecretValues,
    assert_not_contained,
    assert_same_secret,
    client_env,
    envseal_binary,
    free_port,
    kms_client,
)

# Exit codes (docs/CLI.md, `envseal --help`).
TAMPERED, WRONG_KEY_OR_CONTEXT, KEY_UNUSABLE = 51, 52, 53
UNAVAILABLE, ACCESS_DENIED, NOT_CONFIGURED = 69, 77, 78

SEALED_NAMES = ("API_TOKEN", "DB_PASSWORD", "PEM", "GREETING", "EMPTY")
COVERED_NAMES = ("LOG_LEVEL",)
# Lambda mode seals a value with one KMS Encrypt each, and KMS refuses an empty plaintext.
LAMBDA_NAMES = ("API_TOKEN", "DB_PASSWORD", "PEM", "GREETING")
FUNCTION = "billing-fn"
MOTO_READY_DEADLINE_SECONDS = 30.0
UNAVAILABLE_DEADLINE_SECONDS = 5.0


# ---------------------------------------------------------------------------------------------
# moto's KMS server


@dataclasses.dataclass
class MotoServer:
    url: str
    process: subprocess.Popen
    log_path: Path

    def log_tail(self, lines: int = 25) -> str:
        try:
            tail = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            tail = []
        return "--- moto server log (last %d lines) ---\n%s" % (len(tail), "\n".join(tail))


def _stop(process: Optional[subprocess.Popen]) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_for_moto(url: str, process: subprocess.Popen) -> Optional[str]:
    deadline = time.monotonic() + MOTO_READY_DEADLINE_SECONDS
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return f"it exited with status {process.returncode}"
        try:
            with urllib.request.urlopen(url + "/moto-api/", timeout=2) as response:
                if response.status == 200:
                    return None
                last = f"/moto-api/ answered {response.status}"
        except urllib.error.HTTPError as error:
            last = f"/moto-api/ answered {error.code}"
        except OSError as error:
            last = f"/moto-api/: {error}"
        time.sleep(0.1)
    return f"not ready within {MOTO_READY_DEADLINE_SECONDS:.0f} s ({last})"


@pytest.fixture(scope="module")
def moto_server() -> Iterator[MotoServer]:
    """`python -m moto.server` on a free port of 127.0.0.1, stopped with SIGTERM at the end."""
    for module in ("moto.server", "flask", "flask_cors"):
        if importlib.util.find_spec(module.split(".")[0]) is None:
            pytest.fail(f"{module} is missing: run bash scripts/integration-deps.sh (moto[server])", pytrace=False)
    workdir = Path(tempfile.mkdtemp(prefix="envseal-it-moto-"))
    log_path = workdir / "moto.log"
    process: Optional[subprocess.Popen] = None
    try:
        with open(log_path, "ab") as log:
            failure = "not started"
            for _ in range(3):  # the free port may be taken between our probe and moto's bind
                url = f"http://127.0.0.1:{free_port()}"
                process = subprocess.Popen(
                    [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", url.rsplit(":", 1)[1]],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                )
                failure = _wait_for_moto(url, process)
                if failure is None:
                    break
                _stop(process)
            if failure is not None:
                tail = MotoServer(url, process, log_path).log_tail()
                pytest.fail(f"moto's server did not get ready: {failure}\n{tail}", pytrace=False)
            yield MotoServer(url, process, log_path)
    finally:
        _stop(process)
        shutil.rmtree(workdir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# A key service and the CLI pointed at it


@dataclasses.dataclass
class KeyService:
    """One key service, the admin's credentials file for it, and the CLI configured to use it."""

    name: str
    url: str
    workdir: Path
    credentials: Credentials
    kms: object = dataclasses.field(repr=False)
    checks_signatures: bool
    log_tail: Callable[[], str] = dataclasses.field(repr=False)
    secrets: list[str] = dataclasses.field(default_factory=list, repr=False)

    @property
    def home(self) -> Path:
        return self.workdir / "home"

    @property
    def cwd(self) -> Path:
        return self.workdir / "cwd"

    def env(self, **settings: Optional[str]) -> dict[str, str]:
        """The CLI's environment: the admin's credentials file and the endpoint, changed by ``settings``
        (None removes a variable)."""
        merged: dict[str, Optional[str]] = {
            "AWS_SHARED_CREDENTIALS_FILE": str(self.credentials.path),
            "AWS_ENDPOINT_URL_KMS": self.url,
        }
        merged.update(settings)
        return client_env(self.home, **{name: value for name, value in merged.items() if value is not None})

    def redact(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "<secret>")
        return re.sub(r"(?i)(aws_secret_access_key\s*[=:]\s*)\S+", r"\1<secret>", text)

    def cli(
        self, *args: str, expect: Optional[int] = 0, env: Optional[dict[str, str]] = None,
        stdin: Optional[bytes] = None, secret_stdout: bool = False,
    ) -> subprocess.CompletedProcess:
        """Runs `envseal ARGS`; fails unless it exits ``expect`` (None: any status), or if a secret
        shows up where it must not."""
        __tracebackhide__ = True
        self.cwd.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [str(envseal_binary()), *args], env=env if env is not None else self.env(), cwd=self.cwd,
            input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL, capture_output=True, timeout=60,
        )
        command = f"envseal {' '.join(args[:2])}"
        for secret in self.secrets:
            assert_not_contained(result.stderr, secret, f"the stderr of `{command}` ({self.name})")
            if not secret_stdout:
                assert_not_contained(result.stdout, secret, f"the stdout of `{command}` ({self.name})")
        stderr = self.redact(result.stderr.decode(errors="replace")).strip()
        if expect is not None and result.returncode != expect:
            stdout = "(not shown: it may hold a secret)" if secret_stdout else self.redact(
                result.stdout.decode(errors="replace")).strip()
            raise AssertionError(
                f"`envseal {' '.join(args)}` against {self.name} exited {result.returncode}, expected {expect}\n"
                f"stderr: {stderr}\nstdout: {stdout}\n{self.log_tail()}"
            )
        if expect:
            assert stderr.startswith("envseal: error: "), \
                f"`{command}` exited {expect} without an `envseal: error:` line"
        assert not (self.cwd / "KeyStore").exists(), f"`{command}` used an embedded key store instead of {self.name}"
        return result

    def create_key(self, alias: Optional[str] = None) -> dict:
        """`envseal keys create [--alias ALIAS] --output json`; returns the KeyMetadata."""
        args = ["keys", "create", "--description", "envseal CLI integration test", "--output", "json"]
        if alias:
            args += ["--alias", alias]
        return json.loads(self.cli(*args).stdout)["KeyMetadata"]

    def verify_json(self, path: Path) -> dict:
        return json.loads(self.cli("verify", "--output", "json", str(path)).stdout)


def write_credentials(path: Path, profiles: dict[str, dict[str, str]]) -> Path:
    path.write_text("".join(
        f"[{profile}]\n" + "".join(f"{name} = {value}\n" for name, value in settings.items())
        for profile, settings in profiles.items()
    ))
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def values() -> SecretValues:
    """The plain file's values: random, so that any of them found in an output is a leak."""
    pem_lines = [base64.b64encode(os.urandom(48)).decode() for _ in range(2)]
    return SecretValues({
        "API_TOKEN": "sk_live_" + secrets.token_hex(20),
        "DB_PASSWORD": f'p@ss "{secrets.token_hex(8)}" #not-a-comment',
        "PEM": "-----BEGIN PRIVATE KEY-----\n" + "\n".join(pem_lines) + "\n-----END PRIVATE KEY-----",
        "GREETING": f"héllo wörld ✓ {secrets.token_hex(6)} 🔐",
        "EMPTY": "",
        "LOG_LEVEL": "debug",
    })


def secret_markers(values: SecretValues) -> list[str]:
    """The random parts of the values: none may appear in any output."""
    markers = [values["API_TOKEN"], re.search(r'"(\w+)"', values["DB_PASSWORD"]).group(1)]
    markers += values["PEM"].splitlines()[1:-1]
    markers.append(values["GREETING"].split()[-2])
    return markers


def plain_dotenv(values: SecretValues) -> bytes:
    """A dotenv file with comments, a blank line, export, escaped quotes, a multi-line value,
    Unicode, an empty value and a trailing comment."""
    password = values["DB_PASSWORD"].replace("\\", "\\\\").replace('"', '\\"')
    return (
        "# billing service settings\n"
        "# comments and blank lines stay as they are\n"
        "\n"
        f"export API_TOKEN={values['API_TOKEN']}\n"
        f'DB_PASSWORD="{password}"   # the database\n'
        f'PEM="{values["PEM"]}"\n'
        f"GREETING='{values['GREETING']}'\n"
        "EMPTY=\n"
        f"LOG_LEVEL={values['LOG_LEVEL']} # not secret, covered by the MAC\n"
    ).encode()


@pytest.fixture(scope="module", params=["envseal", "moto"])
def service(request: pytest.FixtureRequest, values: SecretValues) -> KeyService:
    if request.param == "envseal":
        server = request.getfixturevalue("server")
        admin = server.admin_credentials()
        instance = KeyService(
            name="envseal", url=server.url, workdir=server.workdir / "cli-remote", credentials=admin,
            kms=server.client(admin), checks_signatures=True, log_tail=server.stderr_tail,
        )
    else:
        moto = request.getfixturevalue("moto_server")
        workdir = moto.log_path.parent / "cli-remote"
        workdir.mkdir(exist_ok=True)
        path = write_credentials(workdir / "moto.credentials", {"default": {
            "aws_access_key_id": "AKIA" + secrets.token_hex(8).upper(),
            "aws_secret_access_key": secrets.token_urlsafe(30),
            "region": REGION,
        }})
        admin = Credentials.read(path)
        instance = KeyService(
            name="moto", url=moto.url, workdir=workdir, credentials=admin, kms=kms_client(moto.url, admin),
            checks_signatures=False, log_tail=moto.log_tail,
        )
    instance.workdir.mkdir(parents=True, exist_ok=True)
    instance.secrets += [admin.secret_access_key, *secret_markers(values)]
    return instance


@pytest.fixture(scope="module")
def plain(service: KeyService, values: SecretValues) -> Path:
    path = service.workdir / "app.env"
    path.write_bytes(plain_dotenv(values))
    return path


@pytest.fixture(scope="module")
def app_key(service: KeyService) -> dict:
    alias = f"alias/billing-app-{secrets.token_hex(3)}"
    return {**service.create_key(alias), "Alias": alias}


@pytest.fixture(scope="module")
def sealed(service: KeyService, plain: Path, app_key: dict) -> Path:
    """The plain file sealed in envelope mode; tests copy it before changing it."""
    path = service.workdir / "app.sealed.env"
    service.cli("encrypt", str(plain), "--key", app_key["Alias"], "--except", "LOG_LEVEL", "-o", str(path))
    return path


@pytest.fixture(scope="module")
def lambda_sealed(service: KeyService, plain: Path, app_key: dict) -> Path:
    path = service.workdir / "lambda.env"
    service.cli("encrypt", str(plain), "--key", app_key["Alias"], "--mode", "lambda", "--function", FUNCTION,
                "--except", "LOG_LEVEL", "-o", str(path))
    return path


# ---------------------------------------------------------------------------------------------
# Reading sealed files (every value on one line)

ASSIGNMENT = re.compile(rb"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*([\"'`]?)([^\"'`\s#]*)\2")


def line_name(line: bytes) -> Optional[str]:
    match = ASSIGNMENT.match(line)
    return match.group(1).decode() if match else None


def sealed_texts(data: bytes) -> dict[str, bytes]:
    """Name → value as written (quotes and comment removed) of a file whose values are one line each."""
    texts = {}
    for line in data.splitlines():
        match = ASSIGNMENT.match(line)
        if match:
            texts[match.group(1).decode()] = match.group(3)
    return texts


def changed_lines(before: bytes, after: bytes) -> list[str]:
    """The names (or line numbers) of the lines that differ; both files must have as many lines."""
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    assert len(old) == len(new), f"the file went from {len(old)} to {len(new)} lines"
    return sorted(line_name(a) or f"line {i + 1}" for i, (a, b) in enumerate(zip(old, new)) if a != b)


def copy_of(path: Path, folder: Path, name: str = "work.env") -> Path:
    target = folder / name
    shutil.copyfile(path, target)
    return target


def assert_decrypts_to(service: KeyService, path: Path, expected: bytes, folder: Path, *options: str) -> None:
    """`envseal decrypt PATH -o OUT`: OUT is new, mode 0600, and holds exactly ``expected``."""
    __tracebackhide__ = True
    out = folder / f"decrypted-{secrets.token_hex(3)}.env"
    service.cli("decrypt", str(path), *options, "-o", str(out))
    mode = stat.S_IMODE(out.stat().st_mode)
    assert mode == 0o600, f"decrypt -o created its output with mode {mode:o}, not 600"
    assert_same_secret(out.read_bytes(), expected, f"the decrypted file ({service.name})")
    out.unlink()


def assert_names(stderr: bytes, names: tuple[str, ...], what: str) -> None:
    __tracebackhide__ = True
    text = stderr.decode(errors="replace")
    assert any(re.search(rf"\b{re.escape(name)}\b", text) for name in names), \
        f"{what}: the message names none of {names}"


# ---------------------------------------------------------------------------------------------
# Keys and envelope mode


def test_keys_create_with_an_alias(service: KeyService, app_key: dict) -> None:
    described = service.cli("keys", "describe", app_key["Alias"]).stdout.decode()
    assert app_key["Arn"] in described, "keys describe ALIAS does not show the key's ARN"
    assert app_key["Alias"] in service.cli("keys", "list").stdout.decode(), "keys list does not show the alias"
    aliases = service.kms.list_aliases(KeyId=app_key["KeyId"])["Aliases"]
    assert [alias["AliasName"] for alias in aliases] == [app_key["Alias"]], "the service has not got the alias"


def test_encrypt_seals_the_values_and_keeps_the_rest(service: KeyService, plain: Path, sealed: Path) -> None:
    data = sealed.read_bytes()
    for secret in service.secrets:
        assert_not_contained(data, secret, "the sealed file")
    lines = data.splitlines(keepends=True)
    plain_lines = plain.read_bytes().splitlines(keepends=True)
    for kept in (plain_lines[0], plain_lines[1], plain_lines[2], plain_lines[-1]):  # comments, blank, LOG_LEVEL
        assert kept in lines, f"a plain line changed in the sealed file: {kept!r}"
    texts = sealed_texts(data)
    for name in SEALED_NAMES:
        assert texts.get(name, b"").startswith(b"es1:"), f"{name} is not sealed"
    assert lines[3].startswith(b"export API_TOKEN=es1:"), "the export prefix was lost"
    password = next(line for line in lines if line.startswith(b"DB_PASSWORD="))
    assert password.startswith(b'DB_PASSWORD="es1:') and password.endswith(b'"   # the database\n'), \
        "DB_PASSWORD lost its quotes or its comment"
    assert lines[-1].startswith(b"ENVSEAL="), "the last line is not the ENVSEAL header"


def test_verify_lists_the_sealed_and_covered_variables(service: KeyService, sealed: Path, app_key: dict) -> None:
    report = service.verify_json(sealed)
    assert report["intact"] is True
    assert report["keyArn"] == app_key["Arn"], f"verify names key {report['keyArn']}"
    assert sorted(report["sealed"]) == sorted(SEALED_NAMES)
    assert report["covered"] == list(COVERED_NAMES)
    service.cli("verify", str(sealed))


def test_get_prints_each_value(service: KeyService, sealed: Path, values: SecretValues) -> None:
    for name in (*SEALED_NAMES, *COVERED_NAMES):
        out = service.cli("get", str(sealed), name, secret_stdout=True).stdout
        assert_same_secret(out, values[name].encode() + b"\n", f"get {name} ({service.name})")
    out = service.cli("get", str(sealed), "PEM", "--no-newline", secret_stdout=True).stdout
    assert_same_secret(out, values["PEM"].encode(), f"get PEM --no-newline ({service.name})")


def test_decrypt_writes_the_plain_file_with_mode_0600(service: KeyService, sealed: Path, plain: Path,
                                                      tmp_path: Path) -> None:
    assert_decrypts_to(service, sealed, plain.read_bytes(), tmp_path)


def test_set_from_stdin_changes_only_that_variable_and_the_header(
    service: KeyService, sealed: Path, values: SecretValues, tmp_path: Path,
) -> None:
    path = copy_of(sealed, tmp_path)
    marker = secrets.token_hex(12)
    service.secrets.append(marker)
    new_value = f'n3w "{marker}" $HOME\nsecond line'
    service.cli("set", str(path), "DB_PASSWORD", stdin=new_value.encode() + b"\n")  # one trailing newline goes
    assert changed_lines(sealed.read_bytes(), path.read_bytes()) == ["DB_PASSWORD", "ENVSEAL"]
    line = next(line for line in path.read_bytes().splitlines(keepends=True) if line.startswith(b"DB_PASSWORD="))
    assert line.startswith(b'DB_PASSWORD="es1:') and line.endswith(b'"   # the database\n'), \
        "set did not keep the line's quotes and comment"
    out = service.cli("get", str(path), "DB_PASSWORD", "--no-newline", secret_stdout=True).stdout
    assert_same_secret(out, new_value.encode(), f"DB_PASSWORD after set ({service.name})")
    for name in ("API_TOKEN", "PEM", "GREETING"):
        out = service.cli("get", str(path), name, "--no-newline", secret_stdout=True).stdout
        assert_same_secret(out, values[name].encode(), f"{name} after setting DB_PASSWORD ({service.name})")


def test_unset_removes_the_variable(service: KeyService, sealed: Path, plain: Path, tmp_path: Path) -> None:
    path = copy_of(sealed, tmp_path)
    service.cli("unset", str(path), "GREETING")
    before = [line for line in sealed.read_bytes().splitlines(keepends=True) if not line.startswith(b"GREETING=")]
    assert changed_lines(b"".join(before), path.read_bytes()) == ["ENVSEAL"]
    assert "GREETING" not in service.verify_json(path)["sealed"]
    result = service.cli("get", str(path), "GREETING", expect=None, secret_stdout=True)
    assert result.returncode != 0 and result.stdout == b"", f"get of an unset variable exited {result.returncode}"
    plain_lines = plain.read_bytes().splitlines(keepends=True)
    expected = b"".join(line for line in plain_lines if not line.startswith(b"GREETING="))
    assert_decrypts_to(service, path, expected, tmp_path)


def test_rotate_seals_every_value_again(service: KeyService, sealed: Path, plain: Path, app_key: dict,
                                        tmp_path: Path) -> None:
    path = copy_of(sealed, tmp_path)
    service.cli("rotate", str(path))
    before, after = sealed_texts(sealed.read_bytes()), sealed_texts(path.read_bytes())
    kept = [name for name in SEALED_NAMES if before[name] == after[name]]
    assert not kept, f"rotate kept the sealed values of {kept}"
    assert changed_lines(sealed.read_bytes(), path.read_bytes()) == sorted([*SEALED_NAMES, "ENVSEAL"])
    assert service.verify_json(path)["keyArn"] == app_key["Arn"]
    assert_decrypts_to(service, path, plain.read_bytes(), tmp_path)


def test_rewrap_to_a_second_key_keeps_the_values(service: KeyService, sealed: Path, plain: Path,
                                                 tmp_path: Path) -> None:
    alias = f"alias/second-{secrets.token_hex(3)}"
    second = service.create_key(alias)
    path = copy_of(sealed, tmp_path)
    service.cli("rewrap", str(path), "--key", alias)
    assert changed_lines(sealed.read_bytes(), path.read_bytes()) == ["ENVSEAL"]
    assert service.verify_json(path)["keyArn"] == second["Arn"], "the data key is not wrapped by the second key"
    assert_decrypts_to(service, path, plain.read_bytes(), tmp_path)


# ---------------------------------------------------------------------------------------------
# Lambda mode


def test_lambda_mode_round_trip(service: KeyService, lambda_sealed: Path, plain: Path, tmp_path: Path) -> None:
    data = lambda_sealed.read_bytes()
    for secret in service.secrets:
        assert_not_contained(data, secret, "the lambda-mode file")
    assert b"ENVSEAL=" not in data and b"es1:" not in data, "a lambda-mode file has envelope parts"
    texts = sealed_texts(data)
    assert texts["LOG_LEVEL"] == b"debug", "LOG_LEVEL was sealed despite --except"
    assert_decrypts_to(service, lambda_sealed, plain.read_bytes(), tmp_path,
                       "--mode", "lambda", "--function", FUNCTION, "--except", "LOG_LEVEL")


def test_lambda_mode_with_another_function_name_is_52(service: KeyService, lambda_sealed: Path,
                                                       tmp_path: Path) -> None:
    out = tmp_path / "out.env"
    result = service.cli("decrypt", str(lambda_sealed), "--mode", "lambda", "--function", "other-fn",
                         "--except", "LOG_LEVEL", "-o", str(out), expect=WRONG_KEY_OR_CONTEXT)
    assert_names(result.stderr, LAMBDA_NAMES, "decrypt with another function name")
    assert not out.exists(), "decrypt wrote a file although a value did not open"


def test_lambda_values_are_what_the_console_helper_makes(service: KeyService, lambda_sealed: Path,
                                                         values: SecretValues, app_key: dict) -> None:
    """Each value is base64 of a KMS ciphertext under {"LambdaFunctionName": NAME}, as the Lambda
    console's encryption helper makes: a function decrypts it with boto3 alone."""
    texts = sealed_texts(lambda_sealed.read_bytes())
    for name in LAMBDA_NAMES:
        try:
            blob = base64.b64decode(texts[name], validate=True)
        except binascii.Error:
            raise AssertionError(f"{name} is not standard base64") from None
        answer = service.kms.decrypt(CiphertextBlob=blob, EncryptionContext={"LambdaFunctionName": FUNCTION})
        assert_same_secret(answer["Plaintext"], values[name].encode(), f"{name} decrypted by boto3 ({service.name})")
        assert answer["KeyId"] == app_key["Arn"], f"{name} is sealed under {answer['KeyId']}"
        with pytest.raises(ClientError) as raised:
            service.kms.decrypt(CiphertextBlob=blob, EncryptionContext={"LambdaFunctionName": "other-fn"})
        assert raised.value.response["Error"]["Code"] == "InvalidCiphertextException"


# ---------------------------------------------------------------------------------------------
# Keys that cannot be used


def assert_key_unusable(service: KeyService, path: Path, plain: Path, key_id: str, tmp_path: Path) -> None:
    __tracebackhide__ = True
    out = tmp_path / "out.env"
    service.cli("verify", str(path), expect=KEY_UNUSABLE)
    result = service.cli("get", str(path), "API_TOKEN", expect=KEY_UNUSABLE, secret_stdout=True)
    assert result.stdout == b"", "get printed something for a key it cannot use"
    service.cli("decrypt", str(path), "-o", str(out), expect=KEY_UNUSABLE)
    assert not out.exists(), "decrypt wrote a file with a key it cannot use"
    service.cli("encrypt", str(plain), "--key", key_id, "-o", str(out), expect=KEY_UNUSABLE)
    assert not out.exists(), "encrypt wrote a file with a key it cannot use"


# Only envseal's server: moto (5.x) records a key's state but does not enforce it in Decrypt or
# GenerateDataKey, so a disabled key still works there; the state commands are tested on both.
only_envseal = pytest.mark.parametrize("service", ["envseal"], indirect=True)


@only_envseal
def test_disabled_key_is_53(service: KeyService, plain: Path, tmp_path: Path) -> None:
    key = service.create_key()
    path = tmp_path / "sealed.env"
    service.cli("encrypt", str(plain), "--key", key["KeyId"], "-o", str(path))
    service.cli("keys", "disable", key["KeyId"])
    assert service.kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    assert_key_unusable(service, path, plain, key["KeyId"], tmp_path)
    service.cli("keys", "enable", key["KeyId"])
    service.cli("verify", str(path))


@only_envseal
def test_key_pending_deletion_is_53(service: KeyService, plain: Path, tmp_path: Path) -> None:
    key = service.create_key()
    path = tmp_path / "sealed.env"
    service.cli("encrypt", str(plain), "--key", key["KeyId"], "-o", str(path))
    service.cli("keys", "schedule-deletion", key["KeyId"], "--days", "7")
    assert service.kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "PendingDeletion"
    assert_key_unusable(service, path, plain, key["KeyId"], tmp_path)
    service.cli("keys", "cancel-deletion", key["KeyId"])
    service.cli("keys", "enable", key["KeyId"])
    service.cli("verify", str(path))


def test_key_state_commands_take_an_alias(service: KeyService) -> None:
    alias = f"alias/states-{secrets.token_hex(3)}"
    key_id = service.create_key(alias)["KeyId"]

    def state() -> str:
        return service.kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"]

    service.cli("keys", "disable", alias)
    assert state() == "Disabled"
    service.cli("keys", "enable", alias)
    assert state() == "Enabled"
    service.cli("keys", "schedule-deletion", alias, "--days", "7")
    assert state() == "PendingDeletion"
    service.cli("keys", "cancel-deletion", alias)
    assert state() == "Disabled"


# ---------------------------------------------------------------------------------------------
# Tampering


def _edit_a_sealed_value_with_sed(path: Path) -> tuple[str, ...]:
    text = sealed_texts(path.read_bytes())["API_TOKEN"].decode()
    middle = len(text) // 2
    replacement = "A" if text[middle] != "A" else "B"
    # base64url and "es1:" need no escaping in a sed pattern
    expression = f"s/^export API_TOKEN={text[:middle]}./export API_TOKEN={text[:middle]}{replacement}/"
    subprocess.run(["sed", "-i", "-e", expression, str(path)], check=True, capture_output=True)
    return ("API_TOKEN",)


def _swap_two_sealed_values(path: Path) -> tuple[str, ...]:
    data = path.read_bytes()
    texts = sealed_texts(data)
    first, second = texts["DB_PASSWORD"], texts["GREETING"]
    path.write_bytes(data.replace(first, b"\0").replace(second, first).replace(b"\0", second))
    return ("DB_PASSWORD", "GREETING")


def _remove_a_sealed_line(path: Path) -> tuple[str, ...]:
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(line for line in lines if not line.startswith(b"GREETING=")))
    return ("GREETING",)


def _change_a_covered_plain_value(path: Path) -> tuple[str, ...]:
    path.write_bytes(path.read_bytes().replace(b"\nLOG_LEVEL=debug ", b"\nLOG_LEVEL=trace "))
    return ("LOG_LEVEL",)


@pytest.mark.parametrize("tamper", [
    _edit_a_sealed_value_with_sed, _swap_two_sealed_values, _remove_a_sealed_line, _change_a_covered_plain_value,
], ids=["sealed-value-edited", "two-values-swapped", "sealed-line-removed", "covered-value-changed"])
def test_tampered_file_is_51_naming_the_variable(service: KeyService, sealed: Path, tmp_path: Path,
                                                 tamper: Callable[[Path], tuple[str, ...]]) -> None:
    path = copy_of(sealed, tmp_path)
    names = tamper(path)
    assert path.read_bytes() != sealed.read_bytes(), "the tampering changed nothing"
    result = service.cli("verify", str(path), expect=TAMPERED)
    assert_names(result.stderr, names, "verify")
    out = tmp_path / "out.env"
    result = service.cli("decrypt", str(path), "-o", str(out), expect=TAMPERED)
    assert_names(result.stderr, names, "decrypt")
    assert not out.exists(), "decrypt wrote a tampered file"
    result = service.cli("get", str(path), "API_TOKEN", expect=TAMPERED, secret_stdout=True)
    assert result.stdout == b"", "get printed a value of a tampered file"


# ---------------------------------------------------------------------------------------------
# Reaching the service and credentials


def test_closed_port_is_69_within_seconds(service: KeyService, sealed: Path, plain: Path, app_key: dict,
                                          tmp_path: Path) -> None:
    env = service.env(AWS_ENDPOINT_URL_KMS=f"http://127.0.0.1:{free_port()}")
    encrypt = ["encrypt", str(plain), "--key", app_key["Alias"], "-o", str(tmp_path / "x")]
    for args in (["verify", str(sealed)], encrypt):
        started = time.monotonic()
        service.cli(*args, env=env, expect=UNAVAILABLE)
        seconds = time.monotonic() - started
        assert seconds < UNAVAILABLE_DEADLINE_SECONDS, f"`envseal {args[0]}` took {seconds:.1f} s to give up"


def test_no_credentials_is_78(service: KeyService, sealed: Path, plain: Path, app_key: dict,
                              tmp_path: Path) -> None:
    env = service.env(AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"), AWS_REGION=REGION)
    service.cli("verify", str(sealed), env=env, expect=NOT_CONFIGURED)
    service.cli("encrypt", str(plain), "--key", app_key["Alias"], "-o", str(tmp_path / "x"), env=env,
                expect=NOT_CONFIGURED)
    service.cli("keys", "list", env=env, expect=NOT_CONFIGURED)


def test_credentials_from_a_profile_of_the_shared_file(service: KeyService, sealed: Path, tmp_path: Path) -> None:
    admin = service.credentials
    wrong_secret = secrets.token_urlsafe(30)
    service.secrets.append(wrong_secret)
    path = write_credentials(tmp_path / "profiles.credentials", {
        "default": {"region": REGION},  # no keys: a CLI that ignores the profile finds none
        "other": {"aws_access_key_id": admin.access_key_id, "aws_secret_access_key": wrong_secret, "region": REGION},
        "ci": {"aws_access_key_id": admin.access_key_id, "aws_secret_access_key": admin.secret_access_key,
               "region": REGION},
    })
    service.cli("verify", str(sealed), env=service.env(AWS_SHARED_CREDENTIALS_FILE=str(path), AWS_PROFILE="ci"))
    service.cli("verify", str(sealed), "--profile", "ci", env=service.env(AWS_SHARED_CREDENTIALS_FILE=str(path)))
    service.cli("verify", str(sealed), env=service.env(AWS_SHARED_CREDENTIALS_FILE=str(path)), expect=NOT_CONFIGURED)
    if service.checks_signatures:
        service.cli("verify", str(sealed), env=service.env(AWS_SHARED_CREDENTIALS_FILE=str(path), AWS_PROFILE="other"),
                    expect=ACCESS_DENIED)


def test_credentials_from_environment_variables(service: KeyService, sealed: Path, tmp_path: Path) -> None:
    admin = service.credentials
    keys = {"AWS_ACCESS_KEY_ID": admin.access_key_id, "AWS_SECRET_ACCESS_KEY": admin.secret_access_key,
            "AWS_REGION": REGION}
    service.cli("verify", str(sealed), env=service.env(AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), **keys))
    # The variables come before the shared file, whose default profile here has a wrong secret.
    wrong_secret = secrets.token_urlsafe(30)
    service.secrets.append(wrong_secret)
    path = write_credentials(tmp_path / "stale.credentials", {"default": {
        "aws_access_key_id": admin.access_key_id, "aws_secret_access_key": wrong_secret, "region": REGION}})
    service.cli("verify", str(sealed), env=service.env(AWS_SHARED_CREDENTIALS_FILE=str(path), **keys))
    if service.checks_signatures:
        service.cli("verify", str(sealed), env=service.env(AWS_SHARED_CREDENTIALS_FILE=str(path)), expect=ACCESS_DENIED)


# ---------------------------------------------------------------------------------------------
# Principals and key policies (envseal's server only)

def new_principal(service: KeyService, make_principal: Callable, name: str):
    """A principal made with `envseal principals create`, once the server knows it."""
    principal = make_principal(f"{name}-{secrets.token_hex(3)}")
    service.secrets.append(principal.credentials.secret_access_key)
    deadline = time.monotonic() + 5
    while True:
        try:
            principal.client.list_keys(Limit=1)  # open to every principal of the account
            return principal
        except ClientError:
            if time.monotonic() > deadline:
                raise AssertionError(f"the server did not accept principal {principal.name} within 5 s") from None
            time.sleep(0.1)


@only_envseal
def test_principal_without_permission_is_77(service: KeyService, make_principal: Callable, sealed: Path,
                                            plain: Path, app_key: dict, tmp_path: Path) -> None:
    principal = new_principal(service, make_principal, "no-access")
    env = service.env(AWS_SHARED_CREDENTIALS_FILE=str(principal.credentials.path))
    out = tmp_path / "out.env"
    service.cli("verify", str(sealed), env=env, expect=ACCESS_DENIED)
    result = service.cli("get", str(sealed), "API_TOKEN", env=env, expect=ACCESS_DENIED, secret_stdout=True)
    assert result.stdout == b"", "get printed something without access to the key"
    service.cli("decrypt", str(sealed), "-o", str(out), env=env, expect=ACCESS_DENIED)
    service.cli("encrypt", str(plain), "--key", app_key["Arn"], "-o", str(out), env=env, expect=ACCESS_DENIED)
    assert not out.exists(), "a file was written without access to the key"


@only_envseal
def test_key_policy_allows_decrypt_only_with_its_encryption_context(
    service: KeyService, make_principal: Callable, plain: Path, values: SecretValues, tmp_path: Path,
) -> None:
    reader = new_principal(service, make_principal, "billing-reader")
    alias = f"alias/context-{secrets.token_hex(3)}"
    key = service.create_key(alias)
    policy = json.loads(service.kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
    policy["Statement"].append({
        "Sid": "BillingReaderDecryptsBillingOnly",
        "Effect": "Allow",
        "Principal": {"AWS": reader.arn},
        "Action": "kms:Decrypt",
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:EncryptionContext:app": "billing"}},
    })
    policy_file = tmp_path / "policy.json"
    policy_file.write_text(json.dumps(policy, indent=2))
    service.cli("keys", "policy", "put", alias, str(policy_file))
    stored = json.loads(service.kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
    assert "BillingReaderDecryptsBillingOnly" in [statement.get("Sid") for statement in stored["Statement"]]

    billing, payroll = tmp_path / "billing.env", tmp_path / "payroll.env"
    service.cli("encrypt", str(plain), "--key", alias, "--context", "app=billing", "-o", str(billing))
    service.cli("encrypt", str(plain), "--key", alias, "--context", "app=payroll", "-o", str(payroll))
    assert service.verify_json(billing)["context"] == {"app": "billing"}

    env = service.env(AWS_SHARED_CREDENTIALS_FILE=str(reader.credentials.path))
    service.cli("verify", str(billing), env=env)
    out = service.cli("get", str(billing), "API_TOKEN", "--no-newline", env=env, secret_stdout=True).stdout
    assert_same_secret(out, values["API_TOKEN"].encode(), "API_TOKEN read by the billing reader")
    service.cli("verify", str(payroll), env=env, expect=ACCESS_DENIED)
    out_file = tmp_path / "out.env"
    service.cli("decrypt", str(payroll), "-o", str(out_file), env=env, expect=ACCESS_DENIED)
    assert not out_file.exists(), "decrypt wrote a file the policy does not let the reader open"
    service.cli("encrypt", str(plain), "--key", alias, "--context", "app=billing", "-o", str(out_file), env=env,
                expect=ACCESS_DENIED)
