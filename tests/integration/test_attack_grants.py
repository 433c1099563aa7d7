"""An attacker with narrow access tries to widen it, against the real server with boto3: a
principal holding only a CreateGrant grant grants itself Decrypt; a key policy leans on condition
keys the server never supplies. Every attempt must be refused, with AWS's error."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID


@pytest.fixture(scope="module")
def admin_arn(server) -> str:
    rows = json.loads(server.cli("principals", "list", "--output", "json").stdout)
    return next(row["arn"] for row in rows if row["admin"])


def refused(call, code: str) -> str:
    """Runs ``call``, which must fail with ``code`` and HTTP 400; returns the error message."""
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response["Error"]
    assert error["Code"] == code, f"expected {code}, got {error}"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return error.get("Message", "")


def test_create_grant_only_grant_cannot_grant_decrypt(kms, new_key, make_principal):
    """The attack of the review: CreateGrant alone, then a grant to oneself for Decrypt, then the
    admin's ciphertext."""
    attacker = make_principal("grant-escalator")
    key = new_key()
    secret = kms.encrypt(KeyId=key, Plaintext=b"the admin's database password")["CiphertextBlob"]
    kms.create_grant(KeyId=key, GranteePrincipal=attacker.arn, Operations=["CreateGrant"])
    for operations in (["Decrypt"], ["Encrypt", "GenerateDataKey"], ["CreateGrant", "Decrypt"], ["ReEncryptFrom", "ReEncryptTo"]):
        message = refused(
            lambda: attacker.client.create_grant(KeyId=key, GranteePrincipal=attacker.arn, Operations=operations),
            "AccessDeniedException")
        assert operations[-1] in message, message
    refused(lambda: attacker.client.decrypt(CiphertextBlob=secret), "AccessDeniedException")
    grants = kms.list_grants(KeyId=key)["Grants"]
    assert [grant["Operations"] for grant in grants] == [["CreateGrant"]], "the refused grants must not exist"


def test_derived_grant_keeps_the_parent_constraint(kms, new_key, make_principal):
    """A grant for Decrypt within one context cannot be passed on without that context."""
    delegate = make_principal("grant-delegate")
    friend = make_principal("grant-friend")
    key = new_key()
    other_team = kms.encrypt(KeyId=key, Plaintext=b"payroll", EncryptionContext={"Dept": "HR"})["CiphertextBlob"]
    kms.create_grant(KeyId=key, GranteePrincipal=delegate.arn, Operations=["Decrypt", "CreateGrant"],
                     Constraints={"EncryptionContextSubset": {"Dept": "IT"}})
    refused(lambda: delegate.client.create_grant(KeyId=key, GranteePrincipal=friend.arn, Operations=["Decrypt"]),
            "AccessDeniedException")
    refused(lambda: delegate.client.create_grant(KeyId=key, GranteePrincipal=friend.arn, Operations=["Decrypt"],
                                                 Constraints={"EncryptionContextSubset": {"Dept": "HR"}}),
            "AccessDeniedException")
    refused(lambda: friend.client.decrypt(CiphertextBlob=other_team, EncryptionContext={"Dept": "HR"}), "AccessDeniedException")
    # Within the parent's limits the delegation works.
    delegate.client.create_grant(KeyId=key, GranteePrincipal=friend.arn, Operations=["Decrypt"],
                                 Constraints={"EncryptionContextEquals": {"Dept": "IT"}})
    blob = kms.encrypt(KeyId=key, Plaintext=b"it secret", EncryptionContext={"Dept": "IT"})["CiphertextBlob"]
    assert friend.client.decrypt(CiphertextBlob=blob, EncryptionContext={"Dept": "IT"})["Plaintext"] == b"it secret"
