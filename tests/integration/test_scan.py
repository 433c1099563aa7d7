"""`envseal scan` on the corpus under Tests/ScanCorpus (true and false positives; recall and the
false-positive rate are asserted and printed), decrypted copies, files sealed under a key the
project config does not list, the allow-list, and the pre-commit hook scanning staged files.
Secret values are random or made up, and never shown."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from pathlib import Path

from conftest import REPO_ROOT, assert_not_contained, client_env, envseal_binary

CORPUS = REPO_ROOT / "Tests" / "ScanCorpus"


def envseal(cwd: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(envseal_binary()), *args], cwd=cwd, env=client_env(cwd / "home"), input=stdin,
                          stdin=None if stdin is not None else subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)


def corpus_values(name: str) -> dict[int, tuple[str, str]]:
    """line -> (variable, value) of a corpus file."""
    rows = {}
    for number, line in enumerate((CORPUS / name).read_text().splitlines(), start=1):
        if line and not line.startswith("#"):
            variable, value = line.split("=", 1)
            rows[number] = (variable, value)
    return rows


def test_corpus_recall_and_false_positive_rate(tmp_path: Path) -> None:
    for name in ("positives.env", "negatives.env"):
        shutil.copy(CORPUS / name, tmp_path / name)
    # Inside the repository, the corpus's own .envseal.yaml allows it all.
    assert envseal(REPO_ROOT, "scan", str(CORPUS)).returncode == 0

    result = envseal(tmp_path, "scan", "--output", "json", "positives.env", "negatives.env")
    assert result.returncode == 1, result.stderr.decode()
    findings = json.loads(result.stdout)
    for _, value in {**corpus_values("positives.env"), **corpus_values("negatives.env")}.values():
        if len(value) >= 8:
            assert_not_contained(result.stdout + result.stderr, value.strip('"'), "the scan's output")
    found = {(f["file"], f["line"]) for f in findings}
    positives = corpus_values("positives.env")
    negatives = corpus_values("negatives.env")
    missed = sorted(variable for line, (variable, _) in positives.items() if ("positives.env", line) not in found)
    flagged = sorted(variable for line, (variable, _) in negatives.items() if ("negatives.env", line) in found)
    recall = 1 - len(missed) / len(positives)
    false_positive_rate = len(flagged) / len(negatives)
    print(f"scan corpus: {len(positives) - len(missed)}/{len(positives)} true positives found (recall {recall:.0%}), "
          f"{len(flagged)}/{len(negatives)} false positives ({false_positive_rate:.1%})")
    assert not missed, f"true positives missed: {missed}"
    assert false_positive_rate <= 0.05, f"false positives: {flagged}"
    assert all({"file", "line", "variable", "rule", "why"} <= set(f) for f in findings)


def test_decrypted_copy_unlisted_key_and_allow_list(tmp_path: Path) -> None:
    token = secrets.token_urlsafe(18)
    (tmp_path / "app.plain").write_text(f"SERVICE_TOKEN={token}\nMODE=fast\n")
    assert envseal(tmp_path, "keys", "create", "--alias", "alias/a", "--keystore", "ks").returncode == 0
    sealed = envseal(tmp_path, "encrypt", "app.plain", "--key", "alias/a", "--only", "TOKEN", "-o", "app.env.sealed",
                     "--keystore", "ks")
    assert sealed.returncode == 0, sealed.stderr.decode()
    (tmp_path / "app.plain").unlink()
    # A decrypted copy under another name, with its value renamed so that only the copy rule can see it.
    plain = envseal(tmp_path, "decrypt", "app.env.sealed", "--keystore", "ks").stdout
    (tmp_path / "copy.env").write_bytes(plain.replace(b"MODE=fast", b"MODE=slow"))

    result = envseal(tmp_path, "scan", "copy.env", "--output", "json")
    assert result.returncode == 1
    rules = {f["rule"] for f in json.loads(result.stdout)}
    assert "decrypted-copy" in rules
    assert_not_contained(result.stdout + result.stderr, token, "the scan's output")

    (tmp_path / ".envseal.yaml").write_text("keys:\n  - arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000\n")
    unlisted = envseal(tmp_path, "scan", "app.env.sealed")
    assert unlisted.returncode == 1
    assert b"app.env.sealed:" in unlisted.stdout and b"does not list in keys" in unlisted.stdout

    arn = json.loads(envseal(tmp_path, "keys", "describe", "alias/a", "--output", "json", "--keystore", "ks").stdout)["KeyMetadata"]["Arn"]
    (tmp_path / ".envseal.yaml").write_text(f"keys: [{arn}]\nscan:\n  allow:\n    - path: copy.env\n")
    clean = envseal(tmp_path, "scan", "app.env.sealed", "copy.env")
    assert clean.returncode == 0, clean.stdout.decode()

    (tmp_path / ".envseal.yaml").write_text("scan:\n  allow:\n    - path: copy.env\n      why: test\n")
    bad = envseal(tmp_path, "scan", "copy.env")
    assert bad.returncode == 65
    assert b".envseal.yaml:4: unknown field why" in bad.stderr


def test_pre_commit_hook_scans_staged_dotenv_files(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    env = client_env(tmp_path / "home", GIT_CONFIG_NOSYSTEM="1", GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
                     GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com")

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)

    git("init", "-q", "-b", "main")
    setup = subprocess.run([str(envseal_binary()), "git", "setup", "--pattern", "*.sealed"], cwd=repo, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert setup.returncode == 0, setup.stderr.decode()
    token = "ghp_" + secrets.token_hex(18)
    (repo / ".env").write_text(f"GITHUB_TOKEN={token}\nLOG_LEVEL=info\n")
    git("add", "-A")
    refused = git("commit", "-q", "-m", "leak")
    assert refused.returncode != 0
    assert b".env:1: GITHUB_TOKEN: a GitHub token" in refused.stderr
    assert_not_contained(refused.stdout + refused.stderr, token, "the hook's output")
    # The staged version counts: fixing only the working tree does not let it through.
    (repo / ".env").write_text("LOG_LEVEL=info\n")
    assert git("commit", "-q", "-m", "leak").returncode != 0
    git("add", "-A")
    assert git("commit", "-q", "-m", "clean").returncode == 0
