"""The project config's creation rules, black box: a `.envseal.yaml` whose rule names the key,
context, selection and key store lets `envseal encrypt secrets/prod.env` run with no flags; flags
override the rule field by field; `envseal config show` says what applies and where it came from;
the commands on a file find their key service in it (the embedded store, or an envseal server
with `PROFILE@URL`); a bad config fails with its line.

Values are random and compared without being shown; every run's stderr is checked for them."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REGION, EnvsealServer, assert_not_contained, assert_same_secret, client_env, envseal_binary

CONFIG = """\
keys: []
creation_rules:
  - path: "secrets/prod*"
    keys: [alias/app-prod]
    context: {app: billing, stage: prod}
    only: ["^DB_", "^API_KEY$"]
    keystore: ./KeyStore
  - path: "remote/*"
    keys: [alias/remote]
    context: {app: remote}
    endpoints: ["{endpoint}"]
  - path: "*.env"
"""
RULE_KEYS_LINE = 4
RULE_CONTEXT_LINE = 5
RULE_ONLY_LINE = 6
RULE_KEYSTORE_LINE = 7


class Project:
    """A folder with `.envseal.yaml`, an embedded key store at its top, and secrets/prod.env."""

    def __init__(self, path: Path, endpoint: str = "http://127.0.0.1:9") -> None:
        self.path = path
        self.config = path / ".envseal.yaml"
        self.config.write_text(CONFIG.replace("{endpoint}", endpoint))
        self.secret = secrets.token_urlsafe(24)
        self.api_key = secrets.token_urlsafe(24)
        self.plain = f"DB_PASSWORD={self.secret}\nAPI_KEY={self.api_key}\nLOG_LEVEL=info\n".encode()
        (path / "secrets").mkdir()
        (path / "secrets" / "prod.env").write_bytes(self.plain)
        self.env = client_env(path / "home")
        self.key_id = ""

    def run(self, *args: str, check: bool = True, cwd: Path | None = None, env: dict[str, str] | None = None,
            secret_stdout: bool = False) -> subprocess.CompletedProcess:
        result = subprocess.run([str(envseal_binary()), *args], cwd=cwd or self.path, env=env or self.env,
                                stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
        for value in (self.secret, self.api_key):
            assert_not_contained(result.stderr, value, "standard error")
            if not secret_stdout:
                assert_not_contained(result.stdout, value, "standard output")
        if check:
            assert result.returncode == 0, f"{args[0]} exited {result.returncode}: {result.stderr.decode(errors='replace')}"
        return result

    def inspect(self, name: str) -> dict:
        return json.loads(self.run("inspect", "--output", "json", name).stdout)["header"]

    def create_key(self, alias: str) -> str:
        created = self.run("keys", "create", "--alias", alias, "--keystore", str(self.path / "KeyStore"), "--output", "json")
        return json.loads(created.stdout)["KeyMetadata"]["KeyId"]


@pytest.fixture
def local(tmp_path: Path) -> Project:
    root = tmp_path / "app"
    root.mkdir()
    made = Project(root)
    made.key_id = made.create_key("alias/app-prod")
    return made


def test_the_rule_drives_encrypt_with_no_flags_and_decrypt_opens_it(local: Project) -> None:
    # From the project's top: no --key, --context, --only or --keystore.
    local.run("encrypt", "secrets/prod.env", "-o", "secrets/prod.env.sealed")
    header = local.inspect("secrets/prod.env.sealed")
    assert header["context"] == {"app": "billing", "stage": "prod"}
    assert sorted(header["sealed"]) == ["API_KEY", "DB_PASSWORD"] and header["covered"] == ["LOG_LEVEL"]
    assert f"key {local.key_id} " in header["wrappedDataKey"]
    # From the file's own folder: the rule's keystore is relative to the config, not to the working folder.
    opened = local.run("decrypt", "prod.env.sealed", cwd=local.path / "secrets", secret_stdout=True)
    assert_same_secret(opened.stdout, local.plain, "the decrypted file")
    local.run("verify", "prod.env.sealed", cwd=local.path / "secrets")
    ran = local.run("exec", "--file", "prod.env.sealed", "--", "sh", "-c", 'test "${#DB_PASSWORD}" -eq 32 && echo opened',
                    cwd=local.path / "secrets")
    assert ran.stdout == b"opened\n"
    assert not (local.path / "secrets" / "KeyStore").exists()


def test_flags_override_the_rule_field_by_field(local: Project) -> None:
    other = local.create_key("alias/other")
    local.run("encrypt", "secrets/prod.env", "-o", "secrets/prod.env.sealed", "--key", "alias/other",
              "--context", "team=payments", "--except", "LOG")
    header = local.inspect("secrets/prod.env.sealed")
    assert f"key {other} " in header["wrappedDataKey"]
    assert header["context"] == {"team": "payments"}
    assert sorted(header["sealed"]) == ["API_KEY", "DB_PASSWORD"] and header["covered"] == ["LOG_LEVEL"]
    # The rule's selection is replaced, not combined: --only LOG seals LOG_LEVEL alone.
    local.run("encrypt", "secrets/prod.env", "-o", "secrets/only-log.sealed", "--only", "LOG")
    header = local.inspect("secrets/only-log.sealed")
    assert header["sealed"] == ["LOG_LEVEL"] and header["context"] == {"app": "billing", "stage": "prod"}
    assert f"key {local.key_id} " in header["wrappedDataKey"]


def test_config_show_says_what_applies_and_where_from(local: Project) -> None:
    config = str(local.config.resolve())
    shown = json.loads(local.run("config", "show", "secrets/prod.env", "--output", "json").stdout)
    assert shown["config"] == config
    assert shown["rule"] == {"number": 1, "line": 3, "path": "secrets/prod*"}
    assert shown["keys"] == {"value": ["alias/app-prod"], "source": "config", "from": f"{config}:{RULE_KEYS_LINE}"}
    assert shown["context"]["value"] == {"app": "billing", "stage": "prod"}
    assert shown["context"]["from"] == f"{config}:{RULE_CONTEXT_LINE}"
    assert shown["only"] == {"value": "(?:^DB_)|(?:^API_KEY$)", "source": "config", "from": f"{config}:{RULE_ONLY_LINE}"}
    assert shown["except"] == {"value": None, "source": "default", "from": "default"}
    assert shown["recipients"] == {"value": [], "source": "default", "from": "default"}
    assert shown["keystore"] == {"value": str(local.path.resolve() / "KeyStore"), "source": "config",
                                 "from": f"{config}:{RULE_KEYSTORE_LINE}"}
    assert shown["endpoints"]["value"] == [] and shown["keyService"] == "keystore"

    # Flags win over the rule, the environment over the rule's key service, and a flag over both.
    env = dict(local.env, AWS_ENDPOINT_URL_KMS="http://127.0.0.1:9")
    overridden = json.loads(local.run("config", "show", "secrets/prod.env", "--output", "json", "--key", "alias/x",
                                      "--context", "team=payments", "--except", "LOG", env=env).stdout)
    assert overridden["keys"] == {"value": ["alias/x"], "source": "flag", "from": "flag --key"}
    assert overridden["context"] == {"value": {"team": "payments"}, "source": "flag", "from": "flag --context"}
    assert overridden["only"]["value"] is None and overridden["only"]["from"] == "flag --except"
    assert overridden["endpoints"] == {"value": ["http://127.0.0.1:9"], "source": "environment", "from": "environment AWS_ENDPOINT_URL_KMS"}
    assert overridden["keyService"] == "endpoints"
    by_flag = json.loads(local.run("config", "show", "secrets/prod.env", "--output", "json", "--endpoint", "http://127.0.0.1:8",
                                   env=env).stdout)
    assert by_flag["endpoints"]["from"] == "flag --endpoint" and by_flag["endpoints"]["value"] == ["http://127.0.0.1:8"]

    text = local.run("config", "show", "secrets/prod.env", "--context", "team=payments").stdout.decode()
    assert f"config: {config}\n" in text
    assert "rule: 1 (line 3, path secrets/prod*)\n" in text
    assert f"keys: alias/app-prod ({config}:{RULE_KEYS_LINE})\n" in text
    assert "context: team=payments (flag --context)\n" in text
    assert "except: none (default)\n" in text

    unmatched = local.run("config", "show", "notes.txt").stdout.decode()
    assert "rule: none (no creation rule matches)" in unmatched and "keys: none (default)" in unmatched


def test_no_key_from_flag_or_rule_is_the_missing_key_error_with_a_hint(local: Project, tmp_path: Path) -> None:
    (local.path / "other.env").write_bytes(local.plain)
    matched = local.run("encrypt", "other.env", check=False)
    assert matched.returncode == 64
    stderr = matched.stderr.decode()
    assert "envseal: error: missing expected argument '--key <key>'" in stderr
    assert f"rule 3 of {local.config.resolve()} (line 12) matches other.env but names no keys" in stderr
    (local.path / "notes.txt").write_bytes(local.plain)
    unmatched = local.run("encrypt", "notes.txt", check=False)
    assert unmatched.returncode == 64 and f"no creation rule of {local.config.resolve()} matches notes.txt" in unmatched.stderr.decode()
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "app.env").write_bytes(local.plain)
    nothing = local.run("encrypt", "app.env", check=False, cwd=bare)
    assert nothing.returncode == 64
    assert "envseal: hint: no .envseal.yaml was found from the file's folder upward" in nothing.stderr.decode()
    assert not (bare / "app.env.sealed").exists() and not (bare / "KeyStore").exists()


def test_every_key_of_a_rule_gets_a_slot(local: Project) -> None:
    second = local.create_key("alias/second")
    local.config.write_text(local.config.read_text().replace("keys: [alias/app-prod]", "keys: [alias/app-prod, alias/second]"))
    local.run("encrypt", "secrets/prod.env", "-o", "secrets/prod.env.sealed")
    slots = json.loads(local.run("keys", "list", "secrets/prod.env.sealed", "--output", "json").stdout)
    listed = json.dumps(slots)
    assert local.key_id in listed and second in listed, listed
    # Either key alone opens it: disable the first.
    local.run("keys", "disable", local.key_id, "--keystore", str(local.path / "KeyStore"))
    opened = local.run("decrypt", "secrets/prod.env.sealed", secret_stdout=True)
    assert_same_secret(opened.stdout, local.plain, "the file opened by its second slot")


@pytest.mark.parametrize("text, line, message", [
    ("creation_rules:\n  - path: x\n    contxt: {a: b}\n", 3, "unknown field contxt in creation rule 1"),
    ("creation_rules:\n  - keys: [k]\n", 2, "creation rule 1 needs a path"),
    ("creation_rules:\n  - path: x\n    only: A\n    except: B\n", 4, "creation rule 1 has both only and except"),
    ("creation_rules:\n  - path: x\n    context:\n      app: [a, b]\n", 4, "context value of app must be a string"),
    ("creation_rules:\n  - path: x\n    keys: k\n", 3, "creation rule 1: keys must be a list of strings"),
    ("creation_rules:\n  - path: x\n    keys: [k\n", 4, ""),
])
def test_a_bad_config_fails_with_its_line(local: Project, text: str, line: int, message: str) -> None:
    local.run("encrypt", "secrets/prod.env", "-o", "secrets/prod.env.sealed")
    local.config.write_text(text)
    prefix = f"envseal: error: {local.config.resolve()}:{line}:"
    for args in (["encrypt", "secrets/prod.env", "-o", "secrets/again.sealed"], ["config", "show", "secrets/prod.env"],
                 ["decrypt", "secrets/prod.env.sealed"]):
        result = local.run(*args, check=False)
        assert result.returncode == 65, args
        assert prefix in result.stderr.decode() and message in result.stderr.decode(), result.stderr.decode()
    # A flag that names the key service means the config cannot change the outcome, so it is not read.
    opened = local.run("decrypt", "secrets/prod.env.sealed", "--keystore", "KeyStore", secret_stdout=True)
    assert_same_secret(opened.stdout, local.plain, "the decrypted file")


def test_a_rules_endpoint_with_a_profile_is_used_when_nothing_else_names_a_key_service(
    server: EnvsealServer, tmp_path: Path, kms: object
) -> None:
    root = tmp_path / "app"
    root.mkdir()
    made = Project(root, endpoint=f"envseal-admin@{server.url}")
    kms.create_alias(AliasName="alias/remote", TargetKeyId=kms.create_key(Description="config rule")["KeyMetadata"]["KeyId"])
    admin = server.admin_credentials()
    credentials = root / "credentials"
    credentials.write_text(f"[envseal-admin]\naws_access_key_id = {admin.access_key_id}\n"
                           f"aws_secret_access_key = {admin.secret_access_key}\n")
    credentials.chmod(0o600)
    made.env = client_env(root / "home", AWS_SHARED_CREDENTIALS_FILE=str(credentials), AWS_REGION=REGION)
    (root / "remote").mkdir()
    shutil.copy(root / "secrets" / "prod.env", root / "remote" / "app.env")
    made.run("encrypt", "remote/app.env", "--in-place")
    assert made.inspect("remote/app.env")["context"] == {"app": "remote"}
    opened = made.run("decrypt", "app.env", cwd=root / "remote", secret_stdout=True)
    assert_same_secret(opened.stdout, made.plain, "the decrypted file")
    # Nothing fell back to an embedded store.
    assert not (root / "KeyStore").exists() and not (root / "remote" / "KeyStore").exists()
    shown = json.loads(made.run("config", "show", "remote/app.env", "--output", "json").stdout)
    assert shown["endpoints"]["value"] == [f"envseal-admin@{server.url}"] and shown["endpoints"]["source"] == "config"
