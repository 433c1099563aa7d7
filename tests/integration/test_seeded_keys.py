"""Seeded keys: `envseal server --seed FILE` and `envseal keys seed FILE` create keys with fixed ids,
aliases and material, so that a ciphertext committed under tests/ (made by an earlier run, on
another key store with another root key) still decrypts, and an HMAC of a seeded HMAC key is the
one Python's hmac computes from the seed file's material."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from conftest import EnvsealServer, envseal_binary

FIXTURES = Path(__file__).parent / "fixtures"
SEED = FIXTURES / "seed.json"
# Made by an earlier run, and kept: `envseal server --seed fixtures/seed.json`, then Encrypt of
# PLAINTEXT under alias/seeded-fixture with CONTEXT. Remaking it is never needed while seed.json's
# first key keeps its id and material.
CIPHERTEXT = FIXTURES / "seeded-key.ciphertext"
CONTEXT = {"fixture": "seeded-key"}
PLAINTEXT = b"a fixture that outlives its key store"
SEEDED = "5eed0001-0000-4000-8000-000000000001"
SEEDED_MAC = "5eed0002-0000-4000-8000-000000000002"


class SeededServer(EnvsealServer):
    def extra_arguments(self) -> list[str]:
        return ["--seed", str(SEED)]


@pytest.fixture(scope="module")
def seeded() -> Iterator[SeededServer]:
    workdir = Path(tempfile.mkdtemp(prefix="envseal-it-seed-"))
    server = SeededServer(workdir)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def kms(seeded: SeededServer) -> object:
    return seeded.client(seeded.admin_credentials())


def seed_material(key_id: str) -> bytes:
    entry = next(key for key in json.loads(SEED.read_text())["keys"] if key["id"] == key_id)
    return base64.b64decode(entry["material"])


def test_a_seeded_server_decrypts_the_fixture_ciphertext(kms):
    opened = kms.decrypt(CiphertextBlob=CIPHERTEXT.read_bytes(), EncryptionContext=CONTEXT)
    assert opened["Plaintext"] == PLAINTEXT
    assert opened["KeyId"].endswith(f":key/{SEEDED}")


def test_seeded_keys_have_their_ids_aliases_and_tags(kms):
    meta = kms.describe_key(KeyId="alias/seeded-fixture")["KeyMetadata"]
    assert (meta["KeyId"], meta["Description"], meta["KeyState"]) == (SEEDED, "seeded fixture key (tests only)", "Enabled")
    assert kms.list_resource_tags(KeyId=SEEDED)["Tags"] == [{"TagKey": "purpose", "TagValue": "tests"}]
    mac_key = kms.describe_key(KeyId="alias/seeded-mac")["KeyMetadata"]
    assert (mac_key["KeyId"], mac_key["KeySpec"], mac_key["KeyUsage"]) == (SEEDED_MAC, "HMAC_256", "GENERATE_VERIFY_MAC")
    random_key = kms.describe_key(KeyId="5eed0003-0000-4000-8000-000000000003")["KeyMetadata"]
    assert random_key["KeySpec"] == "SYMMETRIC_DEFAULT"


def test_generate_mac_of_a_seeded_key_is_pythons_hmac(kms):
    message = b"amount=42&currency=EUR"
    made = kms.generate_mac(KeyId="alias/seeded-mac", Message=message, MacAlgorithm="HMAC_SHA_256")["Mac"]
    assert made == hmac.new(seed_material(SEEDED_MAC), message, hashlib.sha256).digest()
    # And VerifyMac accepts a MAC Python made.
    theirs = hmac.new(seed_material(SEEDED_MAC), b"made elsewhere", hashlib.sha256).digest()
    assert kms.verify_mac(KeyId=SEEDED_MAC, Message=b"made elsewhere", MacAlgorithm="HMAC_SHA_256", Mac=theirs)["MacValid"]


def test_restarting_with_the_same_seed_changes_nothing(seeded, kms):
    before = kms.encrypt(KeyId="alias/seeded-fixture", Plaintext=b"x")["CiphertextBlob"]
    seeded.stop()
    seeded.start()
    client = seeded.client(seeded.admin_credentials())
    assert "0 keys created, 3 already present" in seeded.stderr_text()
    assert client.decrypt(CiphertextBlob=before)["Plaintext"] == b"x"
    assert client.decrypt(CiphertextBlob=CIPHERTEXT.read_bytes(), EncryptionContext=CONTEXT)["Plaintext"] == PLAINTEXT
    keys = [entry["KeyId"] for entry in client.list_keys()["Keys"]]
    assert sorted(keys) == sorted([SEEDED, SEEDED_MAC, "5eed0003-0000-4000-8000-000000000003"])


def run_cli(*args: str, keystore: Path) -> "subprocess.CompletedProcess[str]":
    import subprocess

    return subprocess.run([str(envseal_binary()), *args, "--keystore", str(keystore)], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)


def test_keys_seed_on_the_embedded_store_is_idempotent_and_refuses_conflicts(tmp_path):
    keystore = tmp_path / "KeyStore"
    first = run_cli("keys", "seed", str(SEED), keystore=keystore)
    assert first.returncode == 0, first.stderr
    assert "3 keys created, 0 already present" in first.stdout
    again = run_cli("keys", "seed", str(SEED), keystore=keystore)
    assert again.returncode == 0, again.stderr
    assert "0 keys created, 3 already present" in again.stdout

    seed = json.loads(SEED.read_text())
    other = base64.b64encode(hashlib.sha256(b"other material").digest()).decode()
    seed["keys"][0]["material"] = other
    conflicting = tmp_path / "conflicting.json"
    conflicting.write_text(json.dumps(seed))
    refused = run_cli("keys", "seed", str(conflicting), keystore=keystore)
    assert refused.returncode == 78, refused.stderr
    assert SEEDED in refused.stderr and "material differs" in refused.stderr, refused.stderr
    assert other not in refused.stderr + refused.stdout

    seed["keys"][0]["material"] = base64.b64encode(b"short").decode()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(seed))
    refused = run_cli("keys", "seed", str(bad), keystore=keystore)
    assert refused.returncode == 78, refused.stderr
    assert f"keys[0] ({SEEDED})" in refused.stderr and "32 bytes" in refused.stderr, refused.stderr

    seed["keys"][0]["materail"] = seed["keys"][0].pop("material")
    bad.write_text(json.dumps(seed))
    refused = run_cli("keys", "seed", str(bad), keystore=keystore)
    assert refused.returncode == 78 and 'unknown member "materail"' in refused.stderr, refused.stderr
