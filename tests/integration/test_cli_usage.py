"""The CLI as a new user meets it: a mistyped key store is not created, a half-done `keys create`
says what it did, usage errors read like every other error, and options mean what they say."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import pytest

from conftest import client_env, envseal_binary


def envseal(work: Path, *args: str, keystore: str = "ks", env: dict[str, str] | None = None,
            input_bytes: bytes | None = None) -> subprocess.CompletedProcess:
    command = [str(envseal_binary()), *args]
    if keystore:
        command += ["--keystore", str(work / keystore)]
    return subprocess.run(command, cwd=work, env=env or client_env(work / "home"), capture_output=True, timeout=120,
                          input=input_bytes, stdin=None if input_bytes is not None else subprocess.DEVNULL)


def text(result: subprocess.CompletedProcess) -> str:
    return result.stderr.decode(errors="replace")


@pytest.fixture
def sealed(tmp_path: Path) -> Path:
    (tmp_path / "app.env").write_text("DB_PASSWORD=correct-horse-battery\nMODE=prod\n")
    assert envseal(tmp_path, "keys", "create", "--alias", "alias/usage").returncode == 0
    result = envseal(tmp_path, "encrypt", "app.env", "--key", "alias/usage", "-o", "app.sealed")
    assert result.returncode == 0, text(result)
    return tmp_path / "app.sealed"


# Item 9: stores created by a typo


@pytest.mark.parametrize("command", [
    ["verify", "app.sealed"], ["decrypt", "app.sealed"], ["audit", "verify"], ["audit", "tail"],
    ["keys", "list"], ["principals", "list"], ["rotate", "app.sealed"],
])
def test_a_mistyped_keystore_is_refused_and_not_created(sealed: Path, command: list[str]) -> None:
    work = sealed.parent
    result = envseal(work, *command, keystore="ks-typo")
    assert result.returncode == 66, text(result)
    assert f"no key store at {work / 'ks-typo'}" in text(result)
    assert "envseal: hint:" in text(result)
    assert not (work / "ks-typo").exists(), "the mistyped store was created"


def test_commands_that_create_keys_or_principals_create_the_store(tmp_path: Path) -> None:
    result = envseal(tmp_path, "principals", "create", "ci", keystore="fresh-a")
    assert result.returncode == 0, text(result)
    assert (tmp_path / "fresh-a" / "keystore.sqlite").exists()
    result = envseal(tmp_path, "keys", "create", keystore="fresh-b")
    assert result.returncode == 0, text(result)
    assert (tmp_path / "fresh-b" / "keystore.sqlite").exists()


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root to run as another user")
def test_a_read_only_store_says_it_must_be_writable(sealed: Path) -> None:
    # A folder that user nobody can reach (pytest's own is 0700), with the store readable by all.
    shared = Path(tempfile.mkdtemp(prefix="envseal-readonly-"))
    try:
        shutil.copytree(sealed.parent / "ks", shared / "ks")
        for path in [shared, shared / "ks", *sorted((shared / "ks").iterdir())]:
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        result = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(envseal_binary()),
             "audit", "verify", "--keystore", str(shared / "ks")],
            cwd="/", env=client_env(shared / "home"), capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    finally:
        shutil.rmtree(shared, ignore_errors=True)
    assert result.returncode == 73, text(result)
    assert "must be writable" in text(result) and "envseal: hint:" in text(result)


# Item 10: half-done commands


@pytest.mark.parametrize("alias", ["app", "alias/", "alias/aws/mine", "alias/bad name", "alias/" + "x" * 260])
def test_keys_create_refuses_a_bad_alias_before_creating_a_key(tmp_path: Path, alias: str) -> None:
    assert envseal(tmp_path, "keys", "create").returncode == 0
    before = envseal(tmp_path, "keys", "list").stdout
    result = envseal(tmp_path, "keys", "create", "--alias", alias)
    assert result.returncode == 64, text(result)
    assert text(result).startswith("envseal: error: --alias")
    assert envseal(tmp_path, "keys", "list").stdout == before, "a key was created for a refused alias"


def test_keys_create_refuses_a_taken_alias_before_creating_a_key(tmp_path: Path) -> None:
    assert envseal(tmp_path, "keys", "create", "--alias", "alias/app").returncode == 0
    before = envseal(tmp_path, "keys", "list").stdout
    result = envseal(tmp_path, "keys", "create", "--alias", "alias/app")
    assert result.returncode == 64, text(result)
    assert "alias/app already exists" in text(result) and "no key was created" in text(result)
    assert envseal(tmp_path, "keys", "list").stdout == before


# Item 11: smaller ones


def test_schedule_deletion_days_out_of_range_is_a_usage_error(sealed: Path) -> None:
    result = envseal(sealed.parent, "keys", "schedule-deletion", "alias/usage", "--days", "3")
    assert result.returncode == 64, text(result)
    assert text(result).startswith("envseal: error: --days must be 7 to 30")
    assert "Usage:" not in text(result)


@pytest.mark.parametrize("arguments,expected", [
    (["decryt", "x"], "envseal: error: unknown command 'decryt'; did you mean 'decrypt'?"),
    (["keys", "creat"], "envseal: error: unknown command 'creat'; did you mean 'create'?"),
    (["decrypt", "--ony", "A", "x"], "envseal: error: unknown option '--ony'; did you mean '--only'?"),
    (["verify"], "envseal: error: missing expected argument '<file>'"),
])
def test_usage_errors_read_like_every_other_error(tmp_path: Path, arguments: list[str], expected: str) -> None:
    result = envseal(tmp_path, *arguments, keystore="")
    assert result.returncode == 64, text(result)
    lines = text(result).splitlines()
    assert lines[0] == expected, text(result)
    assert all(line.startswith("envseal: ") for line in lines), text(result)


def test_help_and_version_still_go_to_standard_output(tmp_path: Path) -> None:
    result = envseal(tmp_path, "--version", keystore="")
    assert result.returncode == 0 and result.stdout.strip() == b"0.1.0"
    result = envseal(tmp_path, "keys", "--help", keystore="")
    assert result.returncode == 0 and b"SUBCOMMANDS:" in result.stdout


def test_help_examples_are_not_wrapped_mid_command_and_name_real_files(tmp_path: Path) -> None:
    result = envseal(tmp_path, "keys", "--help", keystore="", env={**client_env(tmp_path / "home"), "COLUMNS": "80"})
    lines = result.stdout.decode().splitlines()
    examples = lines[lines.index("Examples:") + 1:]
    examples = examples[:next(i for i, line in enumerate(examples) if not line.strip())]
    assert examples and all(line.startswith("  envseal ") for line in examples), examples
    repository = Path(__file__).resolve().parents[2]
    for line in examples:
        for word in line.split():
            if word.endswith(".json"):
                assert (repository / word).exists() or "/" not in word, f"the example names a missing file: {word}"


def test_aws_config_file_dev_null_reads_as_an_empty_file(tmp_path: Path) -> None:
    env = client_env(tmp_path / "home", AWS_CONFIG_FILE="/dev/null", AWS_REGION="us-east-1",
                     AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="not-a-real-secret",
                     AWS_ENDPOINT_URL_KMS="http://127.0.0.1:9")
    result = envseal(tmp_path, "keys", "list", keystore="", env=env)
    # Nothing listens on port 9: the point is that configuration succeeded and a request was tried.
    assert result.returncode == 69, text(result)
    assert "/dev/null" not in text(result)


@pytest.mark.parametrize("flag", ["--quiet", "-q"])
def test_quiet_silences_warnings_but_not_errors(tmp_path: Path, flag: str) -> None:
    (tmp_path / "dup.env").write_text("A=1\nA=2\n")
    loud = envseal(tmp_path, "inspect", "dup.env", keystore="")
    assert loud.returncode == 0 and "envseal: warning:" in text(loud)
    quiet = envseal(tmp_path, "inspect", "dup.env", flag, keystore="")
    assert quiet.returncode == 0 and text(quiet) == "" and quiet.stdout == loud.stdout

    (tmp_path / "big.env").write_text("".join(f"VARIABLE_{i}={'v' * 60}\n" for i in range(80)))
    assert envseal(tmp_path, "keys", "create", "--alias", "alias/quiet").returncode == 0
    loud = envseal(tmp_path, "encrypt", "big.env", "--key", "alias/quiet")
    assert loud.returncode == 0 and "over Lambda's" in text(loud)
    quiet = envseal(tmp_path, "encrypt", "big.env", "--key", "alias/quiet", flag)
    assert quiet.returncode == 0 and "warning" not in text(quiet)

    failed = envseal(tmp_path, "decrypt", "missing.sealed", flag)
    assert failed.returncode == 66 and text(failed).startswith("envseal: error:")


def test_a_failed_help_or_version_write_exits_73(tmp_path: Path) -> None:
    for arguments in (["--help"], ["--version"], ["keys", "--help"], ["help", "decrypt"]):
        with open("/dev/full", "wb") as full:
            result = subprocess.run([str(envseal_binary()), *arguments], cwd=tmp_path, env=client_env(tmp_path / "home"),
                                    stdout=full, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=60)
        assert result.returncode == 73, (arguments, text(result))
        assert text(result).startswith("envseal: error: cannot write standard output")


def test_a_directory_as_input_says_it_is_a_directory(sealed: Path) -> None:
    work = sealed.parent
    (work / "folder").mkdir()
    for command in (["decrypt", "folder"], ["verify", "folder"], ["get", "folder", "A"], ["inspect", "folder"],
                    ["rotate", "folder"], ["encrypt", "folder", "--key", "alias/usage"],
                    ["keys", "create", "--policy", "folder"]):
        result = envseal(work, *command, keystore="" if command[0] == "inspect" else "ks")
        assert result.returncode == 66, (command, text(result))
        assert "folder: it is a directory" in text(result), (command, text(result))
        assert "permission denied" not in text(result)


def test_a_lambda_mode_file_read_as_envelope_mode_hints_at_mode_lambda(sealed: Path) -> None:
    work = sealed.parent
    result = envseal(work, "encrypt", "app.env", "--key", "alias/usage", "--mode", "lambda", "--function", "billing",
                     "--only", "PASSWORD", "-o", "lambda.env")
    assert result.returncode == 0, text(result)
    for command in (["decrypt", "lambda.env"], ["verify", "lambda.env"], ["get", "lambda.env", "DB_PASSWORD"]):
        result = envseal(work, *command)
        assert result.returncode == 65, (command, text(result))
        assert "--mode lambda --function NAME" in text(result), (command, text(result))
    # A plain file is not taken for a lambda-mode one.
    result = envseal(work, "decrypt", "app.env")
    assert result.returncode == 65 and "--mode lambda" not in text(result), text(result)


def test_principals_delete_removes_the_credentials_file_it_wrote(tmp_path: Path) -> None:
    assert envseal(tmp_path, "principals", "create", "ci").returncode == 0
    assert envseal(tmp_path, "principals", "create", "other").returncode == 0
    credentials = tmp_path / "ks" / "ci.credentials"
    assert credentials.exists()
    result = envseal(tmp_path, "principals", "delete", "ci")
    assert result.returncode == 0, text(result)
    assert not credentials.exists(), "the deleted principal's credentials file was left"
    assert f"removed its credentials file {credentials}" in result.stdout.decode()

    # A file at that path that holds another principal's key is not this principal's: left, and named.
    assert envseal(tmp_path, "principals", "create", "ci", "--credentials", str(tmp_path / "elsewhere")).returncode == 0
    shutil.copy(tmp_path / "ks" / "other.credentials", credentials)
    result = envseal(tmp_path, "principals", "delete", "ci")
    assert result.returncode == 0, text(result)
    assert credentials.exists()
    assert str(credentials) in result.stdout.decode() + text(result)


def test_principals_create_writes_its_credentials_or_creates_nothing(tmp_path: Path) -> None:
    """The principal and its credentials file come together: a path that exists (the user's own
    AWS credentials, say) is never overwritten, and a file that cannot be written leaves no principal."""
    assert envseal(tmp_path, "principals", "create", "first").returncode == 0
    existing = tmp_path / "credentials"
    existing.write_text("[default]\naws_access_key_id = mine\n")
    for path in (existing, tmp_path / "no-such-folder" / "x.credentials"):
        result = envseal(tmp_path, "principals", "create", "second", "--credentials", str(path))
        assert result.returncode == 73, text(result)
        assert str(path) in text(result), text(result)
        listed = envseal(tmp_path, "principals", "list")
        assert "second" not in listed.stdout.decode(), listed.stdout.decode()
    assert existing.read_text() == "[default]\naws_access_key_id = mine\n"
    assert not list(tmp_path.glob(".credentials.*")), "a temporary file was left"
    result = envseal(tmp_path, "principals", "create", "second", "--credentials", str(tmp_path / "second.credentials"))
    assert result.returncode == 0, text(result)
    assert (tmp_path / "second.credentials").stat().st_mode & 0o777 == 0o600


def test_audit_tail_json_times_are_iso_8601(sealed: Path) -> None:
    result = envseal(sealed.parent, "audit", "tail", "-n", "3", "--output", "json")
    assert result.returncode == 0, text(result)
    rows = json.loads(result.stdout)
    assert rows
    for row in rows:
        assert isinstance(row["time"], str), row["time"]
        parsed = datetime.fromisoformat(row["time"].replace("Z", "+00:00"))
        assert abs((datetime.now(timezone.utc) - parsed).total_seconds()) < 600


def test_exec_redact_names_short_variables_in_one_line_and_skips_empty_ones(tmp_path: Path) -> None:
    (tmp_path / "app.env").write_text("A=abc\nB=xy\nEMPTY=\nLONG=a-long-enough-secret\n")
    assert envseal(tmp_path, "keys", "create", "--alias", "alias/redact").returncode == 0
    assert envseal(tmp_path, "encrypt", "app.env", "--key", "alias/redact", "-o", "app.sealed").returncode == 0
    result = envseal(tmp_path, "exec", "--keystore", str(tmp_path / "ks"), "--file", "app.sealed", "--redact", "--", "true",
                     keystore="")
    assert result.returncode == 0, text(result)
    warnings = [line for line in text(result).splitlines() if line.startswith("envseal: warning:")]
    assert len(warnings) == 1, warnings
    assert "A, B" in warnings[0] and "EMPTY" not in warnings[0] and "LONG" not in warnings[0], warnings


def test_quiet_silences_encrypts_size_report(tmp_path: Path) -> None:
    (tmp_path / "app.env").write_text("TOKEN=abc\n")
    assert envseal(tmp_path, "keys", "create", "--alias", "alias/report").returncode == 0
    loud = envseal(tmp_path, "encrypt", "app.env", "--key", "alias/report")
    assert loud.returncode == 0 and "environment size" in text(loud)
    quiet = envseal(tmp_path, "encrypt", "app.env", "--key", "alias/report", "--quiet")
    assert quiet.returncode == 0 and text(quiet) == "", text(quiet)


# Item 7: --output is a format, -o/--out a file


@pytest.mark.parametrize("command", [["decrypt", "app.sealed"], ["encrypt", "app.env", "--key", "alias/usage"]])
@pytest.mark.parametrize("spelling", [["--output", "json"], ["--output=text"], ["--output", "JSON"]])
def test_output_text_or_json_in_encrypt_and_decrypt_is_refused_not_a_file(sealed: Path, command: list[str],
                                                                          spelling: list[str]) -> None:
    work = sealed.parent
    before = sorted(path.name for path in work.iterdir())
    result = envseal(work, *command, *spelling)
    assert result.returncode == 64, text(result)
    assert text(result).startswith("envseal: error: --output"), text(result)
    assert "-o/--out FILE" in text(result)
    assert result.stdout == b""
    assert sorted(path.name for path in work.iterdir()) == before, "a file was written"


def test_out_writes_a_file_and_the_old_output_file_spelling_warns(sealed: Path) -> None:
    work = sealed.parent
    for spelling in (["-o", "a.env"], ["--out", "b.env"], ["--out=c.env"]):
        result = envseal(work, "decrypt", "app.sealed", *spelling)
        assert result.returncode == 0 and text(result) == "", text(result)
    assert (work / "a.env").read_bytes() == (work / "b.env").read_bytes() == (work / "c.env").read_bytes() \
        == (work / "app.env").read_bytes()
    result = envseal(work, "decrypt", "app.sealed", "--output", "d.env")
    assert result.returncode == 0, text(result)
    assert "envseal: warning: --output FILE is deprecated" in text(result) and "-o/--out" in text(result)
    assert (work / "d.env").read_bytes() == (work / "app.env").read_bytes()
    result = envseal(work, "encrypt", "app.env", "--key", "alias/usage", "--output", "e.sealed")
    assert result.returncode == 0 and "deprecated" in text(result), text(result)
    assert (work / "e.sealed").exists()
    result = envseal(work, "decrypt", "app.sealed", "--out", "f.env", "--output", "g.env")
    assert result.returncode == 64, text(result)
    assert not (work / "f.env").exists() and not (work / "g.env").exists()
    for command in (["encrypt", "--help"], ["decrypt", "--help"]):
        usage = envseal(work, *command, keystore="").stdout.decode()
        assert "-o, --out <out>" in usage and "--output" not in usage, usage


# Item 8: --only and --except are honoured or refused


def test_decrypt_only_and_except_in_envelope_mode_output_only_the_chosen_variables(sealed: Path) -> None:
    work = sealed.parent
    result = envseal(work, "decrypt", "app.sealed", "--only", "PASSWORD")
    assert result.returncode == 0, text(result)
    assert result.stdout == b"DB_PASSWORD=correct-horse-battery\n"
    result = envseal(work, "decrypt", "app.sealed", "--except", "PASSWORD")
    assert result.returncode == 0, text(result)
    assert result.stdout == b"MODE=prod\n"
    result = envseal(work, "decrypt", "app.sealed", "--only", "^NOTHING$", "-o", "none.env")
    assert result.returncode == 64, text(result)
    assert "no variable matches" in text(result) and not (work / "none.env").exists()


def test_decrypt_only_in_lambda_mode_decrypts_the_chosen_and_refuses_an_empty_choice(sealed: Path) -> None:
    work = sealed.parent
    result = envseal(work, "encrypt", "app.env", "--key", "alias/usage", "--mode", "lambda", "--function", "billing",
                     "--only", "PASSWORD", "-o", "lambda.env")
    assert result.returncode == 0, text(result)
    result = envseal(work, "decrypt", "lambda.env", "--mode", "lambda", "--function", "billing", "--only", "PASSWORD")
    assert result.returncode == 0, text(result)
    assert result.stdout == (work / "app.env").read_bytes()
    result = envseal(work, "decrypt", "lambda.env", "--mode", "lambda", "--function", "billing", "--only", "^NOTHING$")
    assert result.returncode == 64 and "no variable matches" in text(result), text(result)
    assert result.stdout == b""


def test_only_and_except_help_says_what_each_command_does(tmp_path: Path) -> None:
    decrypt = envseal(tmp_path, "decrypt", "--help", keystore="", env={**client_env(tmp_path / "home"), "COLUMNS": "300"})
    encrypt = envseal(tmp_path, "encrypt", "--help", keystore="", env={**client_env(tmp_path / "home"), "COLUMNS": "300"})
    decrypt_text, encrypt_text = decrypt.stdout.decode(), encrypt.stdout.decode()
    assert "Seal" not in decrypt_text.split("OPTIONS:")[1].split("--mode")[0], decrypt_text
    assert "Decrypt and write only" in decrypt_text and "Leave out" in decrypt_text, decrypt_text
    assert "Seal only" in encrypt_text, encrypt_text
