"""The server's request log: which requests get a line at `--log-level info`.

By default every failed request and every control-plane request is logged, and successful
cryptographic calls (Decrypt, Encrypt, GenerateDataKey, …) are not; `--request-log-sample 1`
logs every one of them. Lines are written by a task of their own, so a test waits for them.
"""

from __future__ import annotations

import time
from typing import Optional

import pytest
from botocore.exceptions import ClientError

from conftest import LOG_LEVEL, EnvsealServer, assert_not_contained

pytestmark = pytest.mark.skipif(LOG_LEVEL != "info", reason="the request log is checked at --log-level info only")

WAIT_SECONDS = 5.0


class SampledServer(EnvsealServer):
    def extra_arguments(self) -> list[str]:
        return ["--request-log-sample", "1"]


def line_of(server: EnvsealServer, request_id: str, wait: bool = True) -> Optional[str]:
    """The log line naming `request_id`, waiting for the writer when `wait`."""
    deadline = time.monotonic() + (WAIT_SECONDS if wait else 0)
    while True:
        for line in server.stderr_text().splitlines():
            if f"request_id={request_id}" in line:
                return line
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


def request_id(response: dict) -> str:
    return response["ResponseMetadata"]["RequestId"]


@pytest.fixture(scope="module")
def sampled(tmp_path_factory):
    instance = SampledServer(tmp_path_factory.mktemp("sampled"))
    instance.start()
    yield instance
    code, _ = instance.stop()
    assert code == 0, f"the server exited {code} after SIGTERM\n{instance.stderr_tail()}"


def test_failures_and_the_control_plane_are_logged_successful_decrypts_are_not(server, kms, new_key):
    key = new_key("request log")
    created = kms.describe_key(KeyId=key)
    encrypted = kms.encrypt(KeyId=key, Plaintext=b"request log plaintext")
    decrypted = kms.decrypt(CiphertextBlob=encrypted["CiphertextBlob"])
    with pytest.raises(ClientError) as failure:
        kms.decrypt(CiphertextBlob=b"\x01" * 80)
    failed_id = request_id(failure.value.response)

    failed = line_of(server, failed_id)
    assert failed is not None, f"no line for the failed Decrypt\n{server.stderr_tail()}"
    assert "operation=Decrypt" in failed and "status=400" in failed, failed
    described = line_of(server, request_id(created))
    assert described is not None and "operation=DescribeKey" in described and "status=200" in described, described
    # The failed Decrypt came after them, and its line is written: theirs would be too.
    for response in (encrypted, decrypted):
        assert line_of(server, request_id(response), wait=False) is None, "a successful crypto call was logged at info"
    assert_not_contained(server.stderr_text(), "request log plaintext", "the server's stderr")


def test_sampling_every_one_logs_successful_decrypts(sampled):
    kms = sampled.client(sampled.admin_credentials())
    key = kms.create_key(Description="sampled request log")["KeyMetadata"]["Arn"]
    encrypted = kms.encrypt(KeyId=key, Plaintext=b"sampled plaintext")
    decrypted = kms.decrypt(CiphertextBlob=encrypted["CiphertextBlob"])
    line = line_of(sampled, request_id(decrypted))
    assert line is not None, f"no line for the successful Decrypt\n{sampled.stderr_tail()}"
    assert "operation=Decrypt" in line and "status=200" in line and "outcome=Allowed" in line, line
    assert_not_contained(sampled.stderr_text(), "sampled plaintext", "the server's stderr")


def test_a_negative_sample_is_refused(tmp_path):
    instance = EnvsealServer(tmp_path)
    instance.extra_arguments = lambda: ["--request-log-sample=-1"]  # type: ignore[method-assign]
    process = instance.launch()
    try:
        code = process.wait(timeout=30)
    finally:
        instance.stop()
    assert code != 0
    assert "--request-log-sample must be 0 or more" in instance.stderr_text(), instance.stderr_tail()
