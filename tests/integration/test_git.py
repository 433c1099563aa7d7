"""Sealed files in real git repositories: `envseal git setup`, the textconv diff with and without
key access, the merge driver through `git merge` (clean, across a data-key rotation, and with a
real conflict), and the pre-commit hook (chained to an existing one, undone by --uninstall).

The CLI runs on an embedded key store outside the repository; setup records it in the clone's
config. Merged files are checked with `envseal verify` and read back with python-dotenv. Secret
values are random and never shown."""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest
from dotenv import dotenv_values

from conftest import assert_not_contained, client_env, envseal_binary


class Repo:
    """A git repository holding one sealed file, app.env, with envseal's drivers set up."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.keystore = root / "ks"
        self.path = root / "repo"
        self.home = root / "home"
        self.env = client_env(self.home, GIT_CONFIG_NOSYSTEM="1", GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
                              GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com")
        self.secrets = {name: secrets.token_urlsafe(18) for name in ("DB_PASSWORD", "API_KEY", "TOKEN")}
        self.path.mkdir()
        self.git("init", "-q", "-b", "main")
        self.envseal("keys", "create", "--alias", "alias/git", "--keystore", str(self.keystore))
        plain = root / "plain.env"
        plain.write_text("# billing\nLOG_LEVEL=info\n" + "".join(f"{k}={v}\n" for k, v in self.secrets.items()))
        self.envseal("encrypt", str(plain), "--key", "alias/git", "--except", "^LOG_LEVEL$", "-o", "app.env",
                     "--keystore", str(self.keystore))
        plain.unlink()
        self.setup = self.envseal("git", "setup", "--keystore", str(self.keystore))
        self.git("add", "-A")
        self.git("commit", "-q", "-m", "sealed")

    def run(self, args: list[str], check: bool = True, stdin: bytes | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        result = subprocess.run(args, cwd=self.path, env=env or self.env, input=stdin,
                                stdin=None if stdin is not None else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        for value in self.secrets.values():
            assert_not_contained(result.stderr, value, f"standard error of {args[1]}")
        if check:
            assert result.returncode == 0, f"{args} exited {result.returncode}: {result.stderr.decode(errors='replace')}"
        return result

    def git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.run(["git", *args], check=check)

    def envseal(self, *args: str, check: bool = True, stdin: bytes | None = None) -> subprocess.CompletedProcess:
        return self.run([str(envseal_binary()), *args], check=check, stdin=stdin)

    def set(self, name: str, value: str) -> None:
        self.envseal("set", "app.env", name, "--keystore", str(self.keystore), stdin=value.encode())

    def commit(self, message: str) -> None:
        self.git("commit", "-q", "-am", message)

    def values(self) -> dict[str, str]:
        """The working file, verified, then decrypted and read by python-dotenv."""
        self.envseal("verify", "app.env", "--keystore", str(self.keystore))
        plain = self.envseal("decrypt", "app.env", "--keystore", str(self.keystore)).stdout
        return dict(dotenv_values(stream=io.StringIO(plain.decode())))


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path)


def test_setup_writes_attributes_config_and_hook_idempotently(repo: Repo) -> None:
    attributes = (repo.path / ".gitattributes").read_text()
    assert attributes == "/app.env diff=envseal merge=envseal\n"
    config = repo.git("config", "--local", "--get-regexp", r"^(diff|merge)\.envseal\.").stdout.decode()
    assert "diff.envseal.textconv" in config and "git textconv --keystore" in config
    assert "merge.envseal.driver" in config and "git merge --keystore" in config and "%O %A %B %P" in config
    assert "cachetextconv" not in config
    hook = repo.path / ".git" / "hooks" / "pre-commit"
    assert os.access(hook, os.X_OK)
    before = (attributes, config, hook.read_text())
    second = repo.envseal("git", "setup", "--keystore", str(repo.keystore))
    assert b"0 line(s) added" in second.stdout
    after = ((repo.path / ".gitattributes").read_text(),
             repo.git("config", "--local", "--get-regexp", r"^(diff|merge)\.envseal\.").stdout.decode(), hook.read_text())
    assert after == before


def test_clean_merge_of_both_branches_edits(repo: Repo) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    feature_token = secrets.token_urlsafe(18)
    repo.secrets["feature TOKEN"] = feature_token
    repo.set("TOKEN", feature_token)
    repo.set("NEW_FEATURE_KEY", "feature-only")
    repo.envseal("unset", "app.env", "API_KEY", "--keystore", str(repo.keystore))
    repo.commit("feature edits")
    repo.git("checkout", "-q", "main")
    main_password = secrets.token_urlsafe(18)
    repo.secrets["main DB_PASSWORD"] = main_password
    repo.set("DB_PASSWORD", main_password)
    repo.set("NEW_MAIN_KEY", "main-only")
    repo.commit("main edits")
    before = (repo.path / "app.env").read_text()

    merge = repo.git("merge", "-q", "--no-edit", "feature")
    assert merge.returncode == 0
    assert repo.git("status", "--porcelain").stdout == b""
    values = repo.values()
    assert values == {"LOG_LEVEL": "info", "DB_PASSWORD": main_password, "TOKEN": feature_token,
                      "NEW_FEATURE_KEY": "feature-only", "NEW_MAIN_KEY": "main-only"}
    after = (repo.path / "app.env").read_text()
    for value in repo.secrets.values():
        assert_not_contained(after, value, "the merged sealed file")
    # Sealed under main's data key: main's unchanged lines keep their exact ciphertext.
    unchanged = [line for line in before.splitlines() if line.startswith(("DB_PASSWORD=", "NEW_MAIN_KEY=", "LOG_LEVEL="))]
    assert unchanged and all(line in after.splitlines() for line in unchanged)
    assert after.rstrip("\n").splitlines()[-1].startswith("ENVSEAL=")


def test_merge_across_a_data_key_rotation(repo: Repo) -> None:
    repo.git("checkout", "-q", "-b", "rotated")
    repo.envseal("rotate", "app.env", "--keystore", str(repo.keystore))
    repo.set("API_KEY", "rotated-branch-key")
    repo.commit("rotate")
    repo.git("checkout", "-q", "main")
    repo.set("TOKEN", "main-token")
    repo.commit("main edit")
    header_before = [line for line in (repo.path / "app.env").read_text().splitlines() if line.startswith("ENVSEAL=")]

    repo.git("merge", "-q", "--no-edit", "rotated")
    values = repo.values()
    assert values["API_KEY"] == "rotated-branch-key"
    assert values["TOKEN"] == "main-token"
    assert values["DB_PASSWORD"] == repo.secrets["DB_PASSWORD"]
    # The current side's data key: the wrapped key (the header's start) is main's.
    header_after = [line for line in (repo.path / "app.env").read_text().splitlines() if line.startswith("ENVSEAL=")]
    assert header_after[0][:120] == header_before[0][:120]


def test_key_slots_merge_and_a_revoked_key_stays_revoked(repo: Repo) -> None:
    keystore = ["--keystore", str(repo.keystore)]
    for alias in ("alias/dr", "alias/old"):
        repo.envseal("keys", "create", "--alias", alias, *keystore)
    repo.envseal("keys", "add", "app.env", "--key", "alias/old", *keystore)
    repo.commit("a second key")

    # One branch adds a disaster-recovery key and revokes the old one; the other edits a value.
    repo.git("checkout", "-q", "-b", "keys")
    repo.envseal("keys", "add", "app.env", "--key", "alias/dr", *keystore)
    repo.envseal("keys", "remove", "app.env", "--key", "alias/old", *keystore)
    repo.commit("dr key in, old key out")
    repo.git("checkout", "-q", "main")
    repo.set("TOKEN", "main-token")
    repo.commit("main edit")

    assert repo.git("merge", "-q", "--no-edit", "keys").returncode == 0
    listed = json.loads(repo.envseal("keys", "list", "app.env", "--output", "json").stdout)
    described = {alias: json.loads(repo.envseal("keys", "describe", alias, "--output", "json", *keystore).stdout)["KeyMetadata"]["Arn"]
                 for alias in ("alias/git", "alias/dr", "alias/old")}
    text = json.dumps(listed)
    assert described["alias/git"] in text and described["alias/dr"] in text, text
    assert described["alias/old"] not in text, "the key revoked on the other branch came back"
    assert repo.values()["TOKEN"] == "main-token"


def test_conflict_is_left_unmerged_with_nothing_secret(repo: Repo) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    theirs = secrets.token_urlsafe(18)
    repo.secrets["theirs"] = theirs
    repo.set("DB_PASSWORD", theirs)
    repo.set("LOG_LEVEL", "debug")
    repo.commit("feature password")
    repo.git("checkout", "-q", "main")
    ours = secrets.token_urlsafe(18)
    repo.secrets["ours"] = ours
    repo.set("DB_PASSWORD", ours)
    repo.commit("main password")

    merge = repo.git("merge", "--no-edit", "feature", check=False)
    assert merge.returncode != 0
    assert b"DB_PASSWORD" in merge.stderr and b"changed differently on both sides" in merge.stderr
    status = repo.git("status", "--porcelain").stdout.decode()
    assert "UU app.env" in status
    text = (repo.path / "app.env").read_text()
    assert "# envseal merge conflict: DB_PASSWORD" in text
    assert "<<<<<<<" not in text
    for value in repo.secrets.values():
        assert_not_contained(text, value, "the conflicted file")
    values = repo.values()  # still a sealed file that verifies
    assert values["DB_PASSWORD"] == ours
    assert values["LOG_LEVEL"] == "debug"  # the rest was merged


def test_textconv_diff_with_and_without_key_access(repo: Repo) -> None:
    new_token = secrets.token_urlsafe(18)
    repo.secrets["new TOKEN"] = new_token
    repo.set("TOKEN", new_token)
    repo.commit("new token")

    with_key = repo.git("log", "-p", "-1", "--format=", "--", "app.env")
    diff = with_key.stdout.decode()
    assert f"-TOKEN={repo.secrets['TOKEN']}" in diff and f"+TOKEN={new_token}" in diff
    assert "DB_PASSWORD" not in [line[1:].split("=")[0] for line in diff.splitlines() if line[:1] in "+-"]

    no_decrypt = repo.run(["git", "-c", f"diff.envseal.textconv={envseal_binary()} git textconv --no-decrypt",
                           "log", "-p", "-1", "--format=", "--", "app.env"])
    assert b"--no-decrypt" in no_decrypt.stderr

    shutil.move(str(repo.keystore), str(repo.root / "ks-away"))
    without_key = repo.git("log", "-p", "-1", "--format=", "--", "app.env")
    assert b"no key access" in without_key.stderr
    for result in (no_decrypt, without_key):
        text = result.stdout.decode()
        for value in repo.secrets.values():
            assert_not_contained(text, value, "the diff without key access")
        changed = [line for line in text.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]
        names = sorted({line[1:].split("=")[0] for line in changed})
        assert names == ["TOKEN"], names
        assert all(line[1:].startswith("TOKEN=sealed:") for line in changed)
        assert " DB_PASSWORD=sealed:" in text and " LOG_LEVEL=info" in text and " ENVSEAL=data-key:" in text


def test_pre_commit_hook_refuses_plaintext_and_chains(repo: Repo) -> None:
    repo.envseal("git", "setup", "--uninstall")
    assert not (repo.path / ".gitattributes").exists()
    assert repo.git("config", "--local", "--get-regexp", "envseal", check=False).stdout == b""
    hooks = repo.path / ".git" / "hooks"
    assert not (hooks / "pre-commit").exists()
    (hooks / "pre-commit").write_text("#!/bin/sh\necho ran >> \"$(git rev-parse --show-toplevel)/../other-hook-ran\"\n")
    (hooks / "pre-commit").chmod(0o755)
    setup = repo.envseal("git", "setup", "--keystore", str(repo.keystore))
    assert b"pre-commit.before-envseal" in setup.stdout
    repo.set("LOG_LEVEL", "warn")
    repo.commit("log level")
    assert (repo.root / "other-hook-ran").read_text() == "ran\n"

    plain = repo.envseal("decrypt", "app.env", "--keystore", str(repo.keystore)).stdout
    (repo.path / "app.env").write_bytes(plain)
    refused = repo.git("commit", "-am", "oops", check=False)
    assert refused.returncode != 0
    assert b"app.env: no ENVSEAL header" in refused.stderr
    assert_not_contained(refused.stdout + refused.stderr, repo.secrets["API_KEY"], "the hook's output")
    assert repo.git("log", "--format=%s", "-1").stdout == b"log level\n"

    repo.envseal("git", "setup", "--uninstall")
    assert (hooks / "pre-commit").read_text().startswith("#!/bin/sh\necho ran")
    assert not (hooks / "pre-commit.before-envseal").exists()
