"""The wire, attacked: what a client that signs less than it should, a slow sender and an
exposed listener can do to the real server (issue "Fail closed everywhere", items 8–10).

- The operation must be signed: a request signed with ``SignedHeaders=host;x-amz-date`` whose
  ``X-Amz-Target`` is swapped afterwards is refused, naming the header; so is one whose
  ``Content-Type`` is unsigned, and one with ``X-Amz-Target``, ``Content-Type``, ``Host``,
  ``X-Amz-Date`` or ``Authorization`` repeated — even when the repetition itself is signed.
- Request time: a sender trickling its headers or body is cut off at the request deadline
  (``--request-timeout``, 3 s here); a 3 MB body is answered 413 at once and the connection closed.
- Exposure: a plain-HTTP listener on a non-loopback address refuses to start unless
  ``--insecure-listen`` is given, and then warns; ``/metrics`` is only on ``--metrics-listen``.

Requests are built with raw sockets and signed either by botocore's ``SigV4Auth`` or, where
botocore cannot express the attack (repeated header lines), by the small SigV4 signer below, which
follows the AWS test suite's rules for repeated headers (values joined with ``,`` in order).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional

import botocore.auth
import botocore.credentials
import pytest
from botocore.awsrequest import AWSRequest

from conftest import REGION, Credentials, EnvsealServer, envseal_binary, free_port

JSON_TYPE = "application/x-amz-json-1.1"
REQUEST_TIMEOUT = 3


class WireServer(EnvsealServer):
    """The server with a short request deadline, so that the slow-sender tests are quick."""

    def extra_arguments(self) -> list[str]:
        return ["--request-timeout", str(REQUEST_TIMEOUT)]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    instance = WireServer(tmp_path_factory.mktemp("wire"))
    instance.start()
    yield instance
    code, _ = instance.stop()
    assert code == 0, f"the server exited {code} after SIGTERM\n{instance.stderr_tail()}"


@pytest.fixture(scope="module")
def admin(server) -> Credentials:
    return server.admin_credentials()


@pytest.fixture(scope="module")
def kms(server, admin):
    return server.client(admin)


# ---------------------------------------------------------------------------------------------
# Raw HTTP


class RawReply:
    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    @property
    def json(self) -> dict:
        try:
            value = json.loads(self.body)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def header(self, name: str) -> Optional[str]:
        return next((v for n, v in self.headers if n.lower() == name.lower()), None)

    def describe(self) -> str:
        return f"HTTP {self.status} {self.json.get('__type')} {self.json.get('message')}"


def read_reply(sock: socket.socket) -> RawReply:
    """One HTTP/1.1 response with a Content-Length (what the server sends)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"the connection closed before a response: {data[:200]!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines[1:]]
    length = int(next((v for n, v in headers if n.lower() == "content-length"), "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return RawReply(status, headers, rest[:length])


def exchange(server: EnvsealServer, headers: list[tuple[str, str]], body: bytes) -> RawReply:
    """Sends one request, header lines exactly as given, and reads the answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        lines = ["POST / HTTP/1.1", *(f"{name}: {value}" for name, value in headers), f"Content-Length: {len(body)}"]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        return read_reply(sock)


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the peer closes the connection (EOF or reset) within ``seconds``; data is read and dropped."""
    sock.settimeout(0.2)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if not sock.recv(65536):
                return True
        except socket.timeout:
            continue
        except OSError:
            return True
    return False


# ---------------------------------------------------------------------------------------------
# Signing


def botocore_signed(server: EnvsealServer, credentials: Credentials, headers: dict[str, str], body: bytes) -> list[tuple[str, str]]:
    """botocore's SigV4Auth over exactly ``headers`` (plus Host and X-Amz-Date, which it adds)."""
    request = AWSRequest(method="POST", url=server.url + "/", data=body, headers=headers)
    botocore.auth.SigV4Auth(credentials.botocore(), "kms", REGION).add_auth(request)
    prepared = request.prepare()
    return [("Host", f"127.0.0.1:{server.port}")] + [
        (name, value) for name, value in prepared.headers.items() if name.lower() not in ("content-length", "host")
    ]


def hand_signed(credentials: Credentials, headers: list[tuple[str, str]], body: bytes) -> list[tuple[str, str]]:
    """SigV4 over every header line given, repeated lines joined with ',' as the AWS test suite
    (get-header-key-duplicate) does: a client that signs its repeated headers honestly."""
    amz_date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    lines = headers + [("X-Amz-Date", amz_date)] if not any(n.lower() == "x-amz-date" for n, _ in headers) else headers
    joined: dict[str, list[str]] = {}
    for name, value in lines:
        joined.setdefault(name.lower(), []).append(" ".join(value.split()))
    names = sorted(joined)
    canonical = "\n".join([
        "POST", "/", "",
        "".join(f"{name}:{','.join(joined[name])}\n" for name in names),
        ";".join(names),
        hashlib.sha256(body).hexdigest(),
    ])
    date = next(v for n, v in lines if n.lower() == "x-amz-date")
    scope = f"{date[:8]}/{REGION}/kms/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + credentials.secret_access_key).encode()
    for part in (date[:8], REGION, "kms", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    authorization = (f"AWS4-HMAC-SHA256 Credential={credentials.access_key_id}/{scope}, "
                     f"SignedHeaders={';'.join(names)}, Signature={signature}")
    return lines + [("Authorization", authorization)]


def key_state(kms, key_id: str) -> str:
    return kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"]


# ---------------------------------------------------------------------------------------------
# Item 8: the operation must be signed


def test_target_swapped_after_signing_without_it_is_refused(server, admin, kms):
    key = kms.create_key(Description="wire: target swap")["KeyMetadata"]["KeyId"]
    body = json.dumps({"KeyId": key}).encode()
    # Signed as SignedHeaders=host;x-amz-date: neither the operation nor the content type.
    signed = botocore_signed(server, admin, {}, body)
    assert "SignedHeaders=host;x-amz-date," in dict(signed)["Authorization"]
    reply = exchange(server, signed + [("Content-Type", JSON_TYPE), ("X-Amz-Target", "TrentService.DisableKey")], body)
    assert reply.status == 400 and reply.json.get("__type") == "InvalidSignatureException", reply.describe()
    assert "'X-Amz-Target'" in reply.json.get("message", ""), reply.describe()
    assert key_state(kms, key) == "Enabled", "the server acted on an operation nobody signed"


def test_unsigned_content_type_is_refused(server, admin):
    body = b"{}"
    signed = botocore_signed(server, admin, {"X-Amz-Target": "TrentService.ListKeys"}, body)
    reply = exchange(server, signed + [("Content-Type", JSON_TYPE)], body)
    assert reply.status == 400 and reply.json.get("__type") == "InvalidSignatureException", reply.describe()
    assert "'Content-Type'" in reply.json.get("message", ""), reply.describe()


def test_fully_signed_request_is_served(server, admin):
    body = b"{}"
    reply = exchange(server, botocore_signed(
        server, admin, {"Content-Type": JSON_TYPE, "X-Amz-Target": "TrentService.ListKeys"}, body), body)
    assert reply.status == 200, reply.describe()


@pytest.mark.parametrize("repeated", ["X-Amz-Target", "Content-Type", "Host", "X-Amz-Date"])
def test_repeated_header_is_refused_even_when_signed(server, admin, kms, repeated):
    key = kms.create_key(Description=f"wire: repeated {repeated}")["KeyMetadata"]["KeyId"]
    body = json.dumps({"KeyId": key}).encode()
    amz_date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    headers = [("Host", f"127.0.0.1:{server.port}"), ("Content-Type", JSON_TYPE),
               ("X-Amz-Target", "TrentService.DescribeKey"), ("X-Amz-Date", amz_date)]
    second = {"X-Amz-Target": "TrentService.DisableKey", "Content-Type": "text/plain",
              "Host": "evil.example", "X-Amz-Date": amz_date}[repeated]
    reply = exchange(server, hand_signed(admin, headers + [(repeated, second)], body), body)
    assert reply.status == 400 and reply.json.get("__type") == "IncompleteSignatureException", reply.describe()
    assert f"'{repeated}'" in reply.json.get("message", ""), reply.describe()
    assert key_state(kms, key) == "Enabled"


def test_repeated_authorization_is_refused(server, admin):
    body = b"{}"
    headers = hand_signed(admin, [("Host", f"127.0.0.1:{server.port}"), ("Content-Type", JSON_TYPE),
                                  ("X-Amz-Target", "TrentService.ListKeys")], body)
    authorization = dict(headers)["Authorization"]
    reply = exchange(server, headers + [("Authorization", authorization)], body)
    assert reply.status == 400 and reply.json.get("__type") == "IncompleteSignatureException", reply.describe()
    assert "'Authorization'" in reply.json.get("message", ""), reply.describe()


def test_hand_signer_is_honest(server, admin):
    """The signer above is right: without a repetition its requests are served."""
    body = b"{}"
    reply = exchange(server, hand_signed(admin, [("Host", f"127.0.0.1:{server.port}"), ("Content-Type", JSON_TYPE),
                                                 ("X-Amz-Target", "TrentService.ListKeys")], body), body)
    assert reply.status == 200, reply.describe()


# ---------------------------------------------------------------------------------------------
# Item 9: request time


def test_trickled_body_is_cut_off_at_the_deadline(server, admin):
    body = json.dumps({"Limit": 5}).encode() + b" " * 40
    headers = botocore_signed(server, admin, {"Content-Type": JSON_TYPE, "X-Amz-Target": "TrentService.ListKeys"}, body)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        lines = ["POST / HTTP/1.1", *(f"{n}: {v}" for n, v in headers), f"Content-Length: {len(body)}"]
        started = time.monotonic()
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        sock.setblocking(False)
        answer, closed = b"", False
        for byte in body:  # one byte every 0.5 s: never idle, always late
            try:
                sock.send(bytes([byte]))
                chunk = sock.recv(65536)
                if not chunk:
                    closed = True
                    break
                answer += chunk
            except BlockingIOError:
                pass
            except OSError:
                closed = True
                break
            if time.monotonic() - started > REQUEST_TIMEOUT + 5:
                break
            time.sleep(0.5)
        sock.setblocking(True)
        closed = closed or closed_within(sock, 1)
        elapsed = time.monotonic() - started
    assert closed, f"the connection was still open after {elapsed:.1f} s of trickling"
    assert elapsed < REQUEST_TIMEOUT + 4, f"closed only after {elapsed:.1f} s (deadline {REQUEST_TIMEOUT} s)"
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer[:100]


def test_trickled_headers_are_cut_off_at_the_deadline(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        closed = False
        for index in range(40):
            try:
                sock.sendall(f"X-Slow-{index}: x\r\n".encode())
            except OSError:
                closed = True
                break
            if closed_within(sock, 0.5):
                closed = True
                break
        elapsed = time.monotonic() - started
    assert closed, f"the connection was still open after {elapsed:.1f} s of trickled headers"
    assert elapsed < REQUEST_TIMEOUT + 4, f"closed only after {elapsed:.1f} s"


def test_a_slow_but_timely_request_is_served(server, admin):
    body = b"{}"
    headers = botocore_signed(server, admin, {"Content-Type": JSON_TYPE, "X-Amz-Target": "TrentService.ListKeys"}, body)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        lines = ["POST / HTTP/1.1", *(f"{n}: {v}" for n, v in headers), f"Content-Length: {len(body)}"]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        time.sleep(1)
        sock.sendall(body)
        reply = read_reply(sock)
    assert reply.status == 200, reply.describe()


def test_three_megabyte_body_gets_413_at_once_and_the_connection_closes(server, admin):
    body = b" " * (3 * 1024 * 1024)
    headers = botocore_signed(server, admin, {"Content-Type": JSON_TYPE, "X-Amz-Target": "TrentService.ListKeys"}, body[:2])
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        lines = ["POST / HTTP/1.1", *(f"{n}: {v}" for n, v in headers), f"Content-Length: {len(body)}"]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())

        def push() -> None:
            try:
                sock.sendall(body)
            except OSError:
                pass  # the server closed: what it should do

        sender = threading.Thread(target=push, daemon=True)
        started = time.monotonic()
        sender.start()
        sock.settimeout(5)
        reply = read_reply(sock)
        answered = time.monotonic() - started
        assert reply.status == 413, reply.describe()
        assert answered < 3, f"the 413 came after {answered:.1f} s"
        assert reply.header("Connection") == "close", reply.headers
        assert closed_within(sock, 3), "the connection stayed open after the 413"
        sender.join(5)


# ---------------------------------------------------------------------------------------------
# Item 10: exposure


def run_server_briefly(tmp_path: Path, *arguments: str, seconds: float = 20) -> tuple[Optional[int], str, int]:
    """Starts a server with ``arguments``; returns (exit status or None if it was serving, its stderr, port)."""
    port = free_port()
    log_path = tmp_path / "server.stderr"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(envseal_binary()), "server", "--keystore", str(tmp_path / "KeyStore"), *arguments],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + seconds
        code: Optional[int] = None
        while time.monotonic() < deadline:
            code = process.poll()
            if code is not None:
                break
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            time.sleep(0.2)
        if process.poll() is None:
            process.terminate()
            assert process.wait(timeout=15) == 0
            code = None
    return code, log_path.read_text(errors="replace"), port


def test_plain_http_on_all_interfaces_is_refused(tmp_path):
    port = free_port()
    code, log, _ = run_server_briefly(tmp_path, "--listen", f"0.0.0.0:{port}")
    assert code not in (None, 0), "the server started on 0.0.0.0 without TLS"
    assert "--insecure-listen" in log and "0.0.0.0" in log, log[-1000:]


def test_insecure_listen_starts_with_a_warning(tmp_path):
    port = free_port()
    process_log = tmp_path / "server.stderr"
    with open(process_log, "wb") as log:
        process = subprocess.Popen(
            [str(envseal_binary()), "server", "--keystore", str(tmp_path / "KeyStore"),
             "--listen", f"0.0.0.0:{port}", "--insecure-listen"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, process_log.read_text(errors="replace")[-1000:]
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                assert time.monotonic() < deadline, "not ready"
                time.sleep(0.2)
        finally:
            process.terminate()
            assert process.wait(timeout=15) == 0
    text = process_log.read_text(errors="replace")
    assert "warning" in text.lower() and "without TLS" in text, text[-1000:]


def test_metrics_listener_on_all_interfaces_needs_insecure_listen(tmp_path):
    code, log, _ = run_server_briefly(tmp_path, "--listen", f"127.0.0.1:{free_port()}",
                                      "--metrics-listen", f"0.0.0.0:{free_port()}")
    assert code not in (None, 0), "the metrics listener started on 0.0.0.0 without --insecure-listen"
    assert "--insecure-listen" in log, log[-1000:]


def test_metrics_are_not_on_the_kms_listener(server):
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(server.url + "/metrics", timeout=5)
    assert refused.value.code == 404


def test_metrics_are_on_their_own_listener(server, admin, kms):
    kms.list_keys()
    with urllib.request.urlopen(server.metrics_url + "/metrics", timeout=5) as response:
        text = response.read().decode()
    assert "envseal_requests_total" in text and 'operation="ListKeys"' in text, text[:500]
    # The metrics listener serves metrics only: no KMS there.
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(server.metrics_url + "/", data=b"{}", method="POST"), timeout=5)
    assert refused.value.code == 404
