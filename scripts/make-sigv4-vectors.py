#!/usr/bin/env python3
"""Write Tests/KMSWireTests/Vectors/sigv4.json: SigV4-signed KMS requests from botocore itself.

The Swift SigV4 signer and verifier (Sources/KMSWire/SigV4) are checked against these vectors: the
verifier must accept every request signed with long-term credentials (and reject the ones carrying a
session token, which envseal does not issue), and the signer must produce the identical
`Authorization` header from the same inputs.

Two kinds of vector:

  * "client": a real boto3 KMS client (`boto3.session.Session(...).client("kms", endpoint_url=...)`)
    builds, serializes and signs the request through its normal pipeline (botocore's `SigV4Auth`, as
    chosen by the KMS model's `signatureVersion: v4`); a `before-send` hook captures it and answers
    with a canned response, so nothing goes on the network. botocore's clock
    (`botocore.auth.get_current_datetime`) is pinned to a fixed date.
  * "sigv4auth": an `AWSRequest` built by hand and signed with `botocore.auth.SigV4Auth.add_auth`,
    for what boto3 itself never sends but other clients do: raw UTF-8 JSON (botocore's serializer
    escapes non-ASCII as \\uXXXX; Go's encoder does not), a query string, a path with dot segments
    and doubled slashes, repeated headers, values with runs of spaces.

Each vector records:

  signer_headers   the headers the signer is given (what the request held when botocore signed it,
                   plus the Host header, which botocore derives from the URL and urllib3 sends);
  headers          the headers on the wire, in order: Host, then the request's headers after
                   signing as botocore hands them to urllib3 (X-Amz-Date, X-Amz-Security-Token and
                   Authorization added, Content-Length and amz-sdk-* added after signing);
  body_base64      the exact body bytes;
  canonical_request, string_to_sign, authorization
                   botocore's own values (SigV4Auth.canonical_request / string_to_sign);
  expect           "valid", or the __type the verifier must answer (session-token requests:
                   "UnrecognizedClientException"; a request whose X-Amz-Target or Content-Type
                   was added after signing, so that SignedHeaders leaves it out:
                   "InvalidSignatureException");
  swift_signs      whether the Swift signer is expected to reproduce `authorization` from
                   `signer_headers`: false only for the request botocore signs with a `Date` header
                   instead of `X-Amz-Date` (the Swift signer always sends `X-Amz-Date`).

Before writing, the script checks botocore against the AWS SigV4 test suite's get-vanilla and
post-vanilla signatures, so a botocore that no longer signs like AWS is caught.

Usage:
    pip install boto3
    python3 scripts/make-sigv4-vectors.py          # (re)write the vector file
    python3 scripts/make-sigv4-vectors.py --check  # exit 1 if the committed file differs
"""

import argparse
import base64
import datetime
import json
import os
import sys
import uuid
from unittest import mock

import boto3
import botocore
import botocore.auth
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.credentials import Credentials

REPO_ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
OUTPUT = os.path.join(REPO_ROOT, "Tests", "KMSWireTests", "Vectors", "sigv4.json")

# The AWS documentation's example key pair (also the SigV4 test suite's).
ACCESS_KEY_ID = "AKIDEXAMPLE"
SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLWVhc3QtMSJHMEUCIQDexampletoken=="


def pinned_clock(stamp):
    """A stand-in for botocore.auth.get_current_datetime that returns a fixed UTC time."""
    fixed = datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ")
    return lambda *args, **kwargs: fixed


def host_of(url):
    """The Host header urllib3 sends: botocore's own derivation (port kept unless default)."""
    return botocore.auth._host_from_url(url)


def check_suite():
    """botocore must reproduce two published signatures of the AWS SigV4 test suite."""
    creds = Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY)
    expected = {
        "GET": "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        "POST": "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
    }
    for method, signature in expected.items():
        request = AWSRequest(method=method, url="https://example.amazonaws.com/", headers={})
        with mock.patch.object(botocore.auth, "get_current_datetime", pinned_clock("20150830T123600Z")):
            SigV4Auth(creds, "service", "us-east-1").add_auth(request)
        got = request.headers["Authorization"].rsplit("Signature=", 1)[1]
        if got != signature:
            sys.exit(f"botocore signs the suite's {method.lower()}-vanilla as {got}, not {signature}")


class Recorder:
    """Records the canonical request and string to sign botocore computes while it signs."""

    def __init__(self):
        self.canonical_request = None
        self.string_to_sign = None
        self._canonical = SigV4Auth.canonical_request
        self._string_to_sign = SigV4Auth.string_to_sign

    def __enter__(self):
        recorder = self

        def canonical_request(auth, request):
            recorder.canonical_request = recorder._canonical(auth, request)
            return recorder.canonical_request

        def string_to_sign(auth, request, canonical):
            recorder.string_to_sign = recorder._string_to_sign(auth, request, canonical)
            return recorder.string_to_sign

        self._patches = [
            mock.patch.object(SigV4Auth, "canonical_request", canonical_request),
            mock.patch.object(SigV4Auth, "string_to_sign", string_to_sign),
        ]
        for patch in self._patches:
            patch.start()
        return self

    def __exit__(self, *exc):
        for patch in reversed(self._patches):
            patch.stop()
        return False


def text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def reproducible(headers):
    """The headers with a fixed User-Agent: botocore's names the OS, Python build and the order of
    the features it used (set iteration, so it varies between runs); it is never signed."""
    fixed = f"Boto3/{boto3.__version__} Botocore/{botocore.__version__}"
    return [[k, fixed if k.lower() == "user-agent" else v] for k, v in headers]


def describe(request, signer_headers, recorder, stamp, region, token, name, kind, note, expect=None):
    """One vector from a signed request (url, method, headers and body as sent)."""
    split = botocore.compat.urlsplit(request.url)
    path = split.path or "/"
    if split.query:
        path += "?" + split.query
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    wire = [["Host", host_of(request.url)]] + [[k, text(v)] for k, v in request.headers.items()]
    return {
        "name": name,
        "kind": kind,
        "note": note,
        "access_key_id": ACCESS_KEY_ID,
        "secret_access_key": SECRET_ACCESS_KEY,
        "session_token": token,
        "region": region,
        "service": "kms",
        "amz_date": stamp,
        "method": request.method,
        "path": path,
        "signer_headers": reproducible(signer_headers),
        "headers": reproducible(wire),
        "body_base64": base64.b64encode(body).decode("ascii"),
        "canonical_request": recorder.canonical_request,
        "string_to_sign": recorder.string_to_sign,
        "authorization": text(request.headers["Authorization"]),
        "expect": expect or ("UnrecognizedClientException" if token else "valid"),
        "swift_signs": expect is None and not any(k.lower() == "date" for k, _ in request.headers.items()),
    }


def client_vector(name, note, operation, params, stamp, region="us-east-1",
                  endpoint="http://localhost:8080", token=None):
    """Signs one KMS call through a real boto3 client and captures it before it is sent."""
    session = boto3.session.Session(
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        aws_session_token=token,
        region_name=region,
    )
    client = session.client("kms", endpoint_url=endpoint)
    seen = {}

    def before_sign(request, **kwargs):
        # The headers the signer sees; Host comes from the URL and goes first on the wire.
        seen["signer_headers"] = [["Host", host_of(request.url)]] + [
            [k, text(v)] for k, v in request.headers.items()
        ]

    def before_send(request, **kwargs):
        seen["request"] = request

        class Raw:
            def stream(self, *args, **kwargs):
                yield b"{}"

        return AWSResponse(request.url, 200, {"Content-Type": "application/x-amz-json-1.1"}, Raw())

    client.meta.events.register("before-sign.kms", before_sign)
    client.meta.events.register("before-send.kms", before_send)
    # amz-sdk-invocation-id is a random UUID (unsigned); pin it so the file is reproducible.
    with Recorder() as recorder, \
            mock.patch.object(botocore.auth, "get_current_datetime", pinned_clock(stamp)), \
            mock.patch.object(uuid, "uuid4", lambda: uuid.UUID(int=0x5167)):
        getattr(client, operation)(**params)
    return describe(seen["request"], seen["signer_headers"], recorder, stamp, region, token, name, "client", note)


def direct_vector(name, note, method, url, headers, body, stamp, region="us-east-1", token=None,
                  added_after_signing=(), expect=None):
    """Signs a hand-built request with SigV4Auth.add_auth, as another SDK would send it; then adds
    ``added_after_signing``, headers the signature does not cover."""
    request = AWSRequest(method=method, url=url, data=body)
    for key, value in headers:
        request.headers[key] = value  # HTTPMessage appends, so a repeated name stays repeated
    signer_headers = [["Host", host_of(url)]] + [[k, v] for k, v in headers]
    creds = Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY, token)
    with Recorder() as recorder, mock.patch.object(botocore.auth, "get_current_datetime", pinned_clock(stamp)):
        SigV4Auth(creds, "kms", region).add_auth(request)
    for key, value in added_after_signing:
        request.headers[key] = value
    return describe(request, signer_headers, recorder, stamp, region, token, name, "sigv4auth", note, expect)


JSON_HEADERS = [("Content-Type", "application/x-amz-json-1.1")]


def target(operation):
    return [("X-Amz-Target", "TrentService." + operation)]


def build():
    vectors = [
        client_vector("list-keys", "boto3 ListKeys, empty JSON body", "list_keys", {}, "20150830T123600Z"),
        client_vector(
            "encrypt-unicode-context",
            "boto3 Encrypt with a non-ASCII encryption context (botocore escapes it as \\uXXXX)",
            "encrypt",
            {
                "KeyId": "alias/envseal-test",
                "Plaintext": "pässwörd ✓".encode("utf-8"),
                "EncryptionContext": {"ключ": "värde ✓", "app": "envseal"},
            },
            "20240229T235959Z",
        ),
        client_vector(
            "decrypt",
            "boto3 Decrypt of a ciphertext blob, explicit key and algorithm",
            "decrypt",
            {
                "CiphertextBlob": bytes(range(0, 96)),
                "KeyId": "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
            },
            "20251231T235959Z",
            region="eu-west-1",
            endpoint="https://kms.eu-west-1.amazonaws.com",
        ),
        client_vector(
            "list-keys-session-token",
            "boto3 ListKeys with session credentials: X-Amz-Security-Token is added and signed",
            "list_keys",
            {"Limit": 10},
            "20150830T123600Z",
            token=SESSION_TOKEN,
        ),
        client_vector(
            "encrypt-session-token",
            "boto3 Encrypt with session credentials against an HTTPS endpoint on a custom port",
            "encrypt",
            {"KeyId": "alias/envseal-test", "Plaintext": b"hello"},
            "20200101T000000Z",
            region="eu-central-1",
            endpoint="https://kms.internal.example:8443",
            token=SESSION_TOKEN,
        ),
        direct_vector(
            "encrypt-raw-utf8-body",
            "raw UTF-8 JSON body, as Go's encoder writes it",
            "POST",
            "http://localhost:8080/",
            JSON_HEADERS + target("Encrypt"),
            json.dumps(
                {"KeyId": "alias/envseal-test", "Plaintext": "aGVsbG8=",
                 "EncryptionContext": {"ключ": "värde ✓", "emoji": "🔐"}},
                ensure_ascii=False, separators=(",", ":"),
            ).encode("utf-8"),
            "20230615T101112Z",
        ),
        direct_vector(
            "query-and-repeated-headers",
            "a query string (sorted by name then value; a name without '=' gets an empty value), "
            "a repeated header joined with ',', runs of spaces collapsed",
            "POST",
            "http://localhost:8080/?b=2&a=1&a=0&c=x%20~y&d&%C3%A4=",
            JSON_HEADERS + target("ListAliases")
            + [("X-Custom", "  one   two  "), ("X-Custom", "three"), ("My-Header", "\"a   b   c\"")],
            b'{"Limit":5}',
            "20150830T123600Z",
        ),
        direct_vector(
            "dot-segments-and-escapes",
            "a path with dot segments, doubled slashes and a %-escape (non-S3 services encode it again)",
            "POST",
            "http://localhost:8080/a/./b/../c//d%20e/",
            JSON_HEADERS + target("ListKeys"),
            b"{}",
            "20150830T123600Z",
        ),
        direct_vector(
            "date-header",
            "signed with a Date header instead of X-Amz-Date: botocore does so when the request has a "
            "Date header, and writes it with email.utils.formatdate ('-0000' for the zone)",
            "POST",
            "http://localhost:8080/",
            JSON_HEADERS + target("ListKeys") + [("Date", "replaced by the signer")],
            b"{}",
            "20150830T123600Z",
        ),
        direct_vector(
            "empty-body",
            "no body at all: the payload hash is SHA-256 of the empty string",
            "POST",
            "http://localhost:8080/",
            JSON_HEADERS + target("ListKeys"),
            b"",
            "20150830T123600Z",
        ),
        direct_vector(
            "target-not-signed",
            "signed over host;x-amz-date only, X-Amz-Target and Content-Type added afterwards: whoever "
            "is on the path could turn a DescribeKey into a DisableKey, so it is refused",
            "POST",
            "http://localhost:8080/",
            [],
            b'{"KeyId":"alias/envseal-test"}',
            "20150830T123600Z",
            added_after_signing=JSON_HEADERS + target("DisableKey"),
            expect="InvalidSignatureException",
        ),
        direct_vector(
            "content-type-not-signed",
            "X-Amz-Target signed, Content-Type added afterwards: refused",
            "POST",
            "http://localhost:8080/",
            target("ListKeys"),
            b"{}",
            "20150830T123600Z",
            added_after_signing=JSON_HEADERS,
            expect="InvalidSignatureException",
        ),
    ]
    return vectors


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed file differs")
    args = parser.parse_args()
    check_suite()
    text = json.dumps(build(), indent=2, ensure_ascii=False) + "\n"
    if args.check:
        with open(OUTPUT, encoding="utf-8") as handle:
            if handle.read() != text:
                sys.exit(f"{os.path.relpath(OUTPUT, REPO_ROOT)} is out of date: run scripts/make-sigv4-vectors.py")
        return
    os.makedirs(os.path.dirname(OUTPUT), exist_ok=True)
    with open(OUTPUT, "w", encoding="utf-8") as handle:
        handle.write(text)


if __name__ == "__main__":
    main()
