"""The server over HTTPS (`--tls-cert`/`--tls-key`), driven by boto3 and the aws CLI with a
self-signed certificate made by openssl for the test."""

from __future__ import annotations

import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from conftest import Credentials, envseal_binary, free_port


@pytest.fixture
def https_server():
    workdir = Path(tempfile.mkdtemp(prefix="envseal-it-tls-"))
    cert, key = workdir / "cert.pem", workdir / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True)
    port = free_port()
    log = open(workdir / "server.stderr", "wb")
    process = subprocess.Popen(
        [str(envseal_binary()), "server", "--keystore", str(workdir / "KeyStore"), "--listen", f"127.0.0.1:{port}",
         "--tls-cert", str(cert), "--tls-key", str(key), "--log-level", "warning"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    context = ssl.create_default_context(cafile=str(cert))
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"https://127.0.0.1:{port}/readyz", context=context, timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail("the HTTPS server did not get ready: " + (workdir / "server.stderr").read_text(errors="replace")[-2000:])
        time.sleep(0.1)
    yield port, cert, workdir
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    log.close()
    shutil.rmtree(workdir, ignore_errors=True)


def test_boto3_over_https(https_server):
    port, cert, workdir = https_server
    credentials = Credentials.read(workdir / "KeyStore" / "admin.credentials")
    client = boto3.client(
        "kms", endpoint_url=f"https://127.0.0.1:{port}", region_name="us-east-1", verify=str(cert),
        aws_access_key_id=credentials.access_key_id, aws_secret_access_key=credentials.secret_access_key,
        config=Config(retries={"max_attempts": 1}))
    key = client.create_key(Description="tls")["KeyMetadata"]["Arn"]
    blob = client.encrypt(KeyId=key, Plaintext=b"over tls", EncryptionContext={"t": "1"})["CiphertextBlob"]
    assert client.decrypt(CiphertextBlob=blob, EncryptionContext={"t": "1"})["Plaintext"] == b"over tls", "round trip over HTTPS failed"


def test_plain_http_and_untrusted_certificates_are_refused(https_server):
    port, cert, _ = https_server
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"https://127.0.0.1:{port}/healthz", context=ssl.create_default_context(), timeout=5).read()


def test_aws_cli_over_https(https_server):
    port, cert, workdir = https_server
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_SHARED_CREDENTIALS_FILE=str(workdir / "KeyStore" / "admin.credentials"), AWS_CONFIG_FILE=os.devnull,
               AWS_CA_BUNDLE=str(cert), HOME=str(workdir))
    result = subprocess.run(["aws", "--endpoint-url", f"https://127.0.0.1:{port}", "kms", "list-keys"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert '"Keys"' in result.stdout
