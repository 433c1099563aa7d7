"""Signing keys (ECC_NIST_P256/P384/P521, RSA_2048/3072/4096) through boto3 and the aws CLI:
a signature from Sign verifies with Python's `cryptography` and with `openssl` over the DER public
key from GetPublicKey; a signature `cryptography` makes with a seeded private key verifies with
Verify; tampering, wrong algorithms, digests of the wrong length, disabled keys and policies are
refused with AWS's errors."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from conftest import ACCOUNT_ID, EnvsealServer, client_env, run_tool, tool_path
from test_boto3 import kms_error

ECC = {"ECC_NIST_P256": ["ECDSA_SHA_256"], "ECC_NIST_P384": ["ECDSA_SHA_384"], "ECC_NIST_P521": ["ECDSA_SHA_512"]}
RSA_ALGORITHMS = ["RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512",
                  "RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512"]
ALGORITHMS = {**ECC, "RSA_2048": RSA_ALGORITHMS, "RSA_3072": RSA_ALGORITHMS, "RSA_4096": RSA_ALGORITHMS}
MESSAGE = b"invoice 42: pay 100 EUR to the usual account"
SEEDED_EC = "5eed0101-0000-4000-8000-000000000101"
SEEDED_RSA = "5eed0102-0000-4000-8000-000000000102"
# Made here for this module's server only: test keys, never secrets.
EC_PRIVATE = ec.generate_private_key(ec.SECP384R1())
RSA_PRIVATE = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def hash_of(algorithm: str) -> hashes.HashAlgorithm:
    return {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}[algorithm[-3:]]


def digest(algorithm: str, message: bytes) -> bytes:
    return hashlib.new(hash_of(algorithm).name, message).digest()


def verify_with_cryptography(public_der: bytes, algorithm: str, signature: bytes, message: bytes) -> None:
    """Raises InvalidSignature unless ``signature`` is ``algorithm``'s signature of ``message``."""
    key = serialization.load_der_public_key(public_der)
    chosen = hash_of(algorithm)
    if algorithm.startswith("ECDSA"):
        key.verify(signature, message, ec.ECDSA(chosen))
    elif algorithm.startswith("RSASSA_PSS"):
        # AWS's PSS: MGF1 with the same hash, salt as long as the digest.
        key.verify(signature, message, padding.PSS(mgf=padding.MGF1(chosen), salt_length=chosen.digest_size), chosen)
    else:
        key.verify(signature, message, padding.PKCS1v15(), chosen)


class SigningServer(EnvsealServer):
    """A server seeded with a P-384 and an RSA_2048 key whose private keys this module holds."""

    def extra_arguments(self) -> list[str]:
        seed = self.workdir / "signing-seed.json"
        pem = lambda key: key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,  # noqa: E731
                                            serialization.NoEncryption()).decode()
        der = RSA_PRIVATE.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL,
                                        serialization.NoEncryption())
        seed.write_text(json.dumps({"keys": [
            {"id": SEEDED_EC, "keySpec": "ECC_NIST_P384", "keyUsage": "SIGN_VERIFY", "material": pem(EC_PRIVATE),
             "aliases": ["alias/seeded-signer"]},
            {"id": SEEDED_RSA, "keySpec": "RSA_2048", "keyUsage": "SIGN_VERIFY", "material": base64.b64encode(der).decode()},
            {"id": "5eed0103-0000-4000-8000-000000000103", "keySpec": "ECC_NIST_P256", "keyUsage": "SIGN_VERIFY"},
        ]}))
        return ["--seed", str(seed)]


@pytest.fixture(scope="module")
def server() -> Iterator[SigningServer]:
    workdir = Path(tempfile.mkdtemp(prefix="envseal-it-sign-"))
    started = SigningServer(workdir)
    try:
        started.start()
        yield started
    finally:
        started.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def signing_keys(kms) -> dict[str, str]:
    """One key of each spec, made once for the module (RSA_4096 takes a moment)."""
    return {spec: kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY", Description=f"{spec} signer")["KeyMetadata"]["Arn"]
            for spec in ALGORITHMS}


@pytest.mark.parametrize("spec", list(ALGORITHMS))
def test_sign_verifies_with_cryptography_and_verify(kms, signing_keys, spec):
    arn = signing_keys[spec]
    meta = kms.describe_key(KeyId=arn)["KeyMetadata"]
    assert (meta["KeySpec"], meta["KeyUsage"], meta["SigningAlgorithms"]) == (spec, "SIGN_VERIFY", ALGORITHMS[spec])
    assert "EncryptionAlgorithms" not in meta
    public = kms.get_public_key(KeyId=arn)
    assert (public["KeyId"], public["KeySpec"], public["KeyUsage"], public["SigningAlgorithms"]) == (arn, spec, "SIGN_VERIFY", ALGORITHMS[spec])
    for algorithm in ALGORITHMS[spec]:
        for message_type, message in [("RAW", MESSAGE), ("DIGEST", digest(algorithm, MESSAGE))]:
            signed = kms.sign(KeyId=arn, Message=message, MessageType=message_type, SigningAlgorithm=algorithm)
            assert (signed["KeyId"], signed["SigningAlgorithm"]) == (arn, algorithm)
            verify_with_cryptography(public["PublicKey"], algorithm, signed["Signature"], MESSAGE)
            checked = kms.verify(KeyId=arn, Message=MESSAGE, SigningAlgorithm=algorithm, Signature=signed["Signature"])
            assert (checked["KeyId"], checked["SignatureValid"], checked["SigningAlgorithm"]) == (arn, True, algorithm)
            tampered = bytearray(signed["Signature"])
            tampered[len(tampered) // 2] ^= 1
            with pytest.raises(InvalidSignature):
                verify_with_cryptography(public["PublicKey"], algorithm, bytes(tampered), MESSAGE)
            for bad_message, bad_signature in [(MESSAGE, bytes(tampered)), (MESSAGE + b"!", signed["Signature"])]:
                with kms_error(kms, "KMSInvalidSignatureException", 400):
                    kms.verify(KeyId=arn, Message=bad_message, SigningAlgorithm=algorithm, Signature=bad_signature)


def test_a_signature_cryptography_made_with_a_seeded_key_verifies(kms):
    public = kms.get_public_key(KeyId="alias/seeded-signer")
    assert public["PublicKey"] == EC_PRIVATE.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    made = EC_PRIVATE.sign(MESSAGE, ec.ECDSA(hashes.SHA384()))
    assert kms.verify(KeyId="alias/seeded-signer", Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_384", Signature=made)["SignatureValid"]
    prehashed = EC_PRIVATE.sign(digest("ECDSA_SHA_384", MESSAGE), ec.ECDSA(utils.Prehashed(hashes.SHA384())))
    assert kms.verify(KeyId=SEEDED_EC, Message=digest("ECDSA_SHA_384", MESSAGE), MessageType="DIGEST",
                      SigningAlgorithm="ECDSA_SHA_384", Signature=prehashed)["SignatureValid"]
    for algorithm, pad in [("RSASSA_PSS_SHA_256", padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)),
                           ("RSASSA_PKCS1_V1_5_SHA_512", padding.PKCS1v15())]:
        made = RSA_PRIVATE.sign(MESSAGE, pad, hash_of(algorithm))
        assert kms.verify(KeyId=SEEDED_RSA, Message=MESSAGE, SigningAlgorithm=algorithm, Signature=made)["SignatureValid"]
    # PSS with another salt length is not AWS's RSASSA_PSS_SHA_256.
    made = RSA_PRIVATE.sign(MESSAGE, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=20), hashes.SHA256())
    with kms_error(kms, "KMSInvalidSignatureException", 400):
        kms.verify(KeyId=SEEDED_RSA, Message=MESSAGE, SigningAlgorithm="RSASSA_PSS_SHA_256", Signature=made)


def test_signing_refusals(kms, signing_keys, make_principal):
    p256 = signing_keys["ECC_NIST_P256"]
    with kms_error(kms, "InvalidKeyUsageException", 400) as info:
        kms.sign(KeyId=p256, Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_384")
    assert info.value.response["Error"]["Message"] == "Algorithm ECDSA_SHA_384 is incompatible with key spec ECC_NIST_P256."
    with kms_error(kms, "ValidationException", 400, modeled=False) as info:
        kms.sign(KeyId=p256, Message=b"\0" * 48, MessageType="DIGEST", SigningAlgorithm="ECDSA_SHA_256")
    assert info.value.response["Error"]["Message"] == "Digest is invalid length for algorithm ECDSA_SHA_256."
    symmetric = kms.create_key()["KeyMetadata"]["Arn"]
    with kms_error(kms, "InvalidKeyUsageException", 400) as info:
        kms.sign(KeyId=symmetric, Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_256")
    assert info.value.response["Error"]["Message"] == f"{symmetric} key usage is ENCRYPT_DECRYPT which is not valid for Sign."
    with kms_error(kms, "InvalidKeyUsageException", 400):
        kms.encrypt(KeyId=p256, Plaintext=b"x")
    with kms_error(kms, "UnsupportedOperationException", 400):
        kms.get_public_key(KeyId=symmetric)
    with kms_error(kms, "UnsupportedOperationException", 400):
        kms.enable_key_rotation(KeyId=p256)
    for spec, usage in [("ECC_SECG_P256K1", "SIGN_VERIFY"), ("SM2", "SIGN_VERIFY"), ("RSA_2048", "ENCRYPT_DECRYPT")]:
        with kms_error(kms, "UnsupportedOperationException", 400) as info:
            kms.create_key(KeySpec=spec, KeyUsage=usage)
        assert "envseal does not support" in info.value.response["Error"]["Message"]
    with kms_error(kms, "ValidationException", 400, modeled=False):
        kms.create_key(KeySpec="ECC_NIST_P384")

    # Disabled: DisabledException for all three.
    key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    signature = kms.sign(KeyId=key, Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    kms.disable_key(KeyId=key)
    with kms_error(kms, "DisabledException", 409):
        kms.sign(KeyId=key, Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_256")
    with kms_error(kms, "DisabledException", 409):
        kms.verify(KeyId=key, Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_256", Signature=signature)
    with kms_error(kms, "DisabledException", 409):
        kms.get_public_key(KeyId=key)

    # A principal the policy allows only PSS signing: PKCS #1 v1.5 and GetPublicKey are denied.
    signer = make_principal("pss-signer")
    rsa_key = signing_keys["RSA_2048"]
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": signer.arn}, "Action": "kms:Sign", "Resource": "*",
         "Condition": {"StringLike": {"kms:SigningAlgorithm": "RSASSA_PSS_*"}}},
    ]}
    kms.put_key_policy(KeyId=rsa_key, PolicyName="default", Policy=json.dumps(policy))
    signer.client.sign(KeyId=rsa_key, Message=MESSAGE, SigningAlgorithm="RSASSA_PSS_SHA_512")
    with kms_error(signer.client, "AccessDeniedException", 400, modeled=False):
        signer.client.sign(KeyId=rsa_key, Message=MESSAGE, SigningAlgorithm="RSASSA_PKCS1_V1_5_SHA_256")
    with kms_error(signer.client, "AccessDeniedException", 400, modeled=False):
        signer.client.get_public_key(KeyId=rsa_key)


def test_the_audit_log_names_sign_and_verify_and_holds_no_message(server, kms, signing_keys):
    secret_message = b"a message that must stay out of the logs 7f3e"
    signed = kms.sign(KeyId=signing_keys["ECC_NIST_P521"], Message=secret_message, SigningAlgorithm="ECDSA_SHA_512")
    kms.verify(KeyId=signing_keys["ECC_NIST_P521"], Message=secret_message, SigningAlgorithm="ECDSA_SHA_512", Signature=signed["Signature"])
    tail = server.cli("audit", "tail", "-n", "2", "--output", "json")
    audit = tail.stdout + tail.stderr
    assert [record["operation"] for record in json.loads(tail.stdout)] == ["Sign", "Verify"]
    for shown in (secret_message, base64.b64encode(secret_message), signed["Signature"], base64.b64encode(signed["Signature"])):
        assert shown.decode(errors="replace") not in audit
        assert shown not in server.stderr_text().encode()


@pytest.fixture(scope="module")
def aws(server):
    home = server.workdir / "aws-cli-home"
    home.mkdir()
    binary = tool_path("aws")

    def run(*args: str, check: bool = True):
        env = client_env(home, AWS_SHARED_CREDENTIALS_FILE=str(server.admin_credentials_path))
        return run_tool([binary, "--endpoint-url", server.url, *args], env, check=check, cwd=home)

    run.home = home
    return run


@pytest.mark.parametrize("spec,algorithm,openssl_options", [
    ("ECC_NIST_P256", "ECDSA_SHA_256", []),
    ("ECC_NIST_P521", "ECDSA_SHA_512", []),
    ("RSA_3072", "RSASSA_PSS_SHA_384", ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"]),
    ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256", []),
])
def test_aws_cli_sign_verifies_with_openssl(aws, spec, algorithm, openssl_options):
    created = json.loads(aws("kms", "create-key", "--key-spec", spec, "--key-usage", "SIGN_VERIFY", "--output", "json").stdout)["KeyMetadata"]
    assert created["SigningAlgorithms"][0 if spec.startswith("ECC") else RSA_ALGORITHMS.index(algorithm)] == algorithm
    message = aws.home / f"{spec}.message"
    message.write_bytes(MESSAGE)
    signed = json.loads(aws("kms", "sign", "--key-id", created["Arn"], "--message", f"fileb://{message}", "--message-type", "RAW",
                            "--signing-algorithm", algorithm, "--output", "json").stdout)
    signature = aws.home / f"{spec}.sig"
    signature.write_bytes(base64.b64decode(signed["Signature"]))
    public = json.loads(aws("kms", "get-public-key", "--key-id", created["KeyId"], "--output", "json").stdout)
    der = aws.home / f"{spec}.pub.der"
    der.write_bytes(base64.b64decode(public["PublicKey"]))
    sha = "-sha" + algorithm[-3:]
    checked = subprocess.run(["openssl", "dgst", sha, "-verify", str(der), "-keyform", "DER", *openssl_options,
                              "-signature", str(signature), str(message)], capture_output=True, timeout=60)
    assert checked.returncode == 0 and b"Verified OK" in checked.stdout, checked.stderr.decode(errors="replace")
    # pkeyutl over the digest says the same.
    digest_file = aws.home / f"{spec}.digest"
    digest_file.write_bytes(digest(algorithm, MESSAGE))
    checked = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(der), "-keyform", "DER",
                              "-pkeyopt", f"digest:sha{algorithm[-3:]}", *[o.replace("-sigopt", "-pkeyopt") for o in openssl_options],
                              "-in", str(digest_file), "-sigfile", str(signature)], capture_output=True, timeout=60)
    assert checked.returncode == 0 and b"Signature Verified Successfully" in checked.stdout, checked.stderr.decode(errors="replace")
    # The CLI's verify, and a tampered signature refused with the CLI's service-error exit.
    verified = json.loads(aws("kms", "verify", "--key-id", created["Arn"], "--message", f"fileb://{message}", "--signing-algorithm", algorithm,
                              "--signature", f"fileb://{signature}", "--output", "json").stdout)
    assert verified["SignatureValid"] is True
    broken = bytearray(signature.read_bytes())
    broken[-1] ^= 1
    signature.write_bytes(bytes(broken))
    refused = aws("kms", "verify", "--key-id", created["Arn"], "--message", f"fileb://{message}", "--signing-algorithm", algorithm,
                  "--signature", f"fileb://{signature}", check=False)
    assert refused.returncode in (254, 255) and b"KMSInvalidSignatureException" in refused.stderr


def test_rsa_key_generation_does_not_hold_up_other_requests(server, kms):
    """An RSA_4096 key takes up to seconds to make. The server answers each connection on its event
    loop, so the key is made on a thread of its own: requests on every other connection, those on
    the creating connection's event loop included, are answered meanwhile."""
    import http.client
    import threading
    import time
    from urllib.parse import urlparse

    address = urlparse(server.url)
    # Enough connections that several share an event loop with boto3's.
    connections = [http.client.HTTPConnection(address.hostname, address.port, timeout=30) for _ in range(8)]
    for connection in connections:
        connection.request("GET", "/healthz")
        assert connection.getresponse().read() == b"ok\n"
    made: list[str] = []
    creating = threading.Thread(target=lambda: made.extend(
        kms.create_key(KeySpec="RSA_4096", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"] for _ in range(3)))
    creating.start()
    slowest, answered = 0.0, 0
    while creating.is_alive():
        for connection in connections:
            started = time.monotonic()
            connection.request("GET", "/healthz")
            assert connection.getresponse().read() == b"ok\n"
            slowest = max(slowest, time.monotonic() - started)
            answered += 1
    creating.join()
    for connection in connections:
        connection.close()
    assert len(made) == 3
    assert answered > len(connections), "the keys were made before any request could be timed"
    assert slowest < 0.5, f"a request waited {slowest:.2f} s while RSA keys were being made"
