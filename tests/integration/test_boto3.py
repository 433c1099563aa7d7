"""boto3 against the real envseal server: every operation it serves, its paginators, its errors
as boto3's exception classes, key policies, grants, and principals disabled from the CLI."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
import stat
import threading
import time
import uuid
from typing import Iterator

import pytest
from botocore.exceptions import ClientError

from conftest import (
    ACCOUNT_ID,
    KEY_ARN_PATTERN,
    REGION,
    assert_same_secret,
    assert_secret_differs,
)

UUID_PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
CONTEXT = {"LambdaFunctionName": "billing", "Stage": "prod"}


@contextlib.contextmanager
def kms_error(client: object, code: str, status: int, modeled: bool = True) -> Iterator[pytest.ExceptionInfo]:
    """Expects the block to raise the KMS error ``code`` with HTTP ``status``.

    ``modeled``: the error is in botocore's KMS model, so boto3 must raise its own exception class
    (``client.exceptions.<code>``); otherwise a ``ClientError`` with that code.
    """
    if modeled:
        expected = getattr(client.exceptions, code, None)
        assert expected is not None, f"{code} is not an exception class of boto3's KMS client"
    else:
        expected = ClientError
    with pytest.raises(expected) as info:
        yield info
    error = info.value.response
    assert error["Error"]["Code"] == code
    assert error["ResponseMetadata"]["HTTPStatusCode"] == status, (
        f"{code} came with HTTP {error['ResponseMetadata']['HTTPStatusCode']}, expected {status}"
    )
    assert error["ResponseMetadata"].get("RequestId"), f"{code} came without x-amzn-RequestId"
    assert "date" in error["ResponseMetadata"]["HTTPHeaders"], f"{code} came without a Date header"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def key_id_of(arn: str) -> str:
    return arn.rsplit("/", 1)[1]


# Every response the admin client receives, for the request-id and Date checks at the end.
RESPONSES: list[tuple[str, int, dict]] = []


@pytest.fixture(scope="module", autouse=True)
def record_responses(kms: object) -> None:
    def after_call(http_response, parsed, model, **_):
        RESPONSES.append((model.name, http_response.status_code, dict(parsed.get("ResponseMetadata", {}))))

    kms.meta.events.register("after-call.kms", after_call)


@pytest.fixture(scope="module")
def admin_arn(server) -> str:
    rows = json.loads(server.cli("principals", "list", "--output", "json").stdout)
    admins = [row for row in rows if row["admin"]]
    assert len(admins) == 1, f"expected one admin principal on a fresh store, found {len(admins)}"
    assert admins[0]["enabled"] is True
    return admins[0]["arn"]


# ---------------------------------------------------------------------------------------------
# The admin's credentials file


def test_admin_credentials_file_is_private_and_complete(server, admin):
    mode = stat.S_IMODE(os.stat(server.admin_credentials_path).st_mode)
    assert mode == 0o600, f"admin.credentials has mode {oct(mode)}"
    assert re.fullmatch(r"[A-Z0-9]{16,128}", admin.access_key_id), "the access key id is not shaped like AWS's"
    secret_length = len(admin.secret_access_key)
    assert secret_length >= 30, "the secret access key is short"
    assert admin.region == REGION


# ---------------------------------------------------------------------------------------------
# Keys


def test_create_describe_and_list_keys(kms, admin_arn):
    created = kms.create_key(Description="orders service", Tags=[{"TagKey": "team", "TagValue": "payments"}])
    meta = created["KeyMetadata"]
    assert KEY_ARN_PATTERN.match(meta["Arn"]), meta["Arn"]
    assert UUID_PATTERN.match(meta["KeyId"]) and meta["Arn"].endswith("/" + meta["KeyId"])
    assert meta["AWSAccountId"] == ACCOUNT_ID
    assert meta["Description"] == "orders service"
    assert meta["Enabled"] is True and meta["KeyState"] == "Enabled"
    assert meta["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert meta["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert meta["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
    assert meta["Origin"] == "AWS_KMS"
    assert meta["KeyManager"] == "CUSTOMER"
    assert meta["MultiRegion"] is False
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((meta["CreationDate"] - now).total_seconds()) < 120, "CreationDate is not now"

    for reference in (meta["KeyId"], meta["Arn"]):
        described = kms.describe_key(KeyId=reference)["KeyMetadata"]
        assert described["Arn"] == meta["Arn"] and described["KeyState"] == "Enabled"
        assert described["CreationDate"] == meta["CreationDate"]

    listed = kms.list_keys(Limit=1000)
    assert {"KeyId": meta["KeyId"], "KeyArn": meta["Arn"]} in listed["Keys"]
    assert listed["Truncated"] is False and "NextMarker" not in listed


def test_update_key_description(kms, kms_unvalidated, new_key):
    arn = new_key("before")
    assert kms.update_key_description(KeyId=arn, Description="after")["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert kms.describe_key(KeyId=arn)["KeyMetadata"]["Description"] == "after"
    with kms_error(kms_unvalidated, "ValidationException", 400, modeled=False):
        kms_unvalidated.update_key_description(KeyId=arn, Description="x" * 8193)


def test_disable_and_enable_key(kms, new_key):
    arn = new_key()
    blob = kms.encrypt(KeyId=arn, Plaintext=os.urandom(32))["CiphertextBlob"]
    kms.disable_key(KeyId=arn)
    meta = kms.describe_key(KeyId=arn)["KeyMetadata"]
    assert meta["KeyState"] == "Disabled" and meta["Enabled"] is False
    with kms_error(kms, "DisabledException", 409):
        kms.encrypt(KeyId=arn, Plaintext=b"x")
    with kms_error(kms, "DisabledException", 409):
        kms.decrypt(CiphertextBlob=blob)
    with kms_error(kms, "DisabledException", 409):
        kms.generate_data_key(KeyId=arn, KeySpec="AES_256")
    kms.enable_key(KeyId=arn)
    meta = kms.describe_key(KeyId=arn)["KeyMetadata"]
    assert meta["KeyState"] == "Enabled" and meta["Enabled"] is True
    kms.decrypt(CiphertextBlob=blob)


def test_schedule_and_cancel_key_deletion(kms, kms_unvalidated, new_key):
    arn = new_key()
    with kms_error(kms_unvalidated, "ValidationException", 400, modeled=False):
        kms_unvalidated.schedule_key_deletion(KeyId=arn, PendingWindowInDays=6)
    scheduled = kms.schedule_key_deletion(KeyId=arn, PendingWindowInDays=7)
    assert scheduled["KeyId"] == arn
    assert scheduled["KeyState"] == "PendingDeletion"
    assert scheduled["PendingWindowInDays"] == 7
    expected = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=7)
    assert abs((scheduled["DeletionDate"] - expected).total_seconds()) < 300, "DeletionDate is not 7 days away"
    meta = kms.describe_key(KeyId=arn)["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion" and meta["Enabled"] is False
    assert meta["DeletionDate"] == scheduled["DeletionDate"]
    assert meta.get("PendingDeletionWindowInDays") == 7
    assert arn in [entry["KeyArn"] for entry in kms.list_keys(Limit=1000)["Keys"]], "ListKeys must list a key pending deletion"
    with kms_error(kms, "KMSInvalidStateException", 409):
        kms.encrypt(KeyId=arn, Plaintext=b"x")
    with kms_error(kms, "KMSInvalidStateException", 409):
        kms.enable_key(KeyId=arn)
    with kms_error(kms, "KMSInvalidStateException", 409):
        kms.schedule_key_deletion(KeyId=arn, PendingWindowInDays=7)

    cancelled = kms.cancel_key_deletion(KeyId=arn)
    assert cancelled["KeyId"] == arn
    meta = kms.describe_key(KeyId=arn)["KeyMetadata"]
    assert meta["KeyState"] == "Disabled", "CancelKeyDeletion must leave the key Disabled"
    assert "DeletionDate" not in meta
    kms.enable_key(KeyId=arn)
    kms.encrypt(KeyId=arn, Plaintext=b"x")


def test_unknown_keys_are_not_found(kms):
    missing = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{uuid.uuid4()}"
    with kms_error(kms, "NotFoundException", 404):
        kms.describe_key(KeyId=missing)
    with kms_error(kms, "NotFoundException", 404):
        kms.describe_key(KeyId=str(uuid.uuid4()))
    with kms_error(kms, "NotFoundException", 404):
        kms.describe_key(KeyId="alias/never-created")


def test_malformed_arns(kms):
    with kms_error(kms, "InvalidArnException", 400):
        kms.describe_key(KeyId="arn:aws:s3:::a-bucket")
    with kms_error(kms, "InvalidArnException", 400):
        kms.describe_key(KeyId=f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/not-a-uuid")


def test_key_of_another_account_or_region_is_not_found(kms, new_key):
    key_id = key_id_of(new_key())
    with kms_error(kms, "NotFoundException", 404):
        kms.describe_key(KeyId=f"arn:aws:kms:{REGION}:444455556666:key/{key_id}")
    with kms_error(kms, "NotFoundException", 404):
        kms.describe_key(KeyId=f"arn:aws:kms:eu-west-1:{ACCOUNT_ID}:key/{key_id}")


def test_unsupported_key_specs(kms):
    with kms_error(kms, "UnsupportedOperationException", 400):
        kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")
    with kms_error(kms, "UnsupportedOperationException", 400):
        kms.create_key(MultiRegion=True)


# ---------------------------------------------------------------------------------------------
# HMAC keys


@pytest.mark.parametrize("spec,algorithm,length", [("HMAC_256", "HMAC_SHA_256", 32), ("HMAC_512", "HMAC_SHA_512", 64)])
def test_hmac_key_generate_and_verify(kms, spec, algorithm, length):
    meta = kms.create_key(KeySpec=spec, KeyUsage="GENERATE_VERIFY_MAC", Description="hmac")["KeyMetadata"]
    assert (meta["KeySpec"], meta["KeyUsage"], meta["MacAlgorithms"]) == (spec, "GENERATE_VERIFY_MAC", [algorithm])
    assert "EncryptionAlgorithms" not in meta
    arn = meta["Arn"]
    message = b"amount=42&currency=EUR"
    made = kms.generate_mac(KeyId=arn, Message=message, MacAlgorithm=algorithm)
    assert (made["KeyId"], made["MacAlgorithm"], len(made["Mac"])) == (arn, algorithm, length)
    assert kms.generate_mac(KeyId=meta["KeyId"], Message=message, MacAlgorithm=algorithm)["Mac"] == made["Mac"]
    verified = kms.verify_mac(KeyId=arn, Message=message, MacAlgorithm=algorithm, Mac=made["Mac"])
    assert (verified["KeyId"], verified["MacValid"], verified["MacAlgorithm"]) == (arn, True, algorithm)
    tampered = bytes([made["Mac"][0] ^ 1]) + made["Mac"][1:]
    for bad_message, bad_mac in [(message, tampered), (b"amount=43&currency=EUR", made["Mac"]), (message, made["Mac"][:-1])]:
        with kms_error(kms, "KMSInvalidMacException", 400):
            kms.verify_mac(KeyId=arn, Message=bad_message, MacAlgorithm=algorithm, Mac=bad_mac)


def test_hmac_key_refusals(kms, new_key):
    for spec in ("HMAC_224",):
        with kms_error(kms, "UnsupportedOperationException", 400) as info:
            kms.create_key(KeySpec=spec, KeyUsage="GENERATE_VERIFY_MAC")
        assert spec in info.value.response["Error"]["Message"]
    with kms_error(kms, "ValidationException", 400, modeled=False) as info:
        kms.create_key(KeySpec="HMAC_256")
    assert "KeyUsage" in info.value.response["Error"]["Message"]
    hmac_key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["Arn"]
    aes_key = new_key("encryption key")
    with kms_error(kms, "InvalidKeyUsageException", 400) as info:
        kms.encrypt(KeyId=hmac_key, Plaintext=b"x")
    assert "GENERATE_VERIFY_MAC" in info.value.response["Error"]["Message"]
    with kms_error(kms, "InvalidKeyUsageException", 400):
        kms.generate_data_key(KeyId=hmac_key, KeySpec="AES_256")
    with kms_error(kms, "InvalidKeyUsageException", 400):
        kms.generate_data_key_without_plaintext(KeyId=hmac_key, KeySpec="AES_256")
    with kms_error(kms, "InvalidKeyUsageException", 400) as info:
        kms.generate_mac(KeyId=aes_key, Message=b"m", MacAlgorithm="HMAC_SHA_256")
    assert info.value.response["Error"]["Message"] == f"{aes_key} key usage is ENCRYPT_DECRYPT which is not valid for GenerateMac."
    with kms_error(kms, "InvalidKeyUsageException", 400) as info:
        kms.generate_mac(KeyId=hmac_key, Message=b"m", MacAlgorithm="HMAC_SHA_512")
    assert info.value.response["Error"]["Message"] == "Algorithm HMAC_SHA_512 is incompatible with key spec HMAC_256."
    with kms_error(kms, "UnsupportedOperationException", 400):
        kms.enable_key_rotation(KeyId=hmac_key)
    kms.disable_key(KeyId=hmac_key)
    with kms_error(kms, "DisabledException", 409):
        kms.generate_mac(KeyId=hmac_key, Message=b"m", MacAlgorithm="HMAC_SHA_256")


def test_hmac_key_policy_condition_keys_and_grants(kms, admin_arn, make_principal):
    user = make_principal(unique("mac-user"))
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": admin_arn}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": user.arn}, "Action": "kms:GenerateMac", "Resource": "*",
         "Condition": {"StringEquals": {"kms:MacAlgorithm": "HMAC_SHA_512", "kms:KeySpec": "HMAC_512"}}},
    ]}
    arn = kms.create_key(KeySpec="HMAC_512", KeyUsage="GENERATE_VERIFY_MAC", Policy=json.dumps(policy))["KeyMetadata"]["Arn"]
    mac = user.client.generate_mac(KeyId=arn, Message=b"m", MacAlgorithm="HMAC_SHA_512")["Mac"]
    with kms_error(user.client, "AccessDeniedException", 400, modeled=False):
        user.client.verify_mac(KeyId=arn, Message=b"m", MacAlgorithm="HMAC_SHA_512", Mac=mac)
    with kms_error(kms, "ValidationException", 400, modeled=False):
        kms.create_grant(KeyId=arn, GranteePrincipal=user.arn, Operations=["VerifyMac", "Encrypt"])
    kms.create_grant(KeyId=arn, GranteePrincipal=user.arn, Operations=["VerifyMac"])
    assert user.client.verify_mac(KeyId=arn, Message=b"m", MacAlgorithm="HMAC_SHA_512", Mac=mac)["MacValid"] is True


# ---------------------------------------------------------------------------------------------
# Aliases


def test_alias_lifecycle(kms, new_key):
    first, second = new_key("first"), new_key("second")
    name = "alias/" + unique("orders")
    kms.create_alias(AliasName=name, TargetKeyId=first)

    aliases = kms.list_aliases(KeyId=first)["Aliases"]
    assert len(aliases) == 1
    entry = aliases[0]
    assert entry["AliasName"] == name
    assert entry["AliasArn"] == f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:{name}"
    assert entry["TargetKeyId"] == key_id_of(first)
    assert abs((entry["CreationDate"] - datetime.datetime.now(datetime.timezone.utc)).total_seconds()) < 120
    all_names = [entry["AliasName"] for entry in kms.list_aliases(Limit=100)["Aliases"]]
    assert name in all_names
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["Arn"] == first
    assert kms.describe_key(KeyId=f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:{name}")["KeyMetadata"]["Arn"] == first

    encrypted = kms.encrypt(KeyId=name, Plaintext=b"by alias")
    assert encrypted["KeyId"] == first
    alias_arn = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:{name}"
    assert kms.encrypt(KeyId=alias_arn, Plaintext=b"by alias ARN")["KeyId"] == first
    assert kms.decrypt(CiphertextBlob=encrypted["CiphertextBlob"], KeyId=name)["KeyId"] == first
    assert kms.decrypt(CiphertextBlob=encrypted["CiphertextBlob"], KeyId=alias_arn)["KeyId"] == first
    with kms_error(kms, "AlreadyExistsException", 409):
        kms.create_alias(AliasName=name, TargetKeyId=second)

    kms.update_alias(AliasName=name, TargetKeyId=second)
    assert kms.list_aliases(KeyId=second)["Aliases"][0]["AliasName"] == name
    assert kms.list_aliases(KeyId=first)["Aliases"] == []
    assert kms.encrypt(KeyId=name, Plaintext=b"by alias")["KeyId"] == second
    assert kms.decrypt(CiphertextBlob=encrypted["CiphertextBlob"])["KeyId"] == first

    kms.delete_alias(AliasName=name)
    assert name not in [entry["AliasName"] for entry in kms.list_aliases(Limit=100)["Aliases"]]
    with kms_error(kms, "NotFoundException", 404):
        kms.describe_key(KeyId=name)
    with kms_error(kms, "NotFoundException", 404):
        kms.delete_alias(AliasName=name)
    with kms_error(kms, "NotFoundException", 404):
        kms.update_alias(AliasName=name, TargetKeyId=first)


@pytest.mark.parametrize("name", ["alias/aws/reserved", "no-prefix"])
def test_invalid_alias_names(kms, new_key, name):
    with kms_error(kms, "InvalidAliasNameException", 400):
        kms.create_alias(AliasName=name, TargetKeyId=new_key())


# ---------------------------------------------------------------------------------------------
# Cryptography


def test_encrypt_and_decrypt(kms, new_key):
    arn = new_key()
    plaintext = os.urandom(100)
    encrypted = kms.encrypt(KeyId=arn, Plaintext=plaintext, EncryptionContext=CONTEXT)
    assert encrypted["KeyId"] == arn
    assert encrypted["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    blob = encrypted["CiphertextBlob"]
    assert isinstance(blob, bytes) and len(blob) > len(plaintext)
    assert_secret_differs(blob[: len(plaintext)], plaintext, "the ciphertext's first bytes")

    decrypted = kms.decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT)
    assert_same_secret(decrypted["Plaintext"], plaintext, "Decrypt's Plaintext")
    assert decrypted["KeyId"] == arn
    assert decrypted["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    # Naming the key, by id or ARN, is allowed.
    for reference in (arn, key_id_of(arn)):
        again = kms.decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT, KeyId=reference)
        assert_same_secret(again["Plaintext"], plaintext, "Decrypt's Plaintext with KeyId")
    # Two encryptions of the same plaintext differ.
    other_blob = kms.encrypt(KeyId=arn, Plaintext=plaintext, EncryptionContext=CONTEXT)["CiphertextBlob"]
    assert_secret_differs(other_blob, blob, "two encryptions of one plaintext")


def test_encrypt_limits(kms, kms_unvalidated, new_key):
    arn = new_key()
    blob = kms.encrypt(KeyId=arn, Plaintext=os.urandom(4096))["CiphertextBlob"]
    size = len(kms.decrypt(CiphertextBlob=blob)["Plaintext"])
    assert size == 4096
    with kms_error(kms_unvalidated, "ValidationException", 400, modeled=False):
        kms_unvalidated.encrypt(KeyId=arn, Plaintext=os.urandom(4097))


@pytest.mark.parametrize(
    "context",
    [None, {"LambdaFunctionName": "billing"}, {**CONTEXT, "Extra": "1"}, {"LambdaFunctionName": "Billing", "Stage": "prod"},
     {"lambdafunctionname": "billing", "Stage": "prod"}],
    ids=["missing", "pair-missing", "extra-pair", "value-case", "key-case"],
)
def test_wrong_encryption_context(kms, new_key, context):
    arn = new_key()
    blob = kms.encrypt(KeyId=arn, Plaintext=os.urandom(16), EncryptionContext=CONTEXT)["CiphertextBlob"]
    kwargs = {} if context is None else {"EncryptionContext": context}
    with kms_error(kms, "InvalidCiphertextException", 400):
        kms.decrypt(CiphertextBlob=blob, **kwargs)


def test_tampered_ciphertext(kms, new_key):
    arn = new_key()
    blob = kms.encrypt(KeyId=arn, Plaintext=os.urandom(32), EncryptionContext=CONTEXT)["CiphertextBlob"]
    for position in sorted({0, 1, len(blob) // 2, len(blob) - 17, len(blob) - 1}):
        tampered = bytearray(blob)
        tampered[position] ^= 0x01
        with kms_error(kms, "InvalidCiphertextException", 400):
            kms.decrypt(CiphertextBlob=bytes(tampered), EncryptionContext=CONTEXT)
    with kms_error(kms, "InvalidCiphertextException", 400):
        kms.decrypt(CiphertextBlob=blob[:-1], EncryptionContext=CONTEXT)
    with kms_error(kms, "InvalidCiphertextException", 400):
        kms.decrypt(CiphertextBlob=os.urandom(len(blob)), EncryptionContext=CONTEXT)
    # The genuine one still opens.
    kms.decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT)


def test_decrypt_with_another_key_is_incorrect_key(kms, new_key):
    right, wrong = new_key(), new_key()
    blob = kms.encrypt(KeyId=right, Plaintext=b"payload")["CiphertextBlob"]
    with kms_error(kms, "IncorrectKeyException", 400):
        kms.decrypt(CiphertextBlob=blob, KeyId=wrong)


def test_re_encrypt(kms, new_key):
    source, destination = new_key(), new_key()
    plaintext = os.urandom(48)
    blob = kms.encrypt(KeyId=source, Plaintext=plaintext, EncryptionContext=CONTEXT)["CiphertextBlob"]
    moved = kms.re_encrypt(
        CiphertextBlob=blob, SourceEncryptionContext=CONTEXT, DestinationKeyId=destination,
        DestinationEncryptionContext={"Stage": "staging"},
    )
    has_plaintext = "Plaintext" in moved
    assert not has_plaintext, "ReEncrypt must not return a plaintext"
    assert moved["SourceKeyId"] == source and moved["KeyId"] == destination
    assert moved["SourceEncryptionAlgorithm"] == moved["DestinationEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    decrypted = kms.decrypt(CiphertextBlob=moved["CiphertextBlob"], EncryptionContext={"Stage": "staging"})
    assert decrypted["KeyId"] == destination
    assert_same_secret(decrypted["Plaintext"], plaintext, "the re-encrypted plaintext")
    with kms_error(kms, "InvalidCiphertextException", 400):
        kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=destination)  # source context missing
    with kms_error(kms, "IncorrectKeyException", 400):
        kms.re_encrypt(CiphertextBlob=blob, SourceEncryptionContext=CONTEXT, SourceKeyId=destination,
                       DestinationKeyId=destination)


def test_generate_data_key(kms, kms_unvalidated, new_key):
    arn = new_key()
    for spec, size in (("AES_256", 32), ("AES_128", 16)):
        generated = kms.generate_data_key(KeyId=arn, KeySpec=spec, EncryptionContext=CONTEXT)
        assert generated["KeyId"] == arn
        got = len(generated["Plaintext"]) if isinstance(generated["Plaintext"], bytes) else None
        assert got == size, f"a {spec} data key of {got} bytes"
        opened = kms.decrypt(CiphertextBlob=generated["CiphertextBlob"], EncryptionContext=CONTEXT)
        assert_same_secret(opened["Plaintext"], generated["Plaintext"], f"the {spec} data key")
    generated = kms.generate_data_key(KeyId=arn, NumberOfBytes=64)
    got = len(generated["Plaintext"])
    assert got == 64
    other = kms.generate_data_key(KeyId=arn, NumberOfBytes=64)
    assert_secret_differs(other["Plaintext"], generated["Plaintext"], "two data keys")
    with kms_error(kms_unvalidated, "ValidationException", 400, modeled=False):
        kms_unvalidated.generate_data_key(KeyId=arn, KeySpec="AES_256", NumberOfBytes=32)
    with kms_error(kms_unvalidated, "ValidationException", 400, modeled=False):
        kms_unvalidated.generate_data_key(KeyId=arn)
    with kms_error(kms_unvalidated, "ValidationException", 400, modeled=False):
        kms_unvalidated.generate_data_key(KeyId=arn, NumberOfBytes=1025)


def test_generate_data_key_without_plaintext(kms, new_key):
    arn = new_key()
    generated = kms.generate_data_key_without_plaintext(KeyId=arn, KeySpec="AES_256", EncryptionContext=CONTEXT)
    has_plaintext = "Plaintext" in generated
    assert not has_plaintext, "GenerateDataKeyWithoutPlaintext returned a plaintext"
    assert generated["KeyId"] == arn
    opened = kms.decrypt(CiphertextBlob=generated["CiphertextBlob"], EncryptionContext=CONTEXT)
    got = len(opened["Plaintext"])
    assert got == 32


def test_generate_random(kms, kms_unvalidated):
    first = kms.generate_random(NumberOfBytes=32)["Plaintext"]
    second = kms.generate_random(NumberOfBytes=32)["Plaintext"]
    sizes = (len(first), len(second))
    assert sizes == (32, 32)
    assert_secret_differs(first, second, "two GenerateRandom results")
    got = len(kms.generate_random(NumberOfBytes=1024)["Plaintext"])
    assert got == 1024
    with kms_error(kms_unvalidated, "ValidationException", 400, modeled=False):
        kms_unvalidated.generate_random(NumberOfBytes=1025)
    with kms_error(kms, "UnsupportedOperationException", 400):
        kms.generate_random(NumberOfBytes=8, CustomKeyStoreId="cks-1234567890abcdef0")


def test_dry_run(kms, new_key):
    arn = new_key()
    with kms_error(kms, "DryRunOperationException", 412):
        kms.encrypt(KeyId=arn, Plaintext=b"x", DryRun=True)
    blob = kms.encrypt(KeyId=arn, Plaintext=b"x")["CiphertextBlob"]
    with kms_error(kms, "DryRunOperationException", 412):
        kms.decrypt(CiphertextBlob=blob, DryRun=True)
    with kms_error(kms, "DryRunOperationException", 412):
        kms.generate_data_key(KeyId=arn, KeySpec="AES_256", DryRun=True)
    with kms_error(kms, "DryRunOperationException", 412):
        kms.create_grant(KeyId=arn, GranteePrincipal=f"arn:aws:iam::{ACCOUNT_ID}:user/nobody",
                         Operations=["Decrypt"], DryRun=True)
    assert kms.list_grants(KeyId=arn)["Grants"] == [], "a DryRun CreateGrant created a grant"


# ---------------------------------------------------------------------------------------------
# Rotation


def test_key_rotation_settings(kms, kms_unvalidated, new_key):
    arn = new_key()
    status = kms.get_key_rotation_status(KeyId=arn)
    assert status["KeyRotationEnabled"] is False
    kms.enable_key_rotation(KeyId=arn, RotationPeriodInDays=180)
    status = kms.get_key_rotation_status(KeyId=arn)
    assert status["KeyRotationEnabled"] is True
    assert status["RotationPeriodInDays"] == 180
    assert status["KeyId"] == arn
    expected = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=180)
    assert abs((status["NextRotationDate"] - expected).total_seconds()) < 86400 + 300
    kms.disable_key_rotation(KeyId=arn)
    assert kms.get_key_rotation_status(KeyId=arn)["KeyRotationEnabled"] is False
    for days in (89, 2561):
        with kms_error(kms_unvalidated, "ValidationException", 400, modeled=False):
            kms_unvalidated.enable_key_rotation(KeyId=arn, RotationPeriodInDays=days)
    kms.disable_key(KeyId=arn)
    with kms_error(kms, "DisabledException", 409):
        kms.enable_key_rotation(KeyId=arn)


def test_rotate_on_demand_keeps_old_ciphertexts(kms, new_key):
    arn = new_key()
    plaintext = os.urandom(24)
    before = kms.encrypt(KeyId=arn, Plaintext=plaintext)["CiphertextBlob"]
    rotated = kms.rotate_key_on_demand(KeyId=arn)
    assert rotated["KeyId"] == arn
    after = kms.encrypt(KeyId=arn, Plaintext=plaintext)["CiphertextBlob"]
    assert_same_secret(kms.decrypt(CiphertextBlob=before)["Plaintext"], plaintext, "a pre-rotation ciphertext")
    assert_same_secret(kms.decrypt(CiphertextBlob=after)["Plaintext"], plaintext, "a post-rotation ciphertext")
    rotations = kms.list_key_rotations(KeyId=arn)["Rotations"]
    assert len(rotations) == 1
    assert rotations[0]["KeyId"] == arn and rotations[0]["RotationType"] == "ON_DEMAND"
    assert abs((rotations[0]["RotationDate"] - datetime.datetime.now(datetime.timezone.utc)).total_seconds()) < 120


def test_on_demand_rotation_limit_and_list_key_rotations_paginator(kms, new_key):
    arn = new_key()
    for _ in range(25):
        kms.rotate_key_on_demand(KeyId=arn)
    with kms_error(kms, "LimitExceededException", 400):
        kms.rotate_key_on_demand(KeyId=arn)
    pages = list(kms.get_paginator("list_key_rotations").paginate(KeyId=arn, PaginationConfig={"PageSize": 10}))
    assert [len(page["Rotations"]) for page in pages] == [10, 10, 5]
    assert [page["Truncated"] for page in pages] == [True, True, False]
    assert all(rotation["KeyId"] == arn for page in pages for rotation in page["Rotations"])
    dates = [rotation["RotationDate"] for page in pages for rotation in page["Rotations"]]
    assert len(dates) == 25


# ---------------------------------------------------------------------------------------------
# Policies


def test_default_key_policy_names_only_the_creator(kms, new_key, admin_arn):
    arn = new_key()
    assert kms.list_key_policies(KeyId=arn)["PolicyNames"] == ["default"]
    policy = json.loads(kms.get_key_policy(KeyId=arn, PolicyName="default")["Policy"])
    statements = policy["Statement"]
    allowed = []
    for statement in statements:
        assert statement["Effect"] == "Allow"
        principals = statement["Principal"]["AWS"]
        allowed += principals if isinstance(principals, list) else [principals]
        assert statement["Action"] in ("kms:*", ["kms:*"])
    assert set(allowed) == {admin_arn}, f"the default policy allows {sorted(set(allowed))}"
    # GetKeyPolicy without PolicyName is allowed by the newer model; PolicyName other than default is not found.
    with kms_error(kms, "NotFoundException", 404):
        kms.get_key_policy(KeyId=arn, PolicyName="other")


def test_put_key_policy(kms, new_key, admin_arn):
    arn = new_key()
    policy = {
        "Version": "2012-10-17",
        "Id": "custom",
        "Statement": [
            {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": admin_arn}, "Action": "kms:*", "Resource": "*"},
        ],
    }
    kms.put_key_policy(KeyId=arn, PolicyName="default", Policy=json.dumps(policy))
    assert json.loads(kms.get_key_policy(KeyId=arn, PolicyName="default")["Policy"]) == policy

    with kms_error(kms, "MalformedPolicyDocumentException", 400):
        kms.put_key_policy(KeyId=arn, PolicyName="default", Policy="{not json")
    with kms_error(kms, "MalformedPolicyDocumentException", 400):
        kms.put_key_policy(KeyId=arn, PolicyName="default", Policy=json.dumps({"Version": "2012-10-17", "Statement": "x"}))
    lockout = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:user/someone-else"},
                       "Action": "kms:*", "Resource": "*"}],
    }
    with kms_error(kms, "MalformedPolicyDocumentException", 400):
        kms.put_key_policy(KeyId=arn, PolicyName="default", Policy=json.dumps(lockout))
    assert json.loads(kms.get_key_policy(KeyId=arn, PolicyName="default")["Policy"]) == policy


def test_least_privilege_principal(kms, new_key, make_principal, admin_arn):
    billing = make_principal("billing")
    assert billing.arn == f"arn:aws:iam::{ACCOUNT_ID}:user/billing"
    arn = new_key("billing secrets")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": admin_arn}, "Action": "kms:*", "Resource": "*"},
            {
                "Sid": "BillingDecryptsItsOwn",
                "Effect": "Allow",
                "Principal": {"AWS": billing.arn},
                "Action": "kms:Decrypt",
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:EncryptionContext:LambdaFunctionName": "billing"}},
            },
        ],
    }
    kms.put_key_policy(KeyId=arn, PolicyName="default", Policy=json.dumps(policy))
    secret = os.urandom(32)
    own = kms.encrypt(KeyId=arn, Plaintext=secret, EncryptionContext={"LambdaFunctionName": "billing"})["CiphertextBlob"]
    other = kms.encrypt(KeyId=arn, Plaintext=secret, EncryptionContext={"LambdaFunctionName": "orders"})["CiphertextBlob"]
    bare = kms.encrypt(KeyId=arn, Plaintext=secret)["CiphertextBlob"]

    client = billing.client
    opened = client.decrypt(CiphertextBlob=own, EncryptionContext={"LambdaFunctionName": "billing"})
    assert_same_secret(opened["Plaintext"], secret, "billing's Decrypt")
    assert opened["KeyId"] == arn

    with kms_error(client, "AccessDeniedException", 400, modeled=False) as denied:
        client.decrypt(CiphertextBlob=other, EncryptionContext={"LambdaFunctionName": "orders"})
    message = denied.value.response["Error"]["Message"]
    assert billing.arn in message and "kms:Decrypt" in message, f"AccessDenied message: {message}"
    with kms_error(client, "AccessDeniedException", 400, modeled=False):
        client.decrypt(CiphertextBlob=bare)
    with kms_error(client, "AccessDeniedException", 400, modeled=False) as denied:
        client.encrypt(KeyId=arn, Plaintext=b"x", EncryptionContext={"LambdaFunctionName": "billing"})
    message = denied.value.response["Error"]["Message"]
    assert billing.arn in message and "kms:Encrypt" in message, f"AccessDenied message: {message}"
    with kms_error(client, "AccessDeniedException", 400, modeled=False):
        client.describe_key(KeyId=arn)
    with kms_error(client, "AccessDeniedException", 400, modeled=False):
        client.put_key_policy(KeyId=arn, PolicyName="default", Policy=json.dumps(policy))
    with kms_error(client, "AccessDeniedException", 400, modeled=False) as denied:
        client.create_key(Description="not an admin")
    assert billing.arn in denied.value.response["Error"]["Message"]


def test_explicit_deny_beats_allow(kms, new_key, make_principal, admin_arn):
    auditor = make_principal("auditor")
    arn = new_key()
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": admin_arn}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "AuditorAll", "Effect": "Allow", "Principal": {"AWS": auditor.arn}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "NoDecrypt", "Effect": "Deny", "Principal": {"AWS": auditor.arn}, "Action": ["kms:Decrypt", "kms:ReEncrypt*"],
             "Resource": "*"},
        ],
    }
    kms.put_key_policy(KeyId=arn, PolicyName="default", Policy=json.dumps(policy))
    client = auditor.client
    blob = client.encrypt(KeyId=arn, Plaintext=b"audited")["CiphertextBlob"]
    assert client.describe_key(KeyId=arn)["KeyMetadata"]["Arn"] == arn
    with kms_error(client, "AccessDeniedException", 400, modeled=False) as denied:
        client.decrypt(CiphertextBlob=blob)
    assert "kms:Decrypt" in denied.value.response["Error"]["Message"]
    with kms_error(client, "AccessDeniedException", 400, modeled=False):
        client.re_encrypt(CiphertextBlob=blob, DestinationKeyId=arn)
    # A grant does not override an explicit deny either.
    kms.create_grant(KeyId=arn, GranteePrincipal=auditor.arn, Operations=["Decrypt"])
    with kms_error(client, "AccessDeniedException", 400, modeled=False):
        client.decrypt(CiphertextBlob=blob)


def test_re_encrypt_needs_from_and_to(kms, new_key, make_principal, admin_arn):
    mover = make_principal("mover")
    source, destination = new_key("source"), new_key("destination")

    def allow(arn, actions):
        kms.put_key_policy(KeyId=arn, PolicyName="default", Policy=json.dumps({
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": admin_arn}, "Action": "kms:*", "Resource": "*"},
                {"Effect": "Allow", "Principal": {"AWS": mover.arn}, "Action": actions, "Resource": "*"},
            ],
        }))

    allow(source, ["kms:Decrypt", "kms:Encrypt"])
    allow(destination, ["kms:Decrypt", "kms:Encrypt"])
    blob = kms.encrypt(KeyId=source, Plaintext=b"moving")["CiphertextBlob"]
    with kms_error(mover.client, "AccessDeniedException", 400, modeled=False):
        mover.client.re_encrypt(CiphertextBlob=blob, DestinationKeyId=destination)
    allow(source, ["kms:ReEncryptFrom"])
    with kms_error(mover.client, "AccessDeniedException", 400, modeled=False) as denied:
        mover.client.re_encrypt(CiphertextBlob=blob, DestinationKeyId=destination)
    assert "kms:ReEncryptTo" in denied.value.response["Error"]["Message"]
    allow(destination, ["kms:ReEncryptTo", "kms:Decrypt"])
    moved = mover.client.re_encrypt(CiphertextBlob=blob, DestinationKeyId=destination)
    has_plaintext = "Plaintext" in moved
    assert not has_plaintext and moved["KeyId"] == destination
    assert mover.client.decrypt(CiphertextBlob=moved["CiphertextBlob"])["KeyId"] == destination


def test_key_created_with_a_policy(kms, make_principal, admin_arn):
    reader = make_principal("policy-reader")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": admin_arn}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "Reader", "Effect": "Allow", "Principal": {"AWS": reader.arn},
             "Action": ["kms:DescribeKey", "kms:GenerateDataKey"], "Resource": "*"},
        ],
    }
    arn = kms.create_key(Policy=json.dumps(policy))["KeyMetadata"]["Arn"]
    assert json.loads(kms.get_key_policy(KeyId=arn, PolicyName="default")["Policy"]) == policy
    assert reader.client.describe_key(KeyId=arn)["KeyMetadata"]["Arn"] == arn
    generated = reader.client.generate_data_key(KeyId=arn, KeySpec="AES_256")
    with kms_error(reader.client, "AccessDeniedException", 400, modeled=False):
        reader.client.decrypt(CiphertextBlob=generated["CiphertextBlob"])
    with kms_error(kms, "MalformedPolicyDocumentException", 400):
        kms.create_key(Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": reader.arn}, "Action": "kms:*", "Resource": "*"}]}))


def test_account_operations_for_non_admins(make_principal, new_key):
    arn = new_key()
    plain = make_principal("plain-user")
    listed = [entry["KeyArn"] for entry in plain.client.list_keys(Limit=1000)["Keys"]]
    assert arn in listed, "ListKeys is open to every principal of the account"
    got = len(plain.client.generate_random(NumberOfBytes=16)["Plaintext"])
    assert got == 16
    plain.client.list_aliases()


def test_unicode_encryption_context(kms, new_key):
    arn = new_key()
    context = {"名前": "値", "emoji": "🔐", "quote\"slash/": "a=b,c"}
    plaintext = os.urandom(16)
    blob = kms.encrypt(KeyId=arn, Plaintext=plaintext, EncryptionContext=context)["CiphertextBlob"]
    assert_same_secret(kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)["Plaintext"], plaintext,
                       "Decrypt with a Unicode encryption context")
    with kms_error(kms, "InvalidCiphertextException", 400):
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={**context, "emoji": "🔑"})


def test_grant_with_encryption_context_equals_for_data_keys(kms, new_key, make_principal):
    worker = make_principal("datakey-worker")
    arn = new_key()
    exact = {"Tenant": "acme"}
    grant = kms.create_grant(KeyId=arn, GranteePrincipal=worker.arn, Operations=["GenerateDataKey", "Decrypt"],
                             Constraints={"EncryptionContextEquals": exact})
    generated = worker.client.generate_data_key(KeyId=arn, KeySpec="AES_256", EncryptionContext=exact)
    opened = worker.client.decrypt(CiphertextBlob=generated["CiphertextBlob"], EncryptionContext=exact)
    assert_same_secret(opened["Plaintext"], generated["Plaintext"], "the data key through an EncryptionContextEquals grant")
    with kms_error(worker.client, "AccessDeniedException", 400, modeled=False):
        worker.client.generate_data_key(KeyId=arn, KeySpec="AES_256", EncryptionContext={**exact, "More": "1"})
    with kms_error(worker.client, "AccessDeniedException", 400, modeled=False):
        worker.client.generate_data_key(KeyId=arn, KeySpec="AES_256")
    # The grantee may not retire it (no RetireGrant operation, not the retiring principal); the admin may revoke.
    with kms_error(worker.client, "AccessDeniedException", 400, modeled=False):
        worker.client.retire_grant(KeyId=arn, GrantId=grant["GrantId"])
    kms.revoke_grant(KeyId=arn, GrantId=grant["GrantId"])


def test_grant_for_decrypt_used_then_retired(kms, new_key, make_principal):
    worker = make_principal("payroll-worker")
    arn = new_key("payroll")
    context = {"Purpose": "payroll", "Run": "2026-11"}
    secret = os.urandom(32)
    blob = kms.encrypt(KeyId=arn, Plaintext=secret, EncryptionContext=context)["CiphertextBlob"]
    off_purpose = kms.encrypt(KeyId=arn, Plaintext=secret, EncryptionContext={"Purpose": "audit"})["CiphertextBlob"]
    client = worker.client
    with kms_error(client, "AccessDeniedException", 400, modeled=False):
        client.decrypt(CiphertextBlob=blob, EncryptionContext=context)

    grant = kms.create_grant(
        KeyId=arn, GranteePrincipal=worker.arn, RetiringPrincipal=worker.arn, Operations=["Decrypt"],
        Constraints={"EncryptionContextSubset": {"Purpose": "payroll"}}, Name="payroll-decrypt",
    )
    assert re.fullmatch(r"[0-9a-f]{64}", grant["GrantId"]) or grant["GrantId"], "no GrantId"
    assert grant["GrantToken"]
    again = kms.create_grant(
        KeyId=arn, GranteePrincipal=worker.arn, RetiringPrincipal=worker.arn, Operations=["Decrypt"],
        Constraints={"EncryptionContextSubset": {"Purpose": "payroll"}}, Name="payroll-decrypt",
    )
    assert again["GrantId"] == grant["GrantId"], "a repeated named CreateGrant must return the same grant"

    listed = kms.list_grants(KeyId=arn)["Grants"]
    assert len(listed) == 1
    entry = listed[0]
    assert entry["KeyId"] == arn and entry["GrantId"] == grant["GrantId"] and entry["Name"] == "payroll-decrypt"
    assert entry["GranteePrincipal"] == worker.arn and entry["RetiringPrincipal"] == worker.arn
    assert entry["Operations"] == ["Decrypt"]
    assert entry["Constraints"] == {"EncryptionContextSubset": {"Purpose": "payroll"}}
    assert entry["IssuingAccount"] == f"arn:aws:iam::{ACCOUNT_ID}:root"
    assert kms.list_grants(KeyId=arn, GranteePrincipal=worker.arn)["Grants"][0]["GrantId"] == grant["GrantId"]
    assert kms.list_grants(KeyId=arn, GrantId=grant["GrantId"])["Grants"][0]["GrantId"] == grant["GrantId"]

    opened = client.decrypt(CiphertextBlob=blob, EncryptionContext=context, GrantTokens=[grant["GrantToken"]])
    assert_same_secret(opened["Plaintext"], secret, "Decrypt through the grant")
    opened = client.decrypt(CiphertextBlob=blob, EncryptionContext=context)
    assert_same_secret(opened["Plaintext"], secret, "Decrypt through the grant without its token")
    with kms_error(client, "AccessDeniedException", 400, modeled=False):
        client.decrypt(CiphertextBlob=off_purpose, EncryptionContext={"Purpose": "audit"})
    with kms_error(client, "AccessDeniedException", 400, modeled=False):
        client.encrypt(KeyId=arn, Plaintext=b"x", EncryptionContext=context)

    retirable = client.list_retirable_grants(RetiringPrincipal=worker.arn)["Grants"]
    assert [g["GrantId"] for g in retirable] == [grant["GrantId"]]
    with kms_error(client, "AccessDeniedException", 400, modeled=False):
        client.list_retirable_grants(RetiringPrincipal=f"arn:aws:iam::{ACCOUNT_ID}:user/admin")

    client.retire_grant(GrantToken=grant["GrantToken"])
    assert kms.list_grants(KeyId=arn)["Grants"] == []
    assert client.list_retirable_grants(RetiringPrincipal=worker.arn)["Grants"] == []
    with kms_error(client, "AccessDeniedException", 400, modeled=False):
        client.decrypt(CiphertextBlob=blob, EncryptionContext=context)
    with kms_error(client, "InvalidGrantTokenException", 400):
        client.retire_grant(GrantToken=grant["GrantToken"])


def test_revoke_grant_and_invalid_grant_tokens(kms, new_key, make_principal):
    reader = make_principal("reader")
    arn = new_key()
    grant = kms.create_grant(KeyId=arn, GranteePrincipal=reader.arn, Operations=["Decrypt", "Encrypt"])
    blob = reader.client.encrypt(KeyId=arn, Plaintext=b"through a grant")["CiphertextBlob"]
    reader.client.decrypt(CiphertextBlob=blob)
    kms.revoke_grant(KeyId=arn, GrantId=grant["GrantId"])
    assert kms.list_grants(KeyId=arn)["Grants"] == []
    with kms_error(reader.client, "AccessDeniedException", 400, modeled=False):
        reader.client.decrypt(CiphertextBlob=blob)
    with kms_error(kms, "NotFoundException", 404):
        kms.revoke_grant(KeyId=arn, GrantId=grant["GrantId"])
    with kms_error(kms, "InvalidGrantTokenException", 400):
        kms.encrypt(KeyId=arn, Plaintext=b"x", GrantTokens=["not-a-grant-token"])
    with kms_error(kms, "InvalidGrantTokenException", 400):
        kms.retire_grant(GrantToken="not-a-grant-token")
    with kms_error(reader.client, "AccessDeniedException", 400, modeled=False):
        reader.client.revoke_grant(KeyId=arn, GrantId=grant["GrantId"])


def test_list_grants_paginator(kms, new_key):
    arn = new_key()
    created = set()
    for index in range(5):
        grant = kms.create_grant(KeyId=arn, GranteePrincipal=f"arn:aws:iam::{ACCOUNT_ID}:user/grantee-{index}",
                                 Operations=["Decrypt"])
        created.add(grant["GrantId"])
    pages = list(kms.get_paginator("list_grants").paginate(KeyId=arn, PaginationConfig={"PageSize": 2}))
    assert [len(page["Grants"]) for page in pages] == [2, 2, 1]
    seen = [g["GrantId"] for page in pages for g in page["Grants"]]
    assert len(seen) == len(set(seen)) == 5 and set(seen) == created


def test_list_retirable_grants_paginator(kms, new_key):
    retiring = f"arn:aws:iam::{ACCOUNT_ID}:user/retirer-{uuid.uuid4().hex[:8]}"
    created = set()
    for index in range(3):
        arn = new_key(f"retirable {index}")
        grant = kms.create_grant(KeyId=arn, GranteePrincipal=f"arn:aws:iam::{ACCOUNT_ID}:user/g{index}",
                                 RetiringPrincipal=retiring, Operations=["Encrypt"])
        created.add(grant["GrantId"])
    pages = list(kms.get_paginator("list_retirable_grants").paginate(
        RetiringPrincipal=retiring, PaginationConfig={"PageSize": 2}))
    assert [len(page["Grants"]) for page in pages] == [2, 1]
    assert {g["GrantId"] for page in pages for g in page["Grants"]} == created
    assert all(g["RetiringPrincipal"] == retiring for page in pages for g in page["Grants"])


# ---------------------------------------------------------------------------------------------
# Tags


def test_tags(kms, new_key):
    arn = new_key()
    kms.tag_resource(KeyId=arn, Tags=[{"TagKey": "team", "TagValue": "payments"}, {"TagKey": "env", "TagValue": "prod"}])
    tags = kms.list_resource_tags(KeyId=arn)
    assert sorted(tags["Tags"], key=lambda t: t["TagKey"]) == [
        {"TagKey": "env", "TagValue": "prod"}, {"TagKey": "team", "TagValue": "payments"}]
    assert tags["Truncated"] is False
    kms.tag_resource(KeyId=arn, Tags=[{"TagKey": "env", "TagValue": "staging"}])
    assert {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=arn)["Tags"]} == {
        "env": "staging", "team": "payments"}
    kms.untag_resource(KeyId=arn, TagKeys=["team"])
    assert kms.list_resource_tags(KeyId=arn)["Tags"] == [{"TagKey": "env", "TagValue": "staging"}]
    with kms_error(kms, "TagException", 400):
        kms.tag_resource(KeyId=arn, Tags=[{"TagKey": "aws:reserved", "TagValue": "x"}])
    with kms_error(kms, "TagException", 400):
        kms.create_key(Tags=[{"TagKey": "aws:reserved", "TagValue": "x"}])
    created = kms.create_key(Tags=[{"TagKey": "at-creation", "TagValue": "yes"}])["KeyMetadata"]["Arn"]
    assert kms.list_resource_tags(KeyId=created)["Tags"] == [{"TagKey": "at-creation", "TagValue": "yes"}]


def test_list_resource_tags_paginator(kms, new_key):
    arn = new_key()
    tags = [{"TagKey": f"k{index}", "TagValue": f"v{index}"} for index in range(5)]
    kms.tag_resource(KeyId=arn, Tags=tags)
    pages = list(kms.get_paginator("list_resource_tags").paginate(KeyId=arn, PaginationConfig={"PageSize": 2}))
    assert [len(page["Tags"]) for page in pages] == [2, 2, 1]
    assert sorted((t["TagKey"], t["TagValue"]) for page in pages for t in page["Tags"]) == sorted(
        (t["TagKey"], t["TagValue"]) for t in tags)


# ---------------------------------------------------------------------------------------------
# Paginators and markers


def test_list_keys_paginator(kms, new_key):
    created = {new_key(f"paged {index}") for index in range(5)}
    pages = list(kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 2}))
    assert len(pages) >= 3
    assert all(len(page["Keys"]) <= 2 for page in pages)
    assert all(page["Truncated"] for page in pages[:-1]) and pages[-1]["Truncated"] is False
    arns = [entry["KeyArn"] for page in pages for entry in page["Keys"]]
    assert len(arns) == len(set(arns)), "a key appears on two pages"
    assert created <= set(arns)
    assert set(arns) == {entry["KeyArn"] for entry in kms.list_keys(Limit=1000)["Keys"]}


def test_list_aliases_paginator(kms, new_key):
    arn = new_key()
    names = {"alias/" + unique(f"paged-{index}") for index in range(5)}
    for name in names:
        kms.create_alias(AliasName=name, TargetKeyId=arn)
    pages = list(kms.get_paginator("list_aliases").paginate(KeyId=arn, PaginationConfig={"PageSize": 2}))
    assert [len(page["Aliases"]) for page in pages] == [2, 2, 1]
    assert {entry["AliasName"] for page in pages for entry in page["Aliases"]} == names
    everything = list(kms.get_paginator("list_aliases").paginate(PaginationConfig={"PageSize": 2}))
    assert len(everything) >= 3
    seen = [entry["AliasName"] for page in everything for entry in page["Aliases"]]
    assert len(seen) == len(set(seen)) and names <= set(seen)


@pytest.mark.parametrize(
    "operation, marker",
    [("list_keys", "not-a-marker"), ("list_keys", str(uuid.UUID(int=0xFFFF_FFFF_FFFF_4FFF_BFFF_FFFF_FFFF_FFFF))),
     ("list_aliases", "not-a-marker"), ("list_grants", "not-a-marker"), ("list_grants", "7"),
     ("list_key_rotations", "not-a-marker"), ("list_resource_tags", "not-a-marker")],
    ids=["keys-garbage", "keys-unissued-uuid", "aliases-garbage", "grants-garbage", "grants-past-the-end",
         "rotations-garbage", "tags-garbage"],
)
def test_invalid_markers(kms, new_key, operation, marker):
    """A marker the service never returned is InvalidMarkerException, as in AWS KMS."""
    kwargs = {} if operation in ("list_keys", "list_aliases") else {"KeyId": new_key()}
    with kms_error(kms, "InvalidMarkerException", 400):
        getattr(kms, operation)(Marker=marker, **kwargs)


# ---------------------------------------------------------------------------------------------
# Principals managed from the CLI while the server runs


def _wait_for(call, expect_code, deadline_seconds: float) -> float:
    """Calls until it fails with ``expect_code`` (or succeeds, if None); returns the seconds it took."""
    started = time.monotonic()
    while True:
        try:
            call()
            outcome = None
        except ClientError as error:
            outcome = error.response["Error"]["Code"]
        if outcome == expect_code:
            return time.monotonic() - started
        if time.monotonic() - started > deadline_seconds:
            raise AssertionError(f"still {outcome or 'succeeding'} after {deadline_seconds} s, expected {expect_code or 'success'}")
        time.sleep(0.1)


def test_disabled_principal_is_refused_then_enabled_again(server, make_principal):
    principal = make_principal("ci-job")
    client = principal.client
    got = len(client.generate_random(NumberOfBytes=8)["Plaintext"])
    assert got == 8
    server.cli("principals", "disable", "ci-job")
    took = _wait_for(lambda: client.generate_random(NumberOfBytes=8), "UnrecognizedClientException", 5)
    assert took <= 2.0, f"the disabled principal was still served {took:.1f} s later"
    try:
        client.list_keys()
    except ClientError as error:
        assert error.response["Error"]["Code"] == "UnrecognizedClientException"
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    else:
        raise AssertionError("a disabled principal was served")
    server.cli("principals", "enable", "ci-job")
    took = _wait_for(lambda: client.generate_random(NumberOfBytes=8), None, 5)
    assert took <= 2.0, f"the enabled principal was still refused {took:.1f} s later"
    server.cli("principals", "delete", "ci-job")
    took = _wait_for(lambda: client.generate_random(NumberOfBytes=8), "UnrecognizedClientException", 5)
    assert took <= 2.0, f"the deleted principal was still served {took:.1f} s later"


# ---------------------------------------------------------------------------------------------
# Concurrent clients


def test_concurrent_clients(server, admin, new_key):
    """8 clients, each with its own connection, 25 Encrypt/Decrypt pairs each: all answered, no 5xx."""
    arn = new_key("concurrency")
    failures: list[str] = []

    def worker(index: int) -> None:
        client = server.client(admin)
        context = {"Worker": str(index)}
        for _ in range(25):
            plaintext = os.urandom(64)
            try:
                blob = client.encrypt(KeyId=arn, Plaintext=plaintext, EncryptionContext=context)["CiphertextBlob"]
                opened = client.decrypt(CiphertextBlob=blob, EncryptionContext=context)["Plaintext"]
                if opened != plaintext:
                    failures.append(f"worker {index}: a plaintext came back different")
            except ClientError as error:
                failures.append(f"worker {index}: {error.response['Error']['Code']} "
                                f"HTTP {error.response['ResponseMetadata']['HTTPStatusCode']}")

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(8)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a worker hung"
    assert not failures, failures[:5]
    assert time.monotonic() - started < 120


# ---------------------------------------------------------------------------------------------
# Every response: a request id and a Date


def test_request_id_and_date_on_success_and_error(kms, new_key):
    arn = new_key()
    ok = kms.describe_key(KeyId=arn)["ResponseMetadata"]
    assert UUID_PATTERN.match(ok["RequestId"]), f"RequestId {ok['RequestId']!r} is not a UUID"
    assert ok["HTTPHeaders"]["x-amzn-requestid"] == ok["RequestId"]
    assert ok["HTTPHeaders"]["content-type"] == "application/x-amz-json-1.1"
    date = datetime.datetime.strptime(ok["HTTPHeaders"]["date"], "%a, %d %b %Y %H:%M:%S GMT")
    skew = abs((date - datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)).total_seconds())
    assert skew < 60, "the Date header is not now"
    other = kms.describe_key(KeyId=arn)["ResponseMetadata"]["RequestId"]
    assert other != ok["RequestId"], "two requests had the same request id"
    with kms_error(kms, "NotFoundException", 404) as failed:
        kms.describe_key(KeyId=str(uuid.uuid4()))
    assert UUID_PATTERN.match(failed.value.response["ResponseMetadata"]["RequestId"])
    assert failed.value.response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/x-amz-json-1.1"


def test_zz_every_response_of_this_module_had_a_request_id_and_date():
    if len(RESPONSES) < 100:
        pytest.skip("checks the responses of the whole module; run it whole")
    missing_id = sorted({name for name, _, meta in RESPONSES if not meta.get("RequestId")})
    missing_date = sorted({name for name, _, meta in RESPONSES if "date" not in meta.get("HTTPHeaders", {})})
    assert not missing_id, f"responses without x-amzn-RequestId: {missing_id}"
    assert not missing_date, f"responses without a Date header: {missing_date}"
    ids = [meta["RequestId"] for _, _, meta in RESPONSES]
    assert len(ids) == len(set(ids)), "request ids repeat"
    statuses = {status for _, status, _ in RESPONSES}
    assert 500 not in statuses and 503 not in statuses, f"the server answered {sorted(statuses)}"
    operations = {name for name, status, _ in RESPONSES if status == 200}
    every = {
        "CreateKey", "DescribeKey", "ListKeys", "UpdateKeyDescription", "EnableKey", "DisableKey",
        "ScheduleKeyDeletion", "CancelKeyDeletion", "CreateAlias", "UpdateAlias", "DeleteAlias", "ListAliases",
        "Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "GenerateRandom",
        "EnableKeyRotation", "DisableKeyRotation", "GetKeyRotationStatus", "RotateKeyOnDemand", "ListKeyRotations",
        "GetKeyPolicy", "PutKeyPolicy", "ListKeyPolicies", "CreateGrant", "ListGrants", "RevokeGrant",
        "TagResource", "UntagResource", "ListResourceTags", "GenerateMac", "VerifyMac",
    }
    # ListRetirableGrants and RetireGrant succeed for the grantee's client, checked in the grant test.
    assert every <= operations, f"operations never answered 200 to the admin: {sorted(every - operations)}"
