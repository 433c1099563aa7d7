#!/usr/bin/env python3
"""Write the fuzz targets' seed corpora under Fuzz/corpus/<target>/ (see scripts/fuzz.sh).

Seeds come from the language-neutral test vectors (Tests/EnvSealFormatTests/Vectors,
Tests/KMSWireTests/Vectors/sigv4.json), the example key policies (KeyStore/examples) and
botocore-shaped KMS request bodies written here. Each target's input layout is described at the top
of its source file under Fuzz/; this script writes inputs in those layouts. The corpus is kept
small (a few dozen files a target): libFuzzer grows it in a scratch copy, never here.

Usage: python3 scripts/fuzz-seeds.py        (rewrites Fuzz/corpus/ in place; deterministic)
"""
import base64
import json
import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "Tests" / "EnvSealFormatTests" / "Vectors"
CORPUS = ROOT / "Fuzz" / "corpus"


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def slug(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48] or "seed"


def pick(items, limit):
    """Up to `limit` items spread evenly over the list, keeping its order."""
    if len(items) <= limit:
        return list(items)
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


def write(target, seeds):
    folder = CORPUS / target
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    seen = set()
    for index, (name, data) in enumerate(seeds):
        if data in seen:
            continue
        seen.add(data)
        (folder / f"{index:03d}-{slug(name)}").write_bytes(data)
    return len(seen)


def dotenv_seeds():
    vectors = load(VECTORS / "dotenv.json")
    def data(v):
        return base64.b64decode(v["input_base64"]) if "input_base64" in v else v["input"].encode("utf-8")
    good = [v for v in vectors if v["expect"] == "success" and data(v)]
    bad = [v for v in vectors if v["expect"] != "success"]
    return [(v["name"], data(v)) for v in pick(good, 28) + pick(bad, 8)]


def context_seeds():
    vectors = [v for v in load(VECTORS / "context.json") if v.get("canonical_hex")]
    return [(v["name"], bytes.fromhex(v["canonical_hex"])) for v in pick(vectors, 22)]


# The keys and contexts of Fuzz/FuzzCiphertextBlob, in its order: the first input byte selects a
# context (bits 0-2) and a key (the higher bits, modulo 3).
BLOB_KEYS = [
    "9a732d3b2ddafe9e5f3bab98b285859b86505316e5968bec1b34ce7738eee175",
    "b61d6ea1d095fdf6a040ae22d69bdf8bfefc617608879910ce65296ec7da9d4c",
    "95cfbfe874fdd26e626595d5c869baea44db923173861963a481d0fdd6cc2cd7",
]
BLOB_CONTEXTS = [
    [], [["purpose", "test"]], [["envseal:file", "app.env"]], [["LambdaFunctionName", "billing"]],
    [["envseal:file", "other.env"]], [["envseal:file", "App.env"]], [["Envseal:file", "app.env"]],
    [["envseal:file", "app.env"], ["envseal:repo", "billing"]],
]


def blob_seeds():
    seeds = []
    for v in pick(load(VECTORS / "blob.json"), 22):
        pairs = sorted(v["context_pairs"], key=lambda p: p[0].encode("utf-8"))
        context = BLOB_CONTEXTS.index(pairs) if pairs in BLOB_CONTEXTS else 0
        key = BLOB_KEYS.index(v["key_hex"]) if v["key_hex"] in BLOB_KEYS else 0
        selector = key << 3 | context
        seeds.append((v["name"], bytes([selector]) + bytes.fromhex(v["blob_hex"])))
    return seeds


# The data keys of Fuzz/FuzzSealedFile, in its order: the first input byte selects one (modulo 3).
FILE_KEYS = [
    "35a4cd2581ef026658093d139d49af7a34bcf86c578f96e713cc809bfd0a066a",
    "ee78b5b28b734b22fd8073d31425fe341ef5faf6f73b0a2549cc20091c36c6d3",
    "dff655b9e3766cbd721c8b506445e04fc954e965822e00f8455e04763454ba51",
]


def sealed_file_seeds():
    """A key selector byte, then `NAME=value` lines, one of them ENVSEAL=<header>, as
    Fuzz/FuzzSealedFile reads them."""
    seeds = []
    for v in pick(load(VECTORS / "header.json"), 26):
        variables = dict(v.get("file_sealed", v.get("sealed", {})))
        variables.update(v.get("file_covered", v.get("covered", {})))
        lines = [f"ENVSEAL={v['header']}"] + [f"{k}={val}" for k, val in sorted(variables.items())]
        selector = bytes([FILE_KEYS.index(v.get("data_key_hex") or FILE_KEYS[0])])
        seeds.append((v["name"], selector + ("\n".join(lines) + "\n").encode("utf-8")))
    for v in pick(load(VECTORS / "sealed-value.json"), 10):
        selector = bytes([FILE_KEYS.index(v["data_key_hex"])])
        seeds.append((v["name"], selector + f"{v['variable']}={v['sealed']}\n".encode("utf-8")))
    return seeds


def kms_operations():
    source = (ROOT / "Sources" / "KMSWire" / "KMSShapes.swift").read_text(encoding="utf-8")
    enum = source[source.index("package enum KMSOperation"):]
    return re.findall(r'^\s*case \w+ = "(\w+)"', enum[:enum.index("\n}\n")], re.M)


KEY = "arn:aws:kms:us-east-1:111122223333:key/5b7c2a90-3e1f-4d6a-8b2c-9f0e1d2c3b4a"
BLOB = base64.b64encode(bytes.fromhex(
    "e15b7c2a903e1f4d6a8b2c9f0e1d2c3b4a000000018631c265c4d8bd99d8e024caf8142a604cd3b35050d410b1"
    "9f78ecdbee1f9f1c1015823e0116b0126b")).decode()
CONTEXT = {"LambdaFunctionName": "billing", "envseal:file": "app.env"}
POLICY = (ROOT / "KeyStore" / "examples" / "least-privilege-function.json").read_text(encoding="utf-8")

# Request bodies as botocore serialises them (json.dumps with default separators), by operation.
KMS_BODIES = {
    "CreateKey": [{"Description": "billing", "KeyUsage": "ENCRYPT_DECRYPT", "KeySpec": "SYMMETRIC_DEFAULT",
                   "Origin": "AWS_KMS", "Tags": [{"TagKey": "team", "TagValue": "payments"}]},
                  {"Policy": POLICY, "BypassPolicyLockoutSafetyCheck": False, "MultiRegion": False}],
    "DescribeKey": [{"KeyId": KEY, "GrantTokens": ["token"]}],
    "ListKeys": [{"Limit": 10, "Marker": "eyJvIjoxMH0"}],
    "UpdateKeyDescription": [{"KeyId": "alias/billing", "Description": "caf\u00e9 \ud83d\udd11"}],
    "EnableKey": [{"KeyId": "5b7c2a90-3e1f-4d6a-8b2c-9f0e1d2c3b4a"}],
    "DisableKey": [{"KeyId": KEY}],
    "ScheduleKeyDeletion": [{"KeyId": KEY, "PendingWindowInDays": 7}],
    "CancelKeyDeletion": [{"KeyId": KEY}],
    "CreateAlias": [{"AliasName": "alias/billing", "TargetKeyId": KEY}],
    "UpdateAlias": [{"AliasName": "alias/billing", "TargetKeyId": "5b7c2a90-3e1f-4d6a-8b2c-9f0e1d2c3b4a"}],
    "DeleteAlias": [{"AliasName": "alias/billing"}],
    "ListAliases": [{"KeyId": KEY, "Limit": 50, "Marker": "m"}],
    "Encrypt": [{"KeyId": "alias/billing", "Plaintext": base64.b64encode(b"hello").decode(),
                 "EncryptionContext": CONTEXT, "GrantTokens": [], "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}],
    "Decrypt": [{"CiphertextBlob": BLOB, "EncryptionContext": {"purpose": "test"}},
                {"CiphertextBlob": BLOB, "KeyId": KEY, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT", "DryRun": True}],
    "ReEncrypt": [{"CiphertextBlob": BLOB, "SourceEncryptionContext": {"purpose": "test"}, "DestinationKeyId": KEY,
                   "DestinationEncryptionContext": CONTEXT}],
    "GenerateDataKey": [{"KeyId": KEY, "KeySpec": "AES_256", "EncryptionContext": CONTEXT},
                        {"KeyId": "alias/billing", "NumberOfBytes": 64}],
    "GenerateDataKeyWithoutPlaintext": [{"KeyId": KEY, "NumberOfBytes": 32, "EncryptionContext": {"a": "b"}}],
    "GenerateRandom": [{"NumberOfBytes": 32}],
    "EnableKeyRotation": [{"KeyId": KEY, "RotationPeriodInDays": 365}],
    "DisableKeyRotation": [{"KeyId": KEY}],
    "GetKeyRotationStatus": [{"KeyId": KEY}],
    "RotateKeyOnDemand": [{"KeyId": KEY}],
    "ListKeyRotations": [{"KeyId": KEY, "Limit": 10}],
    "GetKeyPolicy": [{"KeyId": KEY, "PolicyName": "default"}],
    "PutKeyPolicy": [{"KeyId": KEY, "PolicyName": "default", "Policy": POLICY}],
    "ListKeyPolicies": [{"KeyId": KEY, "Limit": 1}],
    "CreateGrant": [{"KeyId": KEY, "GranteePrincipal": "arn:aws:iam::111122223333:role/billing",
                     "RetiringPrincipal": "arn:aws:iam::111122223333:user/admin", "Operations": ["Decrypt", "Encrypt"],
                     "Constraints": {"EncryptionContextSubset": {"envseal:file": "app.env"}}, "Name": "billing"}],
    "ListGrants": [{"KeyId": KEY, "Limit": 10, "GrantId": "0" * 64}],
    "ListRetirableGrants": [{"RetiringPrincipal": "arn:aws:iam::111122223333:user/admin", "Limit": 10}],
    "RetireGrant": [{"KeyId": KEY, "GrantId": "0" * 64}],
    "RevokeGrant": [{"KeyId": KEY, "GrantId": "0" * 64, "DryRun": False}],
    "TagResource": [{"KeyId": KEY, "Tags": [{"TagKey": "team", "TagValue": "payments"}, {"TagKey": "env", "TagValue": ""}]}],
    "UntagResource": [{"KeyId": KEY, "TagKeys": ["team"]}],
    "ListResourceTags": [{"KeyId": KEY, "Limit": 50}],
}


def kms_seeds():
    operations = kms_operations()
    seeds = []
    for operation, bodies in KMS_BODIES.items():
        for body in bodies:
            seeds.append((operation, bytes([operations.index(operation)]) + json.dumps(body).encode("utf-8")))
    seeds.append(("ListKeys empty body", bytes([operations.index("ListKeys")])))
    return seeds


def sigv4_seeds():
    """`METHOD PATH`, `Name: value` lines, an empty line, the body: as Fuzz/FuzzSigV4 reads them."""
    seeds = []
    for v in load(ROOT / "Tests" / "KMSWireTests" / "Vectors" / "sigv4.json"):
        head = [f"{v['method']} {v['path']}"] + [f"{name}: {value}" for name, value in v["headers"]]
        seeds.append((v["name"], ("\n".join(head) + "\n\n").encode("utf-8") + base64.b64decode(v["body_base64"])))
    return seeds


def policy_seeds():
    seeds = [(path.stem, path.read_bytes()) for path in sorted((ROOT / "KeyStore" / "examples").glob("*.json"))]
    statement = {"Sid": "S", "Effect": "Deny", "Principal": "*", "NotAction": ["kms:Decrypt", "kms:*Grant*"],
                 "NotResource": "arn:aws:kms:*:111122223333:key/*"}
    conditions = {
        "StringLike": {"kms:EncryptionContext:envseal:file": ["*.env", "app-??.env"]},
        "ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": ["envseal:file"]},
        "ForAllValues:StringEquals": {"kms:GrantOperations": ["Decrypt", "Encrypt"]},
        "Bool": {"kms:GrantIsForAWSResource": "true"},
        "Null": {"kms:ViaService": False},
        "StringNotEqualsIgnoreCase": {"aws:PrincipalArn": "${aws:username}"},
    }
    seeds.append(("deny-not-action", json.dumps({"Version": "2012-10-17", "Statement": statement}).encode()))
    seeds.append(("conditions", json.dumps({"Version": "2012-10-17", "Id": "c", "Statement": [{
        "Sid": "C", "Effect": "Allow", "Principal": {"AWS": ["111122223333", "arn:aws:sts::111122223333:assumed-role/r/s"],
                                                       "Service": "lambda.amazonaws.com"},
        "Action": "kms:*", "Resource": "*", "Condition": conditions}]}, indent=1).encode()))
    seeds.append(("2008-variables", json.dumps({"Version": "2008-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:Encrypt",
        "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalAccount": "${x}"}}}]}).encode()))
    return seeds


def main():
    counts = {
        "FuzzDotenv": write("FuzzDotenv", dotenv_seeds()),
        "FuzzEncryptionContext": write("FuzzEncryptionContext", context_seeds()),
        "FuzzCiphertextBlob": write("FuzzCiphertextBlob", blob_seeds()),
        "FuzzSealedFile": write("FuzzSealedFile", sealed_file_seeds()),
        "FuzzKMSRequest": write("FuzzKMSRequest", kms_seeds()),
        "FuzzSigV4": write("FuzzSigV4", sigv4_seeds()),
        "FuzzKeyPolicy": write("FuzzKeyPolicy", policy_seeds()),
    }
    for target, count in counts.items():
        print(f"{target}: {count} seeds")
    print(f"total: {sum(counts.values())}")


if __name__ == "__main__":
    main()
