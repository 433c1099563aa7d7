"""SigV4 and the wire protocol against the live server: requests signed by botocore's own
``SigV4Auth``/``AWSRequest``, then changed, and sent with urllib3; bodies botocore would never send.

Every failure must be a 4xx with a JSON ``__type`` (never a 500), and the server must still be
healthy afterwards.

Clock skew: botocore (checked in 1.43: ``botocore/retries/standard.py``, ``data/_retry.json``,
``endpoint.py``) retries no signature or clock-skew error and corrects no clock; it only reads the
response ``Date`` to compute the ``ttl`` of its ``amz-sdk-request`` header. So a boto3 client whose
clock is 10 minutes off gets ``InvalidSignatureException`` at once, as it would from AWS KMS.
``test_boto3_with_a_skewed_clock_is_not_corrected`` pins that down.
"""

from __future__ import annotations

import datetime
import json
import time
import unittest.mock
import uuid
from typing import Optional

import boto3
import botocore.auth
import pytest
import urllib3
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError

from conftest import REGION, Credentials, assert_not_contained

JSON_TYPE = "application/x-amz-json-1.1"


@pytest.fixture(scope="module")
def http() -> urllib3.PoolManager:
    pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=5, read=30))
    yield pool
    pool.clear()


class Reply:
    def __init__(self, response: urllib3.BaseHTTPResponse) -> None:
        self.status = response.status
        self.headers = response.headers
        self.raw = response.data
        try:
            self.json = json.loads(self.raw) if self.raw else None
        except ValueError:
            self.json = None

    @property
    def type(self) -> Optional[str]:
        return self.json.get("__type") if isinstance(self.json, dict) else None

    @property
    def message(self) -> str:
        if not isinstance(self.json, dict):
            return ""
        return self.json.get("message") or self.json.get("Message") or ""

    def describe(self) -> str:
        return f"HTTP {self.status} {self.type or self.raw[:200]!r} {self.message}"


def sign(
    url: str, credentials: Credentials, target: Optional[str] = "TrentService.ListKeys", body: bytes = b"{}",
    region: str = REGION, service: str = "kms", when: Optional[datetime.datetime] = None,
    secret: Optional[str] = None, access_key: Optional[str] = None, extra_headers: Optional[dict] = None,
) -> AWSRequest:
    """A request signed by botocore's SigV4Auth, as boto3 would send it (at ``when``, if given)."""
    headers = {"Content-Type": JSON_TYPE}
    if target is not None:
        headers["X-Amz-Target"] = target
    headers.update(extra_headers or {})
    request = AWSRequest(method="POST", url=url + "/", data=body, headers=headers)
    signer = botocore.auth.SigV4Auth(
        botocore.credentials.Credentials(access_key or credentials.access_key_id, secret or credentials.secret_access_key),
        service, region,
    )
    if when is None:
        signer.add_auth(request)
    else:
        naive = when.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        with unittest.mock.patch.object(botocore.auth, "get_current_datetime", lambda *a, **k: naive):
            signer.add_auth(request)
    return request


def send(http: urllib3.PoolManager, request: AWSRequest, body: Optional[bytes] = None) -> Reply:
    prepared = request.prepare()
    return Reply(http.request(
        "POST", prepared.url, body=prepared.body if body is None else body, headers=dict(prepared.headers),
    ))


def expect_error(reply: Reply, error_type: str, status: int = 400) -> None:
    assert reply.status == status and reply.type == error_type, (
        f"expected HTTP {status} {error_type}, got {reply.describe()}"
    )
    assert reply.headers.get("Content-Type") == JSON_TYPE, reply.headers.get("Content-Type")
    assert reply.headers.get("x-amzn-RequestId"), "no x-amzn-RequestId"
    assert reply.headers.get("Date"), "no Date"


def assert_healthy(http: urllib3.PoolManager, server, admin: Credentials) -> None:
    ready = http.request("GET", server.url + "/readyz")
    assert ready.status == 200, f"/readyz answered {ready.status}"
    reply = send(http, sign(server.url, admin))
    assert reply.status == 200, f"a good request after the bad one: {reply.describe()}"


# ---------------------------------------------------------------------------------------------
# Health and metrics


def test_health_ready_and_metrics(http, server, admin):
    health = http.request("GET", server.url + "/healthz")
    assert health.status == 200
    ready = http.request("GET", server.url + "/readyz")
    assert ready.status == 200
    send(http, sign(server.url, admin))  # at least one KMS request counted
    assert http.request("GET", server.url + "/metrics").status == 404, "metrics on the KMS listener"
    metrics = http.request("GET", server.metrics_url + "/metrics")
    assert metrics.status == 200
    text = metrics.data.decode()
    assert metrics.headers.get("Content-Type", "").startswith("text/plain")
    assert "envseal_requests_total" in text, "no envseal_requests_total in /metrics"
    assert 'operation="ListKeys"' in text
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name_and_labels, _, value = line.rpartition(" ")
            float(value)  # every sample line ends in a number
            assert name_and_labels
    assert_not_contained(text, admin.secret_access_key, "/metrics")


# ---------------------------------------------------------------------------------------------
# Signatures


def test_correct_signature(http, server, admin):
    reply = send(http, sign(server.url, admin))
    assert reply.status == 200, reply.describe()
    assert reply.headers["Content-Type"] == JSON_TYPE
    assert isinstance(reply.json["Keys"], list) and reply.json["Truncated"] is False
    assert reply.headers.get("x-amzn-RequestId")
    assert reply.headers.get("Date")


def test_wrong_secret(http, server, admin):
    wrong = "A" * len(admin.secret_access_key)
    expect_error(send(http, sign(server.url, admin, secret=wrong)), "InvalidSignatureException")


def test_unknown_access_key(http, server, admin):
    expect_error(send(http, sign(server.url, admin, access_key="AKIAENVSEALUNKNOWN00")), "UnrecognizedClientException")


def test_no_authorization(http, server, admin):
    request = sign(server.url, admin)
    del request.headers["Authorization"]
    expect_error(send(http, request), "MissingAuthenticationTokenException")


def test_truncated_authorization(http, server, admin):
    full = sign(server.url, admin).headers["Authorization"]
    for cut in (full[: full.index(", Signature=")], full[: full.index("SignedHeaders=") + 20], full[:30], "AWS4-HMAC-SHA256"):
        request = sign(server.url, admin)
        request.headers.replace_header("Authorization", cut)
        expect_error(send(http, request), "IncompleteSignatureException")


def _mangle(authorization: str, case: str) -> str:
    algorithm, _, rest = authorization.partition(" ")
    parts = dict(part.split("=", 1) for part in rest.split(", "))
    credential, signed, signature = parts["Credential"], parts["SignedHeaders"], parts["Signature"]
    access, date, region, service, terminator = credential.split("/")
    variants = {
        "empty-credential": f"{algorithm} Credential=, SignedHeaders={signed}, Signature={signature}",
        "short-scope": f"{algorithm} Credential={access}/{date}, SignedHeaders={signed}, Signature={signature}",
        "long-scope": f"{algorithm} Credential={credential}/extra, SignedHeaders={signed}, Signature={signature}",
        "bad-terminator": f"{algorithm} Credential={access}/{date}/{region}/{service}/aws5_request, "
                          f"SignedHeaders={signed}, Signature={signature}",
        "scope-date-not-request-date": f"{algorithm} Credential={access}/20200101/{region}/{service}/{terminator}, "
                                       f"SignedHeaders={signed}, Signature={signature}",
        "empty-signed-headers": f"{algorithm} Credential={credential}, SignedHeaders=, Signature={signature}",
        "host-not-signed": f"{algorithm} Credential={credential}, SignedHeaders="
                           + ";".join(h for h in signed.split(";") if h != "host") + f", Signature={signature}",
        "empty-signature": f"{algorithm} Credential={credential}, SignedHeaders={signed}, Signature=",
        "non-hex-signature": f"{algorithm} Credential={credential}, SignedHeaders={signed}, Signature={'zz' * 32}",
        "short-signature": f"{algorithm} Credential={credential}, SignedHeaders={signed}, Signature={signature[:10]}",
        "uppercase-signature": f"{algorithm} Credential={credential}, SignedHeaders={signed}, Signature={signature.upper()}",
        "duplicate-component": f"{algorithm} Credential={credential}, Credential={credential}, "
                               f"SignedHeaders={signed}, Signature={signature}",
        "unicode-credential": f"{algorithm} Credential=\u00e9\u00e9/{date}/{region}/{service}/{terminator}, "
                              f"SignedHeaders={signed}, Signature={signature}",
        "signed-header-missing": f"{algorithm} Credential={credential}, SignedHeaders={signed};x-not-sent, "
                                 f"Signature={signature}",
        "only-algorithm-and-space": f"{algorithm} ",
        "garbage": "Bearer abc.def.ghi",
    }
    return variants[case]


MANGLED = ["empty-credential", "short-scope", "long-scope", "bad-terminator", "scope-date-not-request-date",
           "empty-signed-headers", "host-not-signed", "empty-signature", "non-hex-signature", "short-signature",
           "uppercase-signature", "duplicate-component", "unicode-credential", "signed-header-missing",
           "only-algorithm-and-space", "garbage"]


@pytest.mark.parametrize("case", MANGLED)
def test_malformed_authorization_is_a_4xx(http, server, admin, case):
    request = sign(server.url, admin)
    request.headers.replace_header("Authorization", _mangle(request.headers["Authorization"], case))
    prepared = request.prepare()
    headers = {k: (v.encode() if isinstance(v, str) else v) for k, v in prepared.headers.items()}
    reply = Reply(http.request("POST", prepared.url, body=prepared.body, headers=headers))
    assert 400 <= reply.status < 500 and reply.type, f"{case}: {reply.describe()}"
    assert reply.type in ("IncompleteSignatureException", "InvalidSignatureException", "UnrecognizedClientException",
                          "MissingAuthenticationTokenException"), f"{case}: {reply.describe()}"
    assert_healthy(http, server, admin)


@pytest.mark.parametrize("value", ["", "2026-11-28T00:00:00Z", "20261128", "99999999T999999Z", "20261340T250000Z",
                                   "not a date"])
def test_malformed_amz_date_is_a_4xx(http, server, admin, value):
    request = sign(server.url, admin)
    request.headers.replace_header("X-Amz-Date", value)
    reply = send(http, request)
    assert 400 <= reply.status < 500 and reply.type, f"{value!r}: {reply.describe()}"
    assert_healthy(http, server, admin)


def test_other_algorithm(http, server, admin):
    request = sign(server.url, admin)
    request.headers.replace_header("Authorization", request.headers["Authorization"].replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512", 1))
    expect_error(send(http, request), "IncompleteSignatureException")


def test_signature_ten_minutes_old(http, server, admin):
    old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=10)
    reply = send(http, sign(server.url, admin, when=old))
    expect_error(reply, "InvalidSignatureException")
    assert "Signature expired" in reply.message, reply.message


def test_signature_ten_minutes_ahead(http, server, admin):
    ahead = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=10)
    reply = send(http, sign(server.url, admin, when=ahead))
    expect_error(reply, "InvalidSignatureException")
    assert "not yet current" in reply.message, reply.message


def test_signature_four_minutes_old_is_accepted(http, server, admin):
    recent = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=4)
    reply = send(http, sign(server.url, admin, when=recent))
    assert reply.status == 200, reply.describe()


def test_boto3_with_a_skewed_clock_is_not_corrected(server, admin):
    """botocore has no clock-skew correction (unlike aws-sdk-go-v2 and the JS v3 SDK): with its
    default retry settings a client 10 minutes behind fails at once, without retrying."""
    client = boto3.session.Session(
        aws_access_key_id=admin.access_key_id, aws_secret_access_key=admin.secret_access_key, region_name=REGION,
    ).client("kms", endpoint_url=server.url)  # botocore's default retries
    assert client.list_keys()["ResponseMetadata"]["HTTPStatusCode"] == 200
    skewed = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(minutes=10)
    with unittest.mock.patch.object(botocore.auth, "get_current_datetime", lambda *a, **k: skewed):
        with pytest.raises(ClientError) as info:
            client.list_keys()
    error = info.value.response
    assert error["Error"]["Code"] == "InvalidSignatureException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["ResponseMetadata"]["RetryAttempts"] == 0, (
        "botocore retried a clock-skew error: it corrects skew now, so expect success here instead"
    )
    assert client.list_keys()["ResponseMetadata"]["HTTPStatusCode"] == 200  # the real clock works again


def test_signed_header_with_inner_whitespace(http, server, admin):
    # SigV4 canonicalizes header values by trimming and collapsing runs of spaces, as botocore does.
    request = sign(server.url, admin, extra_headers={"X-Envseal-Test": "  a   b \t c  "})
    assert "x-envseal-test" in request.headers["Authorization"], "botocore did not sign the extra header"
    reply = send(http, request)
    assert reply.status == 200, reply.describe()


def test_authorization_without_spaces_and_lowercase_header_name(http, server, admin):
    request = sign(server.url, admin)
    compact = request.headers["Authorization"].replace(", ", ",")
    prepared = request.prepare()
    headers = {name: value for name, value in prepared.headers.items() if name.lower() != "authorization"}
    headers["authorization"] = compact
    reply = Reply(http.request("POST", prepared.url, body=prepared.body, headers=headers))
    assert reply.status == 200, reply.describe()


def test_signed_query_string(http, server, admin):
    request = AWSRequest(method="POST", url=server.url + "/?b=2&a=1", data=b"{}",
                         headers={"Content-Type": JSON_TYPE, "X-Amz-Target": "TrentService.ListKeys"})
    botocore.auth.SigV4Auth(admin.botocore(), "kms", REGION).add_auth(request)
    reply = send(http, request)
    assert reply.status == 200, reply.describe()
    # ... and a query parameter added after signing breaks the signature.
    prepared = request.prepare()
    reply = Reply(http.request("POST", prepared.url + "&c=3", body=prepared.body, headers=dict(prepared.headers)))
    expect_error(reply, "InvalidSignatureException")


def test_chunked_body(http, server, admin):
    body = json.dumps({"Limit": 5}).encode()
    request = sign(server.url, admin, body=body)
    prepared = request.prepare()
    headers = {name: value for name, value in prepared.headers.items() if name.lower() != "content-length"}
    reply = Reply(http.request("POST", prepared.url, body=iter([body[:4], body[4:]]), headers=headers, chunked=True))
    assert reply.status == 200, reply.describe()


def test_chunked_oversized_body(http, server, admin):
    chunk = b" " * 8192
    body_parts = [b'{"Limit": 5' ] + [chunk] * 10 + [b"}"]
    request = sign(server.url, admin, body=b"".join(body_parts))
    prepared = request.prepare()
    headers = {name: value for name, value in prepared.headers.items() if name.lower() != "content-length"}
    try:
        reply = Reply(http.request("POST", prepared.url, body=iter(body_parts), headers=headers, chunked=True))
    except urllib3.exceptions.ProtocolError:
        reply = None  # the server may answer and close before reading it all
    if reply is not None:
        assert reply.status in (400, 413) and reply.type, reply.describe()
    assert_healthy(http, server, admin)


def test_body_changed_after_signing(http, server, admin):
    body = json.dumps({"Limit": 10}).encode()
    request = sign(server.url, admin, body=body)
    changed = body.replace(b"10", b"11")
    expect_error(send(http, request, body=changed), "InvalidSignatureException")


def test_target_changed_after_signing(http, server, admin):
    request = sign(server.url, admin, target="TrentService.ListKeys")
    request.headers.replace_header("X-Amz-Target", "TrentService.ListAliases")
    expect_error(send(http, request), "InvalidSignatureException")


@pytest.mark.parametrize("region, service", [("eu-west-1", "kms"), ("us-east-1", "s3"), ("us-east-1", "dynamodb")])
def test_wrong_scope(http, server, admin, region, service):
    expect_error(send(http, sign(server.url, admin, region=region, service=service)), "InvalidSignatureException")


def test_session_token_is_refused(http, server, admin):
    request = sign(server.url, admin, extra_headers={"X-Amz-Security-Token": "FwoGZXIvYXdzEXAMPLE"})
    expect_error(send(http, request), "UnrecognizedClientException")


def test_disabled_principal_signature_is_unrecognized(http, server, make_principal):
    principal = make_principal("sigv4-disabled")
    assert send(http, sign(server.url, principal.credentials)).status == 200
    server.cli("principals", "disable", principal.name)
    deadline = time.monotonic() + 3
    while True:
        reply = send(http, sign(server.url, principal.credentials))
        if reply.status != 200 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    expect_error(reply, "UnrecognizedClientException")


# ---------------------------------------------------------------------------------------------
# Bodies and targets botocore would never send: 4xx with a JSON __type, never a 500


# case: (X-Amz-Target, body, the __type AWS answers, or None where any 4xx with a type will do)
BAD_REQUESTS = {
    "malformed-json": ("TrentService.ListKeys", b'{"Limit": 10', "SerializationException"),
    "not-an-object": ("TrentService.ListKeys", b"[1, 2, 3]", "SerializationException"),
    "json-null-body": ("TrentService.ListKeys", b"null", None),
    "not-utf8": ("TrentService.ListKeys", b'{"Limit": "\xff\xfe"}', None),
    "limit-as-string": ("TrentService.ListKeys", b'{"Limit": "ten"}', "SerializationException"),
    "limit-as-float": ("TrentService.ListKeys", b'{"Limit": 1.5}', None),
    "keyid-as-number": ("TrentService.DescribeKey", b'{"KeyId": 5}', "SerializationException"),
    "context-as-list": ("TrentService.GenerateDataKey",
                        b'{"KeyId": "alias/x", "KeySpec": "AES_256", "EncryptionContext": ["a"]}', "SerializationException"),
    "grant-tokens-as-string": ("TrentService.Encrypt", b'{"KeyId": "alias/x", "Plaintext": "AA==", "GrantTokens": "t"}',
                               "SerializationException"),
    "missing-keyid": ("TrentService.DescribeKey", b"{}", "ValidationException"),
    "null-keyid": ("TrentService.DescribeKey", b'{"KeyId": null}', "ValidationException"),
    "missing-plaintext": ("TrentService.Encrypt", b'{"KeyId": "alias/x"}', "ValidationException"),
    "missing-ciphertext": ("TrentService.Decrypt", b"{}", "ValidationException"),
    "bad-base64": ("TrentService.Decrypt", b'{"CiphertextBlob": "!!not base64!!"}', "SerializationException"),
    "base64-as-number": ("TrentService.Decrypt", b'{"CiphertextBlob": 12345}', "SerializationException"),
    "unknown-enum": ("TrentService.GenerateDataKey", b'{"KeyId": "alias/x", "KeySpec": "AES_512"}', "ValidationException"),
    "negative-limit": ("TrentService.ListKeys", b'{"Limit": -1}', "ValidationException"),
    "huge-limit": ("TrentService.ListKeys", b'{"Limit": 99999999999999999999}', None),
    "deep-nesting": ("TrentService.ListKeys", b'{"Limit": ' + b"[" * 5000 + b"]" * 5000 + b"}", None),
    "unknown-target": ("TrentService.DeleteEverything", b"{}", "UnknownOperationException"),
    "other-service-target": ("DynamoDB_20120810.ListTables", b"{}", "UnknownOperationException"),
    "target-without-operation": ("TrentService.", b"{}", "UnknownOperationException"),
    "lowercase-target": ("trentservice.listkeys", b"{}", "UnknownOperationException"),
}


@pytest.mark.parametrize("case", sorted(BAD_REQUESTS))
def test_bad_request_is_a_4xx_with_a_type(http, server, admin, case):
    target, body, error_type = BAD_REQUESTS[case]
    reply = send(http, sign(server.url, admin, target=target, body=body))
    assert 400 <= reply.status < 500, f"{case}: {reply.describe()}"
    assert reply.type, f"{case}: no JSON __type in {reply.raw[:200]!r}"
    if error_type:  # None: AWS's exact answer is not known, any 4xx with a type will do
        expect_error(reply, error_type)
    assert_healthy(http, server, admin)


def test_missing_target(http, server, admin):
    reply = send(http, sign(server.url, admin, target=None))
    assert 400 <= reply.status < 500 and reply.type, reply.describe()
    expect_error(reply, "UnknownOperationException")
    assert_healthy(http, server, admin)


def test_oversized_body(http, server, admin):
    policy = json.dumps({"Version": "2012-10-17", "Statement": [], "Padding": "x" * (70 * 1024)})
    body = json.dumps({"KeyId": str(uuid.uuid4()), "PolicyName": "default", "Policy": policy}).encode()
    assert len(body) > 64 * 1024
    reply = send(http, sign(server.url, admin, target="TrentService.PutKeyPolicy", body=body))
    assert reply.status in (400, 413), reply.describe()
    assert reply.type, f"no JSON __type in {reply.raw[:200]!r}"
    assert_healthy(http, server, admin)


def test_body_of_exactly_64_kib_is_read(http, server, admin):
    # 64 KiB is allowed: the request is then judged on its contents (a key that does not exist).
    missing = str(uuid.uuid4())
    padding = 64 * 1024 - len(json.dumps({"KeyId": missing, "Policy": ""}).encode())
    body = json.dumps({"KeyId": missing, "Policy": "x" * padding}).encode()
    assert len(body) == 64 * 1024
    reply = send(http, sign(server.url, admin, target="TrentService.PutKeyPolicy", body=body))
    expect_error(reply, "NotFoundException", 404)


def test_get_on_the_kms_endpoint(http, server):
    reply = Reply(http.request("GET", server.url + "/"))
    assert 400 <= reply.status < 500, reply.describe()


def test_server_answered_no_500_to_anything(server):
    log = server.stderr_text()
    assert "status=500" not in log, "the server answered 500 to a request of this module"
    assert "unexpected failure" not in log
