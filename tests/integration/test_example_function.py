"""The example function (Examples/billing-function) as a function platform runs it.

Its sealed .env is made with `envseal encrypt` against the real server; the function gets the
sealed variables in its environment, the standard AWS variables, and its own least-privilege
credentials, and must answer, log with every secret redacted, and fail loudly (naming the cause)
when its key policy, its encryption context or the file does not allow it to open the secrets.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import REPO_ROOT, client_env, envseal_binary

EXAMPLE_ENV = REPO_ROOT / "Examples" / "billing-function" / ".env"
PASSWORD = "correct horse battery staple"
STRIPE_KEY = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"
EVENT = b'{"invoice":"INV-7","amount":1234}'


def function_binary() -> Path:
    configured = os.environ.get("BILLING_FUNCTION_BIN")
    path = Path(configured) if configured else envseal_binary().parent / "billing-function"
    if not path.exists():
        pytest.fail(f"no billing-function binary at {path}: run `swift build`", pytrace=False)
    return path


def policy(account: str = "111122223333") -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:user/admin"},
             "Action": "kms:*", "Resource": "*"},
            {"Sid": "Function", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:user/billing-fn"},
             "Action": "kms:Decrypt", "Resource": "*",
             "Condition": {"StringEquals": {"kms:EncryptionContext:LambdaFunctionName": "billing-fn"}}},
        ],
    })


def parse_sealed(path: Path) -> dict[str, str]:
    """The sealed file's variables: its values are es1:… or plain words, quoted at most."""
    variables = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, value = line.partition("=")
        value = value.split(" #")[0].strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        variables[name.strip().removeprefix("export ").strip()] = value
    return variables


@pytest.fixture(scope="module")
def setup(server, admin, kms, make_principal, tmp_path_factory):
    work = tmp_path_factory.mktemp("example")
    key = kms.create_key(Description="billing", Policy=policy())["KeyMetadata"]["KeyId"]
    function = make_principal("billing-fn")
    admin_env = client_env(work / "home", AWS_ENDPOINT_URL_KMS=server.url,
                           AWS_SHARED_CREDENTIALS_FILE=str(admin.path), AWS_REGION="us-east-1")

    def seal(context: str, name: str) -> Path:
        out = work / name
        subprocess.run([str(envseal_binary()), "encrypt", str(EXAMPLE_ENV), "--key", key,
                        "--context", f"LambdaFunctionName={context}", "--except", "^(DB_HOST|DB_USER|LOG_LEVEL)$",
                        "-o", str(out)], env=admin_env, check=True, capture_output=True, timeout=60)
        return out

    return {"server": server, "function": function, "work": work, "seal": seal}


def run(setup, sealed: dict[str, str]) -> subprocess.CompletedProcess:
    env = client_env(setup["work"] / "fn-home", AWS_ENDPOINT_URL_KMS=setup["server"].url, AWS_REGION="us-east-1",
                     AWS_SHARED_CREDENTIALS_FILE=str(setup["function"].credentials.path),
                     AWS_LAMBDA_FUNCTION_NAME="billing-fn")
    env.update(sealed)
    return subprocess.run([str(function_binary())], env=env, input=EVENT, capture_output=True, timeout=60)


def assert_no_secret(result: subprocess.CompletedProcess) -> None:
    for secret in (PASSWORD, STRIPE_KEY):
        for stream, data in (("stdout", result.stdout), ("stderr", result.stderr)):
            assert secret.encode() not in data, f"a secret value reached the function's {stream}"


def test_answers_and_logs_with_secrets_redacted(setup):
    sealed = parse_sealed(setup["seal"]("billing-fn", "ok.env"))
    assert sealed["DB_PASSWORD"].startswith("es1:") and sealed["STRIPE_API_KEY"].startswith("es1:")
    result = run(setup, sealed)
    assert_no_secret(result)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert json.loads(result.stdout) == {"status": "ok", "invoice": "INV-7", "charged": 1234}
    log = result.stderr.decode()
    assert "url=postgres://billing:<redacted>@db.internal/billing" in log
    assert "password=<redacted>" in log


def test_another_functions_context_is_refused_by_the_key_policy(setup):
    sealed = parse_sealed(setup["seal"]("payroll-fn", "payroll.env"))
    result = run(setup, sealed)
    assert_no_secret(result)
    assert result.returncode == 1
    assert b"AccessDeniedException" in result.stderr


def test_a_changed_covered_variable_is_refused_naming_it(setup):
    sealed = parse_sealed(setup["seal"]("billing-fn", "tampered.env"))
    sealed["DB_HOST"] = "evil.example"
    result = run(setup, sealed)
    assert_no_secret(result)
    assert result.returncode == 1
    assert b"DB_HOST" in result.stderr and b"changed after sealing" in result.stderr


def test_a_missing_sealed_variable_is_refused_naming_it(setup):
    sealed = parse_sealed(setup["seal"]("billing-fn", "missing.env"))
    del sealed["STRIPE_API_KEY"]
    result = run(setup, sealed)
    assert_no_secret(result)
    assert result.returncode == 1
    assert b"STRIPE_API_KEY is missing" in result.stderr
