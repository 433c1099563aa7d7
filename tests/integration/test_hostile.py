"""Hostile input against a live server: hundreds of malformed or malicious requests, each answered
with a typed 4xx (never a 500, never a hang), the server healthy after every kind, and its memory
flat across repeated rounds.

The wrong-type cases are generated from botocore's own KMS model: for every operation and every
input member, a value of the wrong JSON type; for every operation, its required members missing.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import botocore.session
import pytest
import urllib3

from conftest import Credentials
from test_sigv4 import Reply, send, sign

ROUND_LIMIT_SECONDS = 2.0
WRONG = {
    "string": 12345, "integer": "not-a-number", "long": "not-a-number", "boolean": "yes",
    "blob": "!!! not base64 !!!", "timestamp": "yesterday", "list": {"not": "a list"},
    "map": ["not", "a", "map"], "structure": "not-a-structure",
}


@pytest.fixture(scope="module")
def http():
    pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=5, read=10))
    yield pool
    pool.clear()


def generated_cases() -> list[tuple[str, str, bytes]]:
    """(name, target, body) for every operation's wrong-typed and missing members."""
    model = botocore.session.get_session().get_service_model("kms")
    cases = []
    for name in model.operation_names:
        operation = model.operation_model(name)
        shape = operation.input_shape
        if shape is None:
            continue
        for member, member_shape in shape.members.items():
            wrong = WRONG.get(member_shape.type_name)
            if wrong is not None:
                cases.append((f"{name}.{member} as wrong type", f"TrentService.{name}", json.dumps({member: wrong}).encode()))
        if shape.required_members:
            cases.append((f"{name} without its required members", f"TrentService.{name}", b"{}"))
    return cases


FIXED_CASES = [
    ("not JSON", "TrentService.ListKeys", b"{not json"),
    ("a JSON array", "TrentService.ListKeys", b"[1,2,3]"),
    ("a JSON string", "TrentService.ListKeys", b'"hello"'),
    ("null", "TrentService.ListKeys", b"null"),
    ("truncated JSON", "TrentService.Encrypt", b'{"KeyId": "alias/x", "Plaintext": "aGVsbG8'),
    ("deeply nested", "TrentService.ListKeys", b'{"a":' * 5000 + b"1" + b"}" * 5000),
    ("deeply nested array", "TrentService.ListKeys", b"[" * 20000 + b"]" * 20000),
    ("NUL bytes", "TrentService.ListKeys", b"{\x00\x00}"),
    ("invalid UTF-8", "TrentService.DescribeKey", b'{"KeyId": "\xff\xfe"}'),
    ("bad base64 ciphertext", "TrentService.Decrypt", b'{"CiphertextBlob": "%%%"}'),
    ("empty ciphertext", "TrentService.Decrypt", b'{"CiphertextBlob": ""}'),
    ("garbage ciphertext", "TrentService.Decrypt", b'{"CiphertextBlob": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}'),
    ("huge number", "TrentService.ListKeys", b'{"Limit": 1e999}'),
    ("negative limit", "TrentService.ListKeys", b'{"Limit": -1}'),
    ("float limit", "TrentService.ListKeys", b'{"Limit": 1.5}'),
    ("marker not ours", "TrentService.ListKeys", b'{"Marker": "forged-marker"}'),
    ("unknown target", "TrentService.FormatHardDisk", b"{}"),
    ("other service", "DynamoDB_20120810.ListTables", b"{}"),
    ("empty target", "", b"{}"),
    ("plaintext too large", "TrentService.Encrypt",
     json.dumps({"KeyId": "alias/x", "Plaintext": "A" * 8000}).encode()),
    ("context too large", "TrentService.GenerateDataKey",
     json.dumps({"KeyId": "alias/x", "KeySpec": "AES_256", "EncryptionContext": {f"k{i}": "v" * 100 for i in range(200)}}).encode()),
    ("alias without prefix", "TrentService.CreateAlias", b'{"AliasName": "noprefix", "TargetKeyId": "x"}'),
    ("reserved alias", "TrentService.CreateAlias", b'{"AliasName": "alias/aws/kms", "TargetKeyId": "x"}'),
    ("bad key spec", "TrentService.GenerateDataKey", b'{"KeyId": "alias/x", "KeySpec": "AES_512"}'),
    ("both key spec and bytes", "TrentService.GenerateDataKey", b'{"KeyId": "alias/x", "KeySpec": "AES_256", "NumberOfBytes": 32}'),
    ("random bytes too many", "TrentService.GenerateRandom", b'{"NumberOfBytes": 100000}'),
    ("deletion window too short", "TrentService.ScheduleKeyDeletion", b'{"KeyId": "x", "PendingWindowInDays": 1}'),
]

BAD_POLICIES = [
    "not json", "[]", "{}", '{"Version": "2012-10-17"}', '{"Statement": "x"}', '{"Statement": []}',
    '{"Statement": [{"Effect": "Maybe", "Principal": "*", "Action": "kms:*", "Resource": "*"}]}',
    '{"Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}',
    '{"Statement": [{"Effect": "Allow", "Principal": {"AWS": 5}, "Action": "kms:*", "Resource": "*"}]}',
    '{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": 7, "Resource": "*"}]}',
    '{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*", "Condition": "x"}]}',
    '{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*", "Condition": {"Bogus": {"k": "v"}}}]}',
    '{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*", "Condition": {"StringEquals": "x"}}]}',
    '{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*", "Condition": {"StringEquals": {"k": {}}}}]}',
    '{"Statement": [{"Effect": "Allow", "Principal": "*", "NotAction": "kms:*", "Action": "kms:*", "Resource": "*"}]}',
    '{"Version": "1999-01-01", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"}]}',
    '{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": ["kms:*", 3], "Resource": "*"}]}',
    '{"Statement": [{"Sid": 1, "Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"}]}',
    '{"Statement": {"Effect": "Deny"}}',
    '{"Statement": [{"Effect": "Allow", "Principal": {"Service": []}, "Action": "kms:*", "Resource": "*"}]}',
    '{"Statement": [' + ",".join(['{"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"}'] * 3000) + "]}",
    '{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "' + "a" * 40000 + '", "Resource": "*"}]}',
    '{"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "kms:PutKeyPolicy", "Resource": "*"}]}',
]


def rss_kib(server) -> int:
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))


def assert_typed_4xx(reply: Reply, what: str, elapsed: float) -> None:
    assert 400 <= reply.status < 500, f"{what}: {reply.describe()}"
    assert reply.type, f"{what}: no __type in {reply.raw[:200]!r}"
    assert elapsed < ROUND_LIMIT_SECONDS, f"{what}: answered after {elapsed:.1f} s"


def run_round(http, server, admin: Credentials, key_id: str) -> int:
    tried = 0
    for what, target, body in FIXED_CASES + generated_cases():
        started = time.monotonic()
        reply = send(http, sign(server.url, admin, target=target or None, body=body))
        assert_typed_4xx(reply, what, time.monotonic() - started)
        tried += 1
    for i, document in enumerate(BAD_POLICIES):
        body = json.dumps({"KeyId": key_id, "PolicyName": "default", "Policy": document}).encode()
        started = time.monotonic()
        reply = send(http, sign(server.url, admin, target="TrentService.PutKeyPolicy", body=body))
        assert_typed_4xx(reply, f"bad policy {i}", time.monotonic() - started)
        tried += 1
    # Header abuse: duplicate targets, a flood of headers, an oversized header.
    for what, headers in [
        ("duplicate target header", {"X-Amz-Target": "TrentService.ListKeys, TrentService.DisableKey"}),
        ("header flood", {f"X-Flood-{i}": "x" * 50 for i in range(300)}),
        ("huge header", {"X-Big": "y" * 60000}),
    ]:
        started = time.monotonic()
        try:
            reply = send(http, sign(server.url, admin, extra_headers=headers))
            assert reply.status != 500 and reply.status >= 200, f"{what}: {reply.describe()}"
            assert reply.status == 200 or reply.type or reply.status in (413, 431), f"{what}: {reply.describe()}"
        except urllib3.exceptions.ProtocolError:
            pass  # the server closed the connection: refused, not crashed
        assert time.monotonic() - started < ROUND_LIMIT_SECONDS, f"{what} took too long"
        tried += 1
    # Connections cut off mid-body, and garbage instead of HTTP.
    host, port = "127.0.0.1", server.port
    for what, payload in [
        ("cut off mid-body", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n"
                             b"X-Amz-Target: TrentService.ListKeys\r\nContent-Length: 1000\r\n\r\n{\"Lim"),
        ("not HTTP", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64),
        ("bad request line", b"GARBAGE\r\n\r\n"),
        ("negative content length", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"),
    ]:
        with socket.create_connection((host, port), timeout=5) as sock:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
            try:
                sock.recv(4096)
            except (ConnectionResetError, socket.timeout):
                pass
        tried += 1
    ready = http.request("GET", server.url + "/readyz")
    assert ready.status == 200, "the server is not ready after the round"
    assert send(http, sign(server.url, admin)).status == 200, "a good request fails after the round"
    return tried


def test_hostile_requests_are_refused_and_the_server_stays_up_with_flat_memory(http, server, admin, kms) -> None:
    key_id = kms.create_key(Description="hostile")["KeyMetadata"]["KeyId"]
    for _ in range(200):  # warm-up: caches, pools, allocator
        assert send(http, sign(server.url, admin)).status == 200
    first = run_round(http, server, admin, key_id)
    assert first >= 200, f"only {first} hostile requests"
    # The allocator keeps what it took in the first rounds; flat means the later rounds add
    # (almost) nothing.
    samples = [rss_kib(server)]
    for _ in range(4):
        run_round(http, server, admin, key_id)
        samples.append(rss_kib(server))
    print(f"hostile requests per round: {first}; resident memory by round (MiB): "
          + ", ".join(f"{s / 1024:.1f}" for s in samples))
    late_growth_mib = (samples[-1] - samples[2]) / 1024
    assert late_growth_mib < 4, f"memory still grew {late_growth_mib:.1f} MiB over the last two rounds"
    assert server.process.poll() is None, "the server exited"
