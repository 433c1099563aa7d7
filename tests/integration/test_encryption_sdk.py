"""The AWS Encryption SDK for Python with KMS master keys on the real server.

Two ways of pointing it at the server, both public API:
- ``StrictAwsKmsMasterKeyProvider(key_ids=[ARN], botocore_session=session)`` with
  ``AWS_ENDPOINT_URL_KMS=http://127.0.0.1:PORT`` in the environment (the provider makes its own
  clients, per region, from the session);
- ``KMSMasterKey(key_id=ARN, client=boto3_client)`` with a client made with ``endpoint_url``.
"""

from __future__ import annotations

import os
import urllib.request

import aws_encryption_sdk
import botocore.session
import pytest
from aws_encryption_sdk import CommitmentPolicy
from cryptography.exceptions import InvalidSignature, InvalidTag
from aws_encryption_sdk.exceptions import AWSEncryptionSDKClientError, DecryptKeyError
from aws_encryption_sdk.key_providers.kms import (
    DiscoveryAwsKmsMasterKeyProvider,
    DiscoveryFilter,
    KMSMasterKey,
    StrictAwsKmsMasterKeyProvider,
)

from conftest import ACCOUNT_ID, REGION, assert_not_contained, assert_same_secret

CONTEXT = {"App": "billing", "Stage": "prod"}


@pytest.fixture
def endpoint_env(server, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", server.url)


def botocore_session(credentials) -> botocore.session.Session:
    session = botocore.session.Session()
    session.set_credentials(credentials.access_key_id, credentials.secret_access_key)
    session.set_config_variable("region", REGION)
    return session


@pytest.fixture(scope="module")
def esdk() -> aws_encryption_sdk.EncryptionSDKClient:
    return aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)


def outcome_count(server, operation: str, outcome: str) -> float:
    with urllib.request.urlopen(server.metrics_url + "/metrics", timeout=5) as response:
        text = response.read().decode()
    total = 0.0
    for line in text.splitlines():
        if (line.startswith("envseal_requests_total{") and f'operation="{operation}"' in line
                and f'outcome="{outcome}"' in line):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_encrypt_and_decrypt_through_a_strict_provider(esdk, server, admin, kms, endpoint_env):
    arn = kms.create_key(Description="encryption sdk")["KeyMetadata"]["Arn"]
    provider = StrictAwsKmsMasterKeyProvider(key_ids=[arn], botocore_session=botocore_session(admin))
    plaintext = os.urandom(10_000)
    before = outcome_count(server, "GenerateDataKey", "Allowed")
    message, header = esdk.encrypt(source=plaintext, key_provider=provider, encryption_context=CONTEXT)
    assert outcome_count(server, "GenerateDataKey", "Allowed") == before + 1, "the SDK did not ask the server for a data key"
    assert_not_contained(message, plaintext[:64], "the message")
    for name, value in CONTEXT.items():
        assert header.encryption_context[name] == value
    assert [key.key_provider.key_info for key in header.encrypted_data_keys] == [arn.encode()]

    decrypted, decrypt_header = esdk.decrypt(
        source=message,
        key_provider=StrictAwsKmsMasterKeyProvider(key_ids=[arn], botocore_session=botocore_session(admin)),
    )
    assert_same_secret(decrypted, plaintext, "the Encryption SDK's decrypted message")
    for name, value in CONTEXT.items():
        assert decrypt_header.encryption_context[name] == value

    # The data key is sealed by the server under the message's whole encryption context (the SDK
    # adds its signing key, aws-crypto-public-key): boto3 opens it only with exactly that context.
    edk = next(iter(header.encrypted_data_keys)).encrypted_data_key
    with pytest.raises(kms.exceptions.InvalidCiphertextException):
        kms.decrypt(CiphertextBlob=edk, EncryptionContext=CONTEXT)
    opened = kms.decrypt(CiphertextBlob=edk, EncryptionContext=dict(header.encryption_context))
    assert opened["KeyId"] == arn
    size = len(opened["Plaintext"])
    assert size == 32


def test_kms_master_key_with_an_explicit_client(esdk, server, admin, kms):
    arn = kms.create_key(Description="explicit client")["KeyMetadata"]["Arn"]
    master_key = KMSMasterKey(key_id=arn, client=server.client(admin))
    plaintext = os.urandom(300)
    message, _ = esdk.encrypt(source=plaintext, key_provider=master_key, encryption_context=CONTEXT)
    decrypted, _ = esdk.decrypt(source=message, key_provider=KMSMasterKey(key_id=arn, client=server.client(admin)))
    assert_same_secret(decrypted, plaintext, "decrypted through KMSMasterKey")


def test_streaming_and_discovery(esdk, admin, kms, endpoint_env):
    arn = kms.create_key(Description="streaming")["KeyMetadata"]["Arn"]
    provider = StrictAwsKmsMasterKeyProvider(key_ids=[arn], botocore_session=botocore_session(admin))
    plaintext = os.urandom(200_000)
    with esdk.stream(mode="e", source=plaintext, key_provider=provider, encryption_context=CONTEXT,
                     frame_length=4096) as encryptor:
        message = b"".join(encryptor)
    discovery = DiscoveryAwsKmsMasterKeyProvider(
        botocore_session=botocore_session(admin),
        discovery_filter=DiscoveryFilter(account_ids=[ACCOUNT_ID], partition="aws"),
    )
    with esdk.stream(mode="d", source=message, key_provider=discovery) as decryptor:
        decrypted = b"".join(decryptor)
    assert_same_secret(decrypted, plaintext, "the stream decrypted through a discovery provider")


def test_wrong_key_fails(esdk, admin, kms, endpoint_env):
    right = kms.create_key(Description="right")["KeyMetadata"]["Arn"]
    wrong = kms.create_key(Description="wrong")["KeyMetadata"]["Arn"]
    message, _ = esdk.encrypt(
        source=b"payload", encryption_context=CONTEXT,
        key_provider=StrictAwsKmsMasterKeyProvider(key_ids=[right], botocore_session=botocore_session(admin)),
    )
    with pytest.raises(DecryptKeyError):
        esdk.decrypt(
            source=message,
            key_provider=StrictAwsKmsMasterKeyProvider(key_ids=[wrong], botocore_session=botocore_session(admin)),
        )


def test_principal_without_access_fails(esdk, admin, kms, make_principal, endpoint_env, server):
    arn = kms.create_key(Description="admin only")["KeyMetadata"]["Arn"]
    outsider = make_principal("esdk-outsider")
    message, _ = esdk.encrypt(
        source=b"payload", encryption_context=CONTEXT,
        key_provider=StrictAwsKmsMasterKeyProvider(key_ids=[arn], botocore_session=botocore_session(admin)),
    )
    denied_before = outcome_count(server, "Decrypt", "AccessDeniedException")
    with pytest.raises(DecryptKeyError):
        esdk.decrypt(
            source=message,
            key_provider=StrictAwsKmsMasterKeyProvider(key_ids=[arn], botocore_session=botocore_session(outsider.credentials)),
        )
    assert outcome_count(server, "Decrypt", "AccessDeniedException") == denied_before + 1


def test_disabled_key_fails(esdk, admin, kms, endpoint_env):
    arn = kms.create_key(Description="to disable")["KeyMetadata"]["Arn"]
    provider = StrictAwsKmsMasterKeyProvider(key_ids=[arn], botocore_session=botocore_session(admin))
    message, _ = esdk.encrypt(source=b"payload", key_provider=provider, encryption_context=CONTEXT)
    kms.disable_key(KeyId=arn)
    with pytest.raises(DecryptKeyError):
        esdk.decrypt(source=message, key_provider=provider)
    kms.enable_key(KeyId=arn)
    decrypted, _ = esdk.decrypt(source=message, key_provider=provider)
    assert_same_secret(decrypted, b"payload", "decrypted after enabling again")


def test_tampered_message_fails(esdk, admin, kms, endpoint_env, server):
    arn = kms.create_key(Description="tamper")["KeyMetadata"]["Arn"]
    provider = StrictAwsKmsMasterKeyProvider(key_ids=[arn], botocore_session=botocore_session(admin))
    message, header = esdk.encrypt(source=os.urandom(1000), key_provider=provider, encryption_context=CONTEXT)

    # A changed byte in the body (past the header): the SDK's own authentication refuses it
    # (cryptography's InvalidTag comes through unwrapped).
    body_position = len(message) - 200
    tampered = bytearray(message)
    tampered[body_position] ^= 0x01
    with pytest.raises((AWSEncryptionSDKClientError, InvalidTag, InvalidSignature)):
        esdk.decrypt(source=bytes(tampered), key_provider=provider)

    # A changed byte in the encrypted data key: the server refuses it (InvalidCiphertextException).
    edk = next(iter(header.encrypted_data_keys)).encrypted_data_key
    start = bytes(message).index(edk)
    tampered = bytearray(message)
    tampered[start + len(edk) // 2] ^= 0x01
    refused_before = outcome_count(server, "Decrypt", "InvalidCiphertextException")
    with pytest.raises(DecryptKeyError):
        esdk.decrypt(source=bytes(tampered), key_provider=provider)
    assert outcome_count(server, "Decrypt", "InvalidCiphertextException") == refused_before + 1

    # A changed byte in the encryption context, in the header: refused too.
    position = bytes(message).index(b"billing")
    tampered = bytearray(message)
    tampered[position] ^= 0x20
    with pytest.raises(AWSEncryptionSDKClientError):
        esdk.decrypt(source=bytes(tampered), key_provider=provider)
