"""Attacks on sealed files, as someone who can edit a file in a pull request would make them,
against the real server and the CLI as a KMS client:

    AWS_ENDPOINT_URL_KMS=http://127.0.0.1:PORT envseal encrypt app.env --key KEY --context app=billing -o sealed.env
    printf 'LD_PRELOAD=./evil.so\\nPATH=./evil:/usr/bin:/bin\\n' >> sealed.env
    envseal verify | decrypt | get sealed.env …          # exit 51, naming LD_PRELOAD
    envseal exec --file sealed.env [--pristine --strict] -- CMD   # exit 51, CMD never runs

and likewise a file whose ENVSEAL header was removed (plain values: refused unless
--allow-unsealed; es1: values: always refused), and a genuine sealed file of another context or
key put in the place of the expected one (--expect-context, --expect-key).

Every command the attack targets must fail closed: the documented exit code, the variable or the
mismatch named on stderr, no secret on either stream, and the command given to exec never started
(it would leave a marker file).
"""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path
from typing import Iterator, Optional

import pytest

from conftest import REGION, EnvsealServer, SecretValues, assert_not_contained, client_env, envseal_binary

# Exit codes (docs/CLI.md).
TAMPERED, MALFORMED = 51, 65

EVIL_LINES = b"LD_PRELOAD=./evil.so\nPATH=./evil:/usr/bin:/bin\n"
CONTEXT = "app=billing"


class Attack:
    """The CLI as a KMS client of the module's server, in a private folder."""

    def __init__(self, server: EnvsealServer, folder: Path, values: SecretValues) -> None:
        self.server = server
        self.folder = folder
        self.values = values

    def env(self) -> dict[str, str]:
        return client_env(
            self.folder / "home",
            AWS_SHARED_CREDENTIALS_FILE=str(self.server.admin_credentials_path),
            AWS_ENDPOINT_URL_KMS=self.server.url,
            AWS_REGION=REGION,
        )

    def cli(self, *args: str, expect: int = 0, cwd: Optional[Path] = None) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [str(envseal_binary()), *args], env=self.env(), capture_output=True, timeout=60,
            stdin=subprocess.DEVNULL, cwd=cwd or self.folder,
        )
        stderr = result.stderr.decode(errors="replace")
        for value in self.values.values():
            assert_not_contained(result.stderr, value, f"stderr of envseal {args[0]}")
        if result.returncode != expect:
            raise AssertionError(f"envseal {' '.join(args[:3])} … exited {result.returncode}, expected {expect}: "
                                 f"{self.server.redact(stderr.strip())}")
        return result

    def seal(self, name: str, key: str, context: str = CONTEXT, plain: Optional[bytes] = None) -> Path:
        source = self.folder / f"{name}.plain.env"
        source.write_bytes(plain if plain is not None else self.plain_text())
        sealed = self.folder / name
        self.cli("encrypt", str(source), "--key", key, "--context", context, "-o", str(sealed))
        source.unlink()
        return sealed

    def plain_text(self) -> bytes:
        return b"".join(f"{name}={value}\n".encode() for name, value in self.values.items()) + b"LOG_LEVEL=info\n"

    def copy(self, path: Path, name: str, data: Optional[bytes] = None) -> Path:
        target = self.folder / name
        target.write_bytes(path.read_bytes() if data is None else data)
        return target


@pytest.fixture(scope="module")
def values() -> SecretValues:
    return SecretValues(API_TOKEN="tok_" + secrets.token_hex(16), DB_PASSWORD="pw-" + secrets.token_urlsafe(18))


@pytest.fixture(scope="module")
def attack(server: EnvsealServer, values: SecretValues, tmp_path_factory: pytest.TempPathFactory) -> Attack:
    return Attack(server, tmp_path_factory.mktemp("attack"), values)


@pytest.fixture(scope="module")
def keys(kms: object) -> dict[str, str]:
    """The app's key (with an alias) and a second key of the same account."""
    app = kms.create_key(Description="the app's key")["KeyMetadata"]
    kms.create_alias(AliasName="alias/attack-app", TargetKeyId=app["KeyId"])
    other = kms.create_key(Description="another app's key")["KeyMetadata"]
    kms.create_alias(AliasName="alias/attack-other", TargetKeyId=other["KeyId"])
    return {"arn": app["Arn"], "id": app["KeyId"], "alias": "alias/attack-app",
            "other_arn": other["Arn"], "other_id": other["KeyId"], "other_alias": "alias/attack-other"}


@pytest.fixture(scope="module")
def sealed(attack: Attack, keys: dict[str, str]) -> Path:
    return attack.seal("sealed.env", keys["arn"])


@pytest.fixture
def marker(attack: Attack) -> Iterator[Path]:
    """A file exec's command creates if it runs at all."""
    path = attack.folder / "command-ran"
    path.unlink(missing_ok=True)
    yield path
    path.unlink(missing_ok=True)


def exec_args(path: Path, marker: Path, *options: str) -> list[str]:
    return ["exec", "--file", str(path), *options, "--", "sh", "-c", f'touch "{marker}"']


def stripped_header(data: bytes) -> bytes:
    return b"".join(line for line in data.splitlines(keepends=True) if not line.startswith(b"ENVSEAL="))


# ---------------------------------------------------------------------------------------------
# Item 1: variables added to a sealed file

READERS = {
    "verify": lambda path, marker: ["verify", str(path)],
    "decrypt": lambda path, marker: ["decrypt", str(path)],
    "get": lambda path, marker: ["get", str(path), "API_TOKEN"],
    "exec": lambda path, marker: exec_args(path, marker),
    "exec --pristine --strict": lambda path, marker: exec_args(path, marker, "--pristine", "--strict"),
    "exec --redact": lambda path, marker: exec_args(path, marker, "--redact"),
    "exec --allow-unsealed": lambda path, marker: exec_args(path, marker, "--allow-unsealed"),
}


@pytest.mark.parametrize("reader", list(READERS))
def test_variables_appended_to_a_sealed_file_are_refused(attack: Attack, sealed: Path, marker: Path, reader: str) -> None:
    tampered = attack.copy(sealed, "appended.env", sealed.read_bytes() + EVIL_LINES)
    result = attack.cli(*READERS[reader](tampered, marker), expect=TAMPERED)
    stderr = result.stderr.decode()
    assert "LD_PRELOAD" in stderr, stderr
    assert "not in the header" in stderr, stderr
    assert result.stdout == b"", "nothing may be printed from a tampered file"
    assert not marker.exists(), "exec ran its command with a tampered file"


@pytest.mark.parametrize("line", [b"PATH=./evil:/usr/bin:/bin\n", b"LD_PRELOAD=./evil.so\n", b"NODE_OPTIONS=--require ./evil.js\n"])
def test_each_added_variable_is_named(attack: Attack, sealed: Path, marker: Path, line: bytes) -> None:
    name = line.split(b"=")[0].decode()
    # Inserted above the header, where a reviewer would least expect it.
    data = sealed.read_bytes()
    at = data.index(b"ENVSEAL=")
    tampered = attack.copy(sealed, "inserted.env", data[:at] + line + data[at:])
    for args in (["verify", str(tampered)], exec_args(tampered, marker, "--pristine", "--strict")):
        result = attack.cli(*args, expect=TAMPERED)
        assert f"variable {name} is not in the header" in result.stderr.decode()
    assert not marker.exists()


def test_the_genuine_file_still_runs(attack: Attack, sealed: Path, marker: Path) -> None:
    attack.cli("verify", str(sealed))
    attack.cli(*exec_args(sealed, marker, "--pristine", "--strict"))
    assert marker.exists()


# ---------------------------------------------------------------------------------------------
# Item 2: the header removed


def test_a_stripped_header_with_plain_values_is_refused_unless_allowed(attack: Attack, sealed: Path, marker: Path) -> None:
    forged = b"API_TOKEN=attacker-token\nDB_PASSWORD=attacker-password\nLD_PRELOAD=./evil.so\n"
    unsealed = attack.copy(sealed, "stripped-plain.env", forged)
    for options in ((), ("--redact",), ("--pristine",)):
        result = attack.cli(*exec_args(unsealed, marker, *options), expect=MALFORMED)
        assert "no ENVSEAL header" in result.stderr.decode()
        assert "--allow-unsealed" in result.stderr.decode(), "the hint names the way out"
        assert not marker.exists()
    # --strict refuses it even when unsealed input is allowed.
    attack.cli(*exec_args(unsealed, marker, "--allow-unsealed", "--strict"), expect=MALFORMED)
    assert not marker.exists()
    # Asked for explicitly, the plain file is what the command gets.
    result = attack.cli("exec", "--file", str(unsealed), "--allow-unsealed", "--pristine", "--", "sh", "-c", 'printf %s "$API_TOKEN"')
    assert result.stdout == b"attacker-token"


@pytest.mark.parametrize("options", [(), ("--allow-unsealed",), ("--allow-unsealed", "--redact")])
def test_a_stripped_header_with_sealed_values_is_always_refused(attack: Attack, sealed: Path, marker: Path,
                                                                options: tuple[str, ...]) -> None:
    stripped = attack.copy(sealed, "stripped-sealed.env", stripped_header(sealed.read_bytes()))
    result = attack.cli(*exec_args(stripped, marker, *options), expect=TAMPERED)
    stderr = result.stderr.decode()
    assert "API_TOKEN" in stderr and "no ENVSEAL header" in stderr, stderr
    assert not marker.exists(), "exec handed ciphertext to its command as if it were the value"


def test_the_other_readers_refuse_a_stripped_header(attack: Attack, sealed: Path) -> None:
    stripped = attack.copy(sealed, "stripped-sealed.env", stripped_header(sealed.read_bytes()))
    for args in (["verify", str(stripped)], ["decrypt", str(stripped)], ["get", str(stripped), "API_TOKEN"]):
        result = attack.cli(*args, expect=TAMPERED)
        stderr = result.stderr.decode()
        assert "API_TOKEN" in stderr and "no ENVSEAL header" in stderr, stderr
        assert result.stdout == b""


# ---------------------------------------------------------------------------------------------
# Item 3: another sealed file in the expected one's place


def test_a_file_of_another_context_is_refused_under_expect_context(attack: Attack, sealed: Path, keys: dict[str, str],
                                                                   marker: Path) -> None:
    foreign = attack.seal("payroll.env", keys["arn"], context="app=payroll")
    attack.cli("verify", str(foreign))  # genuine and intact: only the pin can tell
    for options in (("--expect-context", CONTEXT), ("--expect-context", CONTEXT, "--pristine", "--strict")):
        result = attack.cli(*exec_args(foreign, marker, *options), expect=TAMPERED)
        stderr = result.stderr.decode()
        assert "app" in stderr and "payroll" in stderr and "billing" in stderr, stderr
        assert not marker.exists()
    # The context must match exactly: a pin on a subset or a superset is refused too.
    two = attack.seal("two.env", keys["arn"], context="app=billing")
    attack.cli(*exec_args(two, marker, "--expect-context", CONTEXT, "--expect-context", "stage=prod"), expect=TAMPERED)
    assert not marker.exists()
    attack.cli(*exec_args(sealed, marker, "--expect-context", CONTEXT))
    assert marker.exists()


@pytest.mark.parametrize("pin", ["arn", "id", "alias"])
def test_a_file_of_another_key_is_refused_under_expect_key(attack: Attack, sealed: Path, keys: dict[str, str],
                                                           marker: Path, pin: str) -> None:
    foreign = attack.seal(f"other-key-{pin}.env", keys["other_arn"])
    result = attack.cli(*exec_args(foreign, marker, "--expect-key", keys[pin], "--expect-context", CONTEXT), expect=TAMPERED)
    assert keys[pin] in result.stderr.decode()
    assert not marker.exists()
    attack.cli(*exec_args(sealed, marker, "--expect-key", keys[pin]))
    assert marker.exists()


def test_expectations_need_a_sealed_file(attack: Attack, marker: Path) -> None:
    unsealed = attack.folder / "unsealed.env"
    unsealed.write_bytes(b"LOG_LEVEL=info\n")
    attack.cli(*exec_args(unsealed, marker, "--allow-unsealed", "--expect-context", CONTEXT), expect=MALFORMED)
    assert not marker.exists()


def test_the_rollback_limit_that_remains(attack: Attack, keys: dict[str, str], marker: Path) -> None:
    """An older sealed file of the same context and key is genuine: the pins cannot tell it from
    the current one (docs/THREAT_MODEL.md says so). This test keeps that statement honest."""
    older = attack.seal("older.env", keys["arn"], plain=b"API_TOKEN=revoked-token-0001\n")
    attack.cli(*exec_args(older, marker, "--expect-context", CONTEXT, "--expect-key", keys["arn"]))
    assert marker.exists()
