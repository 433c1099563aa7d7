"""The aws CLI against the real server, configured only by the admin's credentials file:

    AWS_SHARED_CREDENTIALS_FILE=KeyStore/admin.credentials aws --endpoint-url http://127.0.0.1:PORT kms ...

HOME and AWS_CONFIG_FILE point into an empty folder, so no other AWS configuration takes part.
The credentials file's ``region`` is enough: botocore (and so the CLI) merges every variable of
the credentials file's profiles into the config profiles (``Session.full_config``), so no
AWS_REGION or config file is needed. ``test_region_comes_from_the_credentials_file`` checks it.
"""

from __future__ import annotations

import base64
import json
import os
import uuid

import pytest

from conftest import KEY_ARN_PATTERN, REGION, assert_same_secret, client_env, run_tool, tool_path

# The CLI's exit status for an error the service answered: 255 in aws CLI v1 (PyPI's awscli), 254 in v2.
SERVICE_ERROR_EXITS = (254, 255)


@pytest.fixture(scope="module")
def aws(server):
    """Runs `aws --endpoint-url URL ARGS...` with only the admin's credentials file."""
    home = server.workdir / "aws-cli-home"  # removed with the server's folder
    home.mkdir()
    binary = tool_path("aws")

    def run(*args: str, secret_stdout: bool = False, check: bool = True, **extra_env: str):
        env = client_env(home, **{"AWS_SHARED_CREDENTIALS_FILE": str(server.admin_credentials_path), **extra_env})
        return run_tool([binary, "--endpoint-url", server.url, *args], env, secret_stdout=secret_stdout, check=check,
                        cwd=home)

    run.home = home
    return run


def test_region_comes_from_the_credentials_file(aws):
    # No AWS_REGION, AWS_DEFAULT_REGION or config file: only `region` in admin.credentials.
    result = aws("kms", "list-keys", check=False)
    code, stderr = result.returncode, result.stderr.decode(errors="replace")
    assert code == 0, "the CLI needs more than the credentials file: " + stderr
    assert "Keys" in json.loads(result.stdout)


def test_create_describe_list_keys(aws):
    created = json.loads(aws("kms", "create-key", "--description", "made by the aws CLI", "--output", "json").stdout)
    meta = created["KeyMetadata"]
    assert KEY_ARN_PATTERN.match(meta["Arn"])
    assert meta["Description"] == "made by the aws CLI" and meta["KeyState"] == "Enabled"
    described = json.loads(aws("kms", "describe-key", "--key-id", meta["KeyId"], "--output", "json").stdout)
    assert described["KeyMetadata"]["Arn"] == meta["Arn"]
    listed = json.loads(aws("kms", "list-keys", "--output", "json").stdout)
    assert meta["Arn"] in [entry["KeyArn"] for entry in listed["Keys"]]
    # The CLI paginates list-keys itself; a small page size needs several requests.
    paged = json.loads(aws("kms", "list-keys", "--page-size", "1", "--output", "json").stdout)
    assert sorted(entry["KeyArn"] for entry in paged["Keys"]) == sorted(entry["KeyArn"] for entry in listed["Keys"])
    text = aws("kms", "describe-key", "--key-id", meta["Arn"], "--output", "text", "--query", "KeyMetadata.KeyState").stdout
    assert text.decode().strip() == "Enabled"


def test_encrypt_and_decrypt_files(aws):
    arn = json.loads(aws("kms", "create-key", "--output", "json").stdout)["KeyMetadata"]["Arn"]
    secret = os.urandom(200)
    plain_file = aws.home / "secret.bin"
    plain_file.write_bytes(secret)
    blob_b64 = aws(
        "kms", "encrypt", "--key-id", arn, "--plaintext", f"fileb://{plain_file}",
        "--encryption-context", "Stage=prod,App=billing", "--output", "text", "--query", "CiphertextBlob",
    ).stdout.decode().strip()
    blob_file = aws.home / "secret.enc"
    blob_file.write_bytes(base64.b64decode(blob_b64))
    plain_file.unlink()

    out = aws(
        "kms", "decrypt", "--ciphertext-blob", f"fileb://{blob_file}", "--encryption-context", "Stage=prod,App=billing",
        "--output", "text", "--query", "Plaintext", secret_stdout=True,
    ).stdout
    assert_same_secret(base64.b64decode(out.strip()), secret, "aws kms decrypt's Plaintext")

    key_id = aws(
        "kms", "decrypt", "--ciphertext-blob", f"fileb://{blob_file}", "--encryption-context", "Stage=prod,App=billing",
        "--output", "text", "--query", "KeyId",
    ).stdout.decode().strip()
    assert key_id == arn

    wrong = aws("kms", "decrypt", "--ciphertext-blob", f"fileb://{blob_file}", "--encryption-context", "Stage=dev",
                "--output", "text", "--query", "Plaintext", check=False, secret_stdout=True)
    code, stderr, printed = wrong.returncode, wrong.stderr.decode(errors="replace"), bool(wrong.stdout.strip())
    assert code in SERVICE_ERROR_EXITS, f"exit {code}"
    assert "InvalidCiphertextException" in stderr, stderr
    assert not printed, "a failed decrypt printed something"


def test_generate_data_key_and_random(aws):
    arn = json.loads(aws("kms", "create-key", "--output", "json").stdout)["KeyMetadata"]["Arn"]
    generated = json.loads(aws("kms", "generate-data-key", "--key-id", arn, "--key-spec", "AES_256", "--output", "json",
                               secret_stdout=True).stdout)
    got = len(base64.b64decode(generated["Plaintext"]))
    assert got == 32
    random = aws("kms", "generate-random", "--number-of-bytes", "16", "--output", "text", "--query", "Plaintext",
                 secret_stdout=True).stdout
    got = len(base64.b64decode(random.strip()))
    assert got == 16


def test_hmac_keys(aws):
    created = json.loads(aws("kms", "create-key", "--key-spec", "HMAC_512", "--key-usage", "GENERATE_VERIFY_MAC",
                             "--output", "json").stdout)["KeyMetadata"]
    assert (created["KeySpec"], created["KeyUsage"], created["MacAlgorithms"]) == ("HMAC_512", "GENERATE_VERIFY_MAC", ["HMAC_SHA_512"])
    message = aws.home / "message.bin"
    message.write_bytes(b"amount=42&currency=EUR")
    made = json.loads(aws("kms", "generate-mac", "--key-id", created["Arn"], "--message", f"fileb://{message}",
                          "--mac-algorithm", "HMAC_SHA_512", "--output", "json").stdout)
    mac = base64.b64decode(made["Mac"])
    assert len(mac) == 64 and made["KeyId"] == created["Arn"]
    mac_file = aws.home / "message.mac"
    mac_file.write_bytes(mac)
    verified = json.loads(aws("kms", "verify-mac", "--key-id", created["KeyId"], "--message", f"fileb://{message}",
                              "--mac-algorithm", "HMAC_SHA_512", "--mac", f"fileb://{mac_file}", "--output", "json").stdout)
    assert verified["MacValid"] is True
    message.write_bytes(b"amount=43&currency=EUR")
    refused = aws("kms", "verify-mac", "--key-id", created["KeyId"], "--message", f"fileb://{message}",
                  "--mac-algorithm", "HMAC_SHA_512", "--mac", f"fileb://{mac_file}", check=False)
    code, stderr = refused.returncode, refused.stderr.decode(errors="replace")
    assert code in SERVICE_ERROR_EXITS, f"exit {code}"
    assert "KMSInvalidMacException" in stderr, stderr
    wrong = aws("kms", "create-key", "--key-spec", "HMAC_224", "--key-usage", "GENERATE_VERIFY_MAC", check=False)
    code, stderr = wrong.returncode, wrong.stderr.decode(errors="replace")
    assert code in SERVICE_ERROR_EXITS, f"exit {code}"
    assert "UnsupportedOperationException" in stderr and "HMAC_224" in stderr, stderr


def test_aliases(aws):
    arn = json.loads(aws("kms", "create-key", "--output", "json").stdout)["KeyMetadata"]["Arn"]
    name = f"alias/cli-{uuid.uuid4().hex[:8]}"
    result = aws("kms", "create-alias", "--alias-name", name, "--target-key-id", arn)
    assert result.stdout.strip() == b"", "create-alias prints nothing on success"
    assert json.loads(aws("kms", "describe-key", "--key-id", name, "--output", "json").stdout)["KeyMetadata"]["Arn"] == arn
    aliases = json.loads(aws("kms", "list-aliases", "--key-id", arn, "--output", "json").stdout)["Aliases"]
    assert [entry["AliasName"] for entry in aliases] == [name]
    again = aws("kms", "create-alias", "--alias-name", name, "--target-key-id", arn, check=False)
    code, stderr = again.returncode, again.stderr.decode(errors="replace")
    assert code in SERVICE_ERROR_EXITS, f"exit {code}"
    assert "AlreadyExistsException" in stderr, stderr


def test_errors_exit_non_zero_and_name_the_exception(aws):
    missing = str(uuid.uuid4())
    result = aws("kms", "describe-key", "--key-id", missing, check=False)
    code, stderr, stdout = result.returncode, result.stderr.decode(errors="replace"), result.stdout.decode(errors="replace")
    assert code in SERVICE_ERROR_EXITS, f"exit {code}"
    assert "An error occurred (NotFoundException) when calling the DescribeKey operation" in stderr, stderr
    assert stdout == ""

    arn = json.loads(aws("kms", "create-key", "--output", "json").stdout)["KeyMetadata"]["Arn"]
    aws("kms", "disable-key", "--key-id", arn)
    payload = aws.home / "one.bin"
    payload.write_bytes(b"x")
    disabled = aws("kms", "encrypt", "--key-id", arn, "--plaintext", f"fileb://{payload}", check=False)
    code, stderr = disabled.returncode, disabled.stderr.decode(errors="replace")
    assert code in SERVICE_ERROR_EXITS, f"exit {code}"
    assert "DisabledException" in stderr, stderr


def test_bad_credentials_are_reported(aws, tmp_path):
    bad = tmp_path / "bad.credentials"
    bad.write_text(f"[default]\naws_access_key_id = AKIAENVSEALNOBODY000\naws_secret_access_key = {'x' * 40}\nregion = {REGION}\n")
    bad.chmod(0o600)
    result = aws("kms", "list-keys", check=False, AWS_SHARED_CREDENTIALS_FILE=str(bad))
    code, stderr = result.returncode, result.stderr.decode(errors="replace")
    assert code in SERVICE_ERROR_EXITS, f"exit {code}"
    assert "UnrecognizedClientException" in stderr, stderr
