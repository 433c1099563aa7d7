"""Attacks on who a principal is: the account root statement and principals recreated by name.

An attacker here holds the credentials of a plain principal of the account (a function's, say)
and tries to use a key whose policy is AWS's stock default, whose only statement names the
account root. In AWS that statement delegates to identity (IAM) policies and grants nothing by
itself; envseal must behave the same. A second attacker gets a principal created under the name
of a deleted one and tries to use the grants the deleted one had.
"""

from __future__ import annotations

import json
import re
import time

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, assert_same_secret

# AWS's default key policy, as the KMS console and CreateKey without a policy give it.
STOCK_AWS_DEFAULT_POLICY = json.dumps({
    "Version": "2012-10-17",
    "Id": "key-default-1",
    "Statement": [{
        "Sid": "Enable IAM User Permissions",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }],
})

SECRET = b"the payroll database password"


def error_code(call) -> str | None:
    """The KMS error type a call raised, or None when it succeeded."""
    try:
        call()
    except ClientError as error:
        return error.response["Error"]["Code"]
    return None


def eventually(check, seconds: float = 4.0) -> None:
    """Retries ``check`` until it passes: the server caches a principal's record for a second."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def unique_id(server, name: str) -> str | None:
    listed = json.loads(server.cli("principals", "list", "--output", "json").stdout)
    return next((row.get("uniqueId") for row in listed if row["name"] == name), None)


def put_identity_policy(server, tmp_path, name: str, policy: dict):
    path = tmp_path / f"{name}.policy.json"
    path.write_text(json.dumps(policy))
    return server.cli("principals", "policy", "put", name, str(path), check=False)


@pytest.fixture(scope="module")
def stock_key(kms) -> str:
    """A key with AWS's stock default policy, made by the admin."""
    return kms.create_key(Description="stock AWS policy", Policy=STOCK_AWS_DEFAULT_POLICY)["KeyMetadata"]["Arn"]


def test_the_stock_root_statement_alone_gives_a_plain_principal_nothing(kms, stock_key, make_principal):
    blob = kms.encrypt(KeyId=stock_key, Plaintext=SECRET)["CiphertextBlob"]
    attacker = make_principal("root-statement-attacker").client
    attempts = {
        "Decrypt": lambda: attacker.decrypt(CiphertextBlob=blob),
        "Encrypt": lambda: attacker.encrypt(KeyId=stock_key, Plaintext=b"x"),
        "GenerateDataKey": lambda: attacker.generate_data_key(KeyId=stock_key, KeySpec="AES_256"),
        "DescribeKey": lambda: attacker.describe_key(KeyId=stock_key),
        "GetKeyPolicy": lambda: attacker.get_key_policy(KeyId=stock_key, PolicyName="default"),
        "PutKeyPolicy": lambda: attacker.put_key_policy(
            KeyId=stock_key, PolicyName="default", Policy=STOCK_AWS_DEFAULT_POLICY),
        "CreateGrant": lambda: attacker.create_grant(
            KeyId=stock_key, GranteePrincipal=f"arn:aws:iam::{ACCOUNT_ID}:user/root-statement-attacker",
            Operations=["Decrypt"]),
        "DisableKey": lambda: attacker.disable_key(KeyId=stock_key),
        "ScheduleKeyDeletion": lambda: attacker.schedule_key_deletion(KeyId=stock_key, PendingWindowInDays=7),
    }
    outcomes = {operation: error_code(call) for operation, call in attempts.items()}
    assert outcomes == {operation: "AccessDeniedException" for operation in attempts}
    # The key is untouched and the admin, whose identity policy allows kms:*, still uses it.
    assert kms.describe_key(KeyId=stock_key)["KeyMetadata"]["KeyState"] == "Enabled"
    assert_same_secret(kms.decrypt(CiphertextBlob=blob)["Plaintext"], SECRET, "the admin's Decrypt")


def test_an_identity_policy_allows_only_what_it_names_and_only_through_the_root_statement(
    server, kms, stock_key, new_key, make_principal, tmp_path
):
    function = make_principal("identity-decrypter")
    blob = kms.encrypt(KeyId=stock_key, Plaintext=SECRET)["CiphertextBlob"]
    assert error_code(lambda: function.client.decrypt(CiphertextBlob=blob)) == "AccessDeniedException"

    result = put_identity_policy(server, tmp_path, function.name, {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": stock_key}],
    })
    assert result.returncode == 0, result.stderr

    def decrypts():
        assert error_code(lambda: function.client.decrypt(CiphertextBlob=blob)) is None
    eventually(decrypts)
    assert_same_secret(function.client.decrypt(CiphertextBlob=blob)["Plaintext"], SECRET, "Decrypt by identity policy")
    # Only the action and the key it names.
    assert error_code(lambda: function.client.encrypt(KeyId=stock_key, Plaintext=b"x")) == "AccessDeniedException"
    assert error_code(lambda: function.client.schedule_key_deletion(KeyId=stock_key)) == "AccessDeniedException"
    # A key whose policy does not delegate to the account (envseal's default names the admins)
    # ignores identity policies, even one allowing everything.
    own_key = new_key("no root statement")
    own_blob = kms.encrypt(KeyId=own_key, Plaintext=SECRET)["CiphertextBlob"]
    put_identity_policy(server, tmp_path, function.name, {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}],
    })

    def everything_on_the_stock_key():
        assert error_code(lambda: function.client.encrypt(KeyId=stock_key, Plaintext=b"x")) is None
    eventually(everything_on_the_stock_key)
    assert error_code(lambda: function.client.decrypt(CiphertextBlob=own_blob)) == "AccessDeniedException"

    shown = server.cli("principals", "policy", "get", function.name)
    assert json.loads(shown.stdout)["Statement"][0]["Action"] == "kms:*"
    server.cli("principals", "policy", "delete", function.name)

    def denied_again():
        assert error_code(lambda: function.client.decrypt(CiphertextBlob=blob)) == "AccessDeniedException"
    eventually(denied_again)
    assert server.cli("principals", "policy", "get", function.name, check=False).returncode != 0


def test_an_identity_policy_deny_beats_the_key_policy(server, kms, new_key, make_principal, tmp_path):
    function = make_principal("identity-denied")
    key = new_key("names the function directly")
    policy = json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
    policy["Statement"].append({
        "Sid": "FunctionDecrypts", "Effect": "Allow", "Principal": {"AWS": function.arn},
        "Action": "kms:Decrypt", "Resource": "*",
    })
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(policy))
    blob = kms.encrypt(KeyId=key, Plaintext=SECRET)["CiphertextBlob"]
    assert_same_secret(function.client.decrypt(CiphertextBlob=blob)["Plaintext"], SECRET, "Decrypt by key policy")

    put_identity_policy(server, tmp_path, function.name, {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"}],
    })

    def denied():
        assert error_code(lambda: function.client.decrypt(CiphertextBlob=blob)) == "AccessDeniedException"
    eventually(denied)


def test_an_identity_policy_that_is_not_one_is_refused(server, make_principal, tmp_path):
    make_principal("identity-malformed")
    with_principal = put_identity_policy(server, tmp_path, "identity-malformed", {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"}],
    })
    assert with_principal.returncode == 65
    assert "Principal" in with_principal.stderr
    (tmp_path / "not.json").write_text("{not json")
    broken = server.cli("principals", "policy", "put", "identity-malformed", str(tmp_path / "not.json"), check=False)
    assert broken.returncode == 65
    assert "not.json" in broken.stderr
    unknown = put_identity_policy(server, tmp_path, "nobody-at-all", {
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}],
    })
    assert unknown.returncode == 64
    assert "no principal named nobody-at-all" in unknown.stderr


def test_a_principal_recreated_under_a_deleted_ones_name_gets_none_of_its_grants(
    server, kms, new_key, make_principal
):
    key = new_key("granted to a principal that is then deleted")
    blob = kms.encrypt(KeyId=key, Plaintext=SECRET)["CiphertextBlob"]
    original = make_principal("recycled-name")
    retirer = make_principal("recycled-retirer")
    grant = kms.create_grant(KeyId=key, GranteePrincipal=original.arn, RetiringPrincipal=retirer.arn,
                             Operations=["Decrypt"])
    assert_same_secret(original.client.decrypt(CiphertextBlob=blob)["Plaintext"], SECRET, "Decrypt by grant")
    original_id = unique_id(server, "recycled-name")

    server.cli("principals", "delete", "recycled-name")
    impostor = make_principal("recycled-name")
    assert impostor.arn == original.arn
    assert error_code(lambda: impostor.client.decrypt(CiphertextBlob=blob)) == "AccessDeniedException"
    # The deleted principal's grant is gone, not merely unusable.
    grants = kms.list_grants(KeyId=key)["Grants"]
    assert grant["GrantId"] not in [entry["GrantId"] for entry in grants]
    # The same name, another principal: AWS's user-id form, never reused.
    impostor_id = unique_id(server, "recycled-name")
    assert original_id is not None and impostor_id is not None
    assert re.fullmatch(r"AIDA[A-Z2-7]{16}", original_id) and re.fullmatch(r"AIDA[A-Z2-7]{16}", impostor_id)
    assert impostor_id != original_id

    # A grant whose retiring principal is deleted stays for its grantee, but a namesake of the
    # retiring principal may not retire it.
    grantee = make_principal("recycled-grantee")
    kept = kms.create_grant(KeyId=key, GranteePrincipal=grantee.arn, RetiringPrincipal=retirer.arn,
                            Operations=["Decrypt"])
    retirer_id = unique_id(server, "recycled-retirer")
    server.cli("principals", "delete", "recycled-retirer")
    retirer_again = make_principal("recycled-retirer")
    # As AWS lists it: the deleted retiring principal by its unique id.
    listed = [entry for entry in kms.list_grants(KeyId=key)["Grants"] if entry["GrantId"] == kept["GrantId"]]
    assert [entry.get("RetiringPrincipal") for entry in listed] == [retirer_id]
    assert kms.list_retirable_grants(RetiringPrincipal=retirer_again.arn)["Grants"] == []
    assert error_code(lambda: retirer_again.client.retire_grant(GrantToken=kept["GrantToken"])) == "AccessDeniedException"
    assert error_code(lambda: retirer_again.client.retire_grant(KeyId=key, GrantId=kept["GrantId"])) == "AccessDeniedException"
    assert_same_secret(grantee.client.decrypt(CiphertextBlob=blob)["Plaintext"], SECRET, "Decrypt by the kept grant")


def test_a_key_policy_naming_a_deleted_principal_does_not_name_its_namesake(server, kms, new_key, make_principal):
    original = make_principal("recycled-named")
    key = new_key("policy names a principal that is then deleted")
    policy = json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
    policy["Statement"].append({
        "Sid": "NamedFunction", "Effect": "Allow", "Principal": {"AWS": original.arn},
        "Action": "kms:Decrypt", "Resource": "*",
    })
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(policy))
    blob = kms.encrypt(KeyId=key, Plaintext=SECRET)["CiphertextBlob"]
    assert_same_secret(original.client.decrypt(CiphertextBlob=blob)["Plaintext"], SECRET, "Decrypt by key policy")
    original_id = unique_id(server, "recycled-named")

    server.cli("principals", "delete", "recycled-named")
    impostor = make_principal("recycled-named")

    def denied():
        assert error_code(lambda: impostor.client.decrypt(CiphertextBlob=blob)) == "AccessDeniedException"
    eventually(denied)
    # As AWS shows it: the deleted principal's unique id where its ARN was.
    shown = json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
    named = [s["Principal"]["AWS"] for s in shown["Statement"] if s.get("Sid") == "NamedFunction"]
    assert named == [original_id]
