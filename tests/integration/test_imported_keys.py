"""Imported key material (BYOK): CreateKey with Origin=EXTERNAL, GetParametersForImport,
ImportKeyMaterial and DeleteImportedKeyMaterial, driven by boto3 and the aws CLI, with the
material wrapped by Python's `cryptography` (RSA-OAEP with SHA-256, under the returned public
key). The material imported is the seeded fixture key's, so the fixture ciphertext made by an
earlier run on another key store opens once it is imported; the server restarts between
GetParametersForImport and ImportKeyMaterial."""

from __future__ import annotations

import base64
import datetime
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from conftest import EnvsealServer, run_tool, tool_path, client_env

FIXTURES = Path(__file__).parent / "fixtures"
SEED = FIXTURES / "seed.json"
CIPHERTEXT = FIXTURES / "seeded-key.ciphertext"
CONTEXT = {"fixture": "seeded-key"}
PLAINTEXT = b"a fixture that outlives its key store"
SEEDED = "5eed0001-0000-4000-8000-000000000001"


def seed_material(key_id: str) -> bytes:
    entry = next(key for key in json.loads(SEED.read_text())["keys"] if key["id"] == key_id)
    return base64.b64decode(entry["material"])


class ExternalSeedServer(EnvsealServer):
    """A server whose store holds the fixture key's id as an EXTERNAL key, without material."""

    def extra_arguments(self) -> list[str]:
        return ["--seed", str(self.workdir / "external-seed.json")]


@pytest.fixture(scope="module")
def server() -> Iterator[ExternalSeedServer]:
    workdir = Path(tempfile.mkdtemp(prefix="envseal-it-import-"))
    (workdir / "external-seed.json").write_text(json.dumps(
        {"keys": [{"id": SEEDED, "description": "the fixture key, imported", "origin": "EXTERNAL"}]}))
    server = ExternalSeedServer(workdir)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def kms(server: ExternalSeedServer) -> object:
    """A client per test: the first restarts the server, which comes back on another port."""
    return server.client(server.admin_credentials())


def wrap(material: bytes, public_key_der: bytes, sha1: bool = False) -> bytes:
    public_key = serialization.load_der_public_key(public_key_der)
    algorithm = hashes.SHA1() if sha1 else hashes.SHA256()
    return public_key.encrypt(material, padding.OAEP(mgf=padding.MGF1(algorithm=algorithm), algorithm=algorithm, label=None))


def error_code(call) -> str:
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response["Error"]["Code"]


def test_material_wrapped_by_cryptography_imports_across_a_restart_and_opens_a_ciphertext_made_elsewhere(server, kms):
    meta = kms.describe_key(KeyId=SEEDED)["KeyMetadata"]
    assert (meta["Origin"], meta["KeyState"], meta["Enabled"]) == ("EXTERNAL", "PendingImport", False)
    assert error_code(lambda: kms.decrypt(CiphertextBlob=CIPHERTEXT.read_bytes(), EncryptionContext=CONTEXT)) == "KMSInvalidStateException"

    params = kms.get_parameters_for_import(KeyId=SEEDED, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_3072")
    assert params["KeyId"].endswith(f":key/{SEEDED}")
    public_key = serialization.load_der_public_key(params["PublicKey"])
    assert public_key.key_size == 3072
    valid_for = params["ParametersValidTo"] - datetime.datetime.now(datetime.timezone.utc)
    assert datetime.timedelta(hours=23) < valid_for <= datetime.timedelta(hours=24)
    wrapped = wrap(seed_material(SEEDED), params["PublicKey"])

    # The wrapping key is in the store: a restarted server finishes the import.
    server.stop()
    server.start()
    client = server.client(server.admin_credentials())
    imported = client.import_key_material(KeyId=SEEDED, ImportToken=params["ImportToken"], EncryptedKeyMaterial=wrapped,
                                          ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    assert len(imported["KeyMaterialId"]) == 64
    meta = client.describe_key(KeyId=SEEDED)["KeyMetadata"]
    assert (meta["KeyState"], meta["ExpirationModel"]) == ("Enabled", "KEY_MATERIAL_DOES_NOT_EXPIRE")
    opened = client.decrypt(CiphertextBlob=CIPHERTEXT.read_bytes(), EncryptionContext=CONTEXT)
    assert opened["Plaintext"] == PLAINTEXT

    # Deleted, the key is PendingImport; the same material brings the ciphertext back, other material is refused.
    client.delete_imported_key_material(KeyId=SEEDED)
    assert client.describe_key(KeyId=SEEDED)["KeyMetadata"]["KeyState"] == "PendingImport"
    assert error_code(lambda: client.decrypt(CiphertextBlob=CIPHERTEXT.read_bytes(), EncryptionContext=CONTEXT)) == "KMSInvalidStateException"
    other = wrap(os.urandom(32), params["PublicKey"])
    assert error_code(lambda: client.import_key_material(
        KeyId=SEEDED, ImportToken=params["ImportToken"], EncryptedKeyMaterial=other,
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")) == "IncorrectKeyMaterialException"
    valid_to = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=30)
    client.import_key_material(KeyId=SEEDED, ImportToken=params["ImportToken"], EncryptedKeyMaterial=wrapped,
                               ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=valid_to)
    meta = client.describe_key(KeyId=SEEDED)["KeyMetadata"]
    assert meta["ExpirationModel"] == "KEY_MATERIAL_EXPIRES"
    assert abs((meta["ValidTo"] - valid_to).total_seconds()) < 1
    assert client.decrypt(CiphertextBlob=CIPHERTEXT.read_bytes(), EncryptionContext=CONTEXT)["Plaintext"] == PLAINTEXT


def test_a_new_external_key_and_the_errors(kms):
    key = kms.create_key(Origin="EXTERNAL", Description="byok")["KeyMetadata"]
    assert (key["Origin"], key["KeyState"]) == ("EXTERNAL", "PendingImport")
    key_id = key["KeyId"]
    assert error_code(lambda: kms.encrypt(KeyId=key_id, Plaintext=b"x")) == "KMSInvalidStateException"
    assert error_code(lambda: kms.enable_key_rotation(KeyId=key_id)) == "UnsupportedOperationException"
    assert error_code(lambda: kms.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm="RSA_AES_KEY_WRAP_SHA_256", WrappingKeySpec="RSA_2048")) == "UnsupportedOperationException"
    params = kms.get_parameters_for_import(KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    material = os.urandom(32)
    token = bytearray(params["ImportToken"])
    token[3] ^= 1
    assert error_code(lambda: kms.import_key_material(
        KeyId=key_id, ImportToken=bytes(token), EncryptedKeyMaterial=wrap(material, params["PublicKey"]),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")) == "InvalidImportTokenException"
    assert error_code(lambda: kms.import_key_material(
        KeyId=SEEDED, ImportToken=params["ImportToken"], EncryptedKeyMaterial=wrap(material, params["PublicKey"]),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")) == "InvalidImportTokenException"
    assert error_code(lambda: kms.import_key_material(
        KeyId=key_id, ImportToken=params["ImportToken"], EncryptedKeyMaterial=wrap(os.urandom(16), params["PublicKey"]),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")) == "IncorrectKeyMaterialException"
    assert error_code(lambda: kms.import_key_material(
        KeyId=key_id, ImportToken=params["ImportToken"], EncryptedKeyMaterial=wrap(material, params["PublicKey"]),
        ExpirationModel="KEY_MATERIAL_EXPIRES")) == "ValidationException"
    # RSAES_OAEP_SHA_1 too.
    sha1 = kms.get_parameters_for_import(KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_1", WrappingKeySpec="RSA_2048")
    kms.import_key_material(KeyId=key_id, ImportToken=sha1["ImportToken"], EncryptedKeyMaterial=wrap(material, sha1["PublicKey"], sha1=True),
                            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"byok")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"byok"
    # An AWS_KMS key takes no import.
    plain = kms.create_key()["KeyMetadata"]["KeyId"]
    assert error_code(lambda: kms.get_parameters_for_import(
        KeyId=plain, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")) == "UnsupportedOperationException"


def test_hmac_384_matches_pythons_hmac(kms):
    import hashlib
    import hmac

    key = kms.create_key(KeySpec="HMAC_384", KeyUsage="GENERATE_VERIFY_MAC", Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    material = os.urandom(48)
    params = kms.get_parameters_for_import(KeyId=key, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    kms.import_key_material(KeyId=key, ImportToken=params["ImportToken"], EncryptedKeyMaterial=wrap(material, params["PublicKey"]),
                            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    message = b"amount=42&currency=EUR"
    made = kms.generate_mac(KeyId=key, Message=message, MacAlgorithm="HMAC_SHA_384")["Mac"]
    assert made == hmac.new(material, message, hashlib.sha384).digest()
    assert kms.verify_mac(KeyId=key, Message=message, MacAlgorithm="HMAC_SHA_384", Mac=made)["MacValid"]
    random_key = kms.create_key(KeySpec="HMAC_384", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    assert random_key["MacAlgorithms"] == ["HMAC_SHA_384"]


def test_the_aws_cli_imports_key_material(server):
    home = server.workdir / "aws-cli-home"
    home.mkdir(exist_ok=True)
    binary = tool_path("aws")

    def aws(*args: str) -> dict:
        env = client_env(home, AWS_SHARED_CREDENTIALS_FILE=str(server.admin_credentials_path))
        result = run_tool([binary, "--endpoint-url", server.url, "--output", "json", *args], env, cwd=home)
        return json.loads(result.stdout) if result.stdout.strip() else {}

    key = aws("kms", "create-key", "--origin", "EXTERNAL")["KeyMetadata"]["KeyId"]
    params = aws("kms", "get-parameters-for-import", "--key-id", key, "--wrapping-algorithm", "RSAES_OAEP_SHA_256",
                 "--wrapping-key-spec", "RSA_2048")
    token_file = home / "token.bin"
    token_file.write_bytes(base64.b64decode(params["ImportToken"]))
    material_file = home / "material.bin"
    material_file.write_bytes(wrap(os.urandom(32), base64.b64decode(params["PublicKey"])))
    aws("kms", "import-key-material", "--key-id", key, "--import-token", f"fileb://{token_file}",
        "--encrypted-key-material", f"fileb://{material_file}", "--expiration-model", "KEY_MATERIAL_DOES_NOT_EXPIRE")
    assert aws("kms", "describe-key", "--key-id", key)["KeyMetadata"]["KeyState"] == "Enabled"
    aws("kms", "delete-imported-key-material", "--key-id", key)
    assert aws("kms", "describe-key", "--key-id", key)["KeyMetadata"]["KeyState"] == "PendingImport"
