"""An attacker with narrow access tries to widen it, against the real server with boto3: a
principal holding only a CreateGrant grant grants itself Decrypt; a key policy leans on condition
keys the server never supplies. Every attempt must be refused, with AWS's error."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import Credentials
from test_tls import https_server  # noqa: F401  (a fixture)


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


def policy_with(admin_arn: str, *statements: dict) -> str:
    admin = {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": admin_arn}, "Action": "kms:*", "Resource": "*"}
    return json.dumps({"Version": "2012-10-17", "Statement": [admin, *statements]})


@pytest.mark.parametrize("key", ["aws:SourceArn", "kms:NoSuchKey", "aws:ResourceTag/team", "aws:PrincipalTag/role"])
def test_unsupported_condition_key_is_refused_naming_it(kms, new_key, admin_arn, key):
    """A condition on a key the server never supplies would always read as absent: refused."""
    arn = new_key()
    deny = {"Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
            "Condition": {"StringEquals": {key: "x"}}}
    message = refused(lambda: kms.put_key_policy(KeyId=arn, PolicyName="default", Policy=policy_with(admin_arn, deny)),
                      "MalformedPolicyDocumentException")
    assert key in message, message
    message = refused(lambda: kms.create_key(Policy=policy_with(admin_arn, deny)), "MalformedPolicyDocumentException")
    assert key in message, message


def test_deny_insecure_transport_denies_on_plain_http(kms, admin_arn):
    """AWS's usual guard against cleartext: on this plain-HTTP server it must deny, even the admin."""
    deny = {"Sid": "DenyInsecure", "Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    # Without the bypass, the lockout check sees that the admin itself would be shut out.
    refused(lambda: kms.create_key(Policy=policy_with(admin_arn, deny)), "MalformedPolicyDocumentException")
    arn = kms.create_key(Policy=policy_with(admin_arn, deny), BypassPolicyLockoutSafetyCheck=True)["KeyMetadata"]["Arn"]
    message = refused(lambda: kms.encrypt(KeyId=arn, Plaintext=b"over plain http"), "AccessDeniedException")
    assert "explicit deny" in message, message
    refused(lambda: kms.describe_key(KeyId=arn), "AccessDeniedException")


def test_deny_insecure_transport_allows_over_https(https_server):  # noqa: F811
    """The same policy over TLS: the server knows it serves HTTPS, so nothing is denied."""
    port, cert, workdir = https_server
    credentials = Credentials.read(workdir / "KeyStore" / "admin.credentials")
    client = boto3.client(
        "kms", endpoint_url=f"https://127.0.0.1:{port}", region_name="us-east-1", verify=str(cert),
        aws_access_key_id=credentials.access_key_id, aws_secret_access_key=credentials.secret_access_key,
        config=Config(retries={"max_attempts": 1}))
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Everyone", "Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"},
        {"Sid": "DenyInsecure", "Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}
    # No lockout bypass needed: over TLS the deny does not apply to the creator.
    arn = client.create_key(Policy=json.dumps(policy))["KeyMetadata"]["Arn"]
    blob = client.encrypt(KeyId=arn, Plaintext=b"over tls")["CiphertextBlob"]
    assert client.decrypt(CiphertextBlob=blob)["Plaintext"] == b"over tls"


def test_source_ip_is_the_connection_address(kms, new_key, make_principal, admin_arn):
    caller = make_principal("ip-bound")
    arn = new_key()
    from_loopback = {"Effect": "Allow", "Principal": {"AWS": caller.arn}, "Action": "kms:Encrypt", "Resource": "*",
                     "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}}
    kms.put_key_policy(KeyId=arn, PolicyName="default", Policy=policy_with(admin_arn, from_loopback))
    caller.client.encrypt(KeyId=arn, Plaintext=b"from here")
    elsewhere = dict(from_loopback, Condition={"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}})
    kms.put_key_policy(KeyId=arn, PolicyName="default", Policy=policy_with(admin_arn, elsewhere))
    refused(lambda: caller.client.encrypt(KeyId=arn, Plaintext=b"from here"), "AccessDeniedException")


def test_grant_operations_condition_limits_create_grant(kms, new_key, make_principal, admin_arn):
    """kms:GrantOperations was never supplied, so a policy limiting it limited nothing."""
    granter = make_principal("limited-granter")
    arn = new_key()
    may_grant_decrypt = {"Effect": "Allow", "Principal": {"AWS": granter.arn}, "Action": "kms:CreateGrant", "Resource": "*",
                         "Condition": {"ForAllValues:StringEquals": {"kms:GrantOperations": ["Decrypt"]},
                                       "Bool": {"kms:GrantIsForAWSResource": "false"}}}
    kms.put_key_policy(KeyId=arn, PolicyName="default", Policy=policy_with(admin_arn, may_grant_decrypt))
    granter.client.create_grant(KeyId=arn, GranteePrincipal=granter.arn, Operations=["Decrypt"])
    for operations in (["Decrypt", "Encrypt"], ["CreateGrant"], ["ReEncryptFrom"]):
        refused(lambda: granter.client.create_grant(KeyId=arn, GranteePrincipal=granter.arn, Operations=operations),
                "AccessDeniedException")
