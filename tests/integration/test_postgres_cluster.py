"""Two real `envseal server` processes on different ports sharing one PostgreSQL key store.

Needs ENVSEAL_TEST_POSTGRES_URL (CI starts a throwaway cluster with
`scripts/postgres-test-cluster.sh start`); without it every test here is skipped, and says so.
Each module run gets a schema of its own in that database (`?schema=it_…`), so nothing is shared
with other runs. The nodes have separate key store folders holding the same root key (copied, as
an operator would), and the first node's admin credentials.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
import warnings
from pathlib import Path
from typing import Iterator, Optional

import pytest
from botocore.exceptions import ClientError

from conftest import (
    ACCOUNT_ID, REGION, Credentials, EnvsealServer, assert_not_contained, assert_same_secret,
)

POSTGRES_URL = os.environ.get("ENVSEAL_TEST_POSTGRES_URL", "")
SKIP_REASON = (
    "ENVSEAL_TEST_POSTGRES_URL is not set: the two-node PostgreSQL tests are NOT run "
    '(eval "$(bash scripts/postgres-test-cluster.sh start)" starts a throwaway database)'
)
if not POSTGRES_URL:
    warnings.warn(SKIP_REASON)
pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason=SKIP_REASON)

# How long a change made on one node may take to show on the other: the engine's key cache and
# the principal cache live one second; the rest is slack for a loaded machine.
PROPAGATION_LIMIT_SECONDS = 1.0
PROPAGATION_SLACK_SECONDS = 0.75


def with_schema(url: str, schema: str) -> str:
    return url + ("&" if "?" in url else "?") + "schema=" + schema


class PostgresNode(EnvsealServer):
    """`envseal server --store postgres://…`: the same process as the suite's, on a shared store."""

    def __init__(self, workdir: Path, store_url: str) -> None:
        super().__init__(workdir)
        self.store_url = store_url

    def extra_arguments(self) -> list[str]:
        return ["--store", self.store_url, "--maintenance-interval", "1"]

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return super().cli(*args, "--store", self.store_url, check=check)


class Cluster:
    def __init__(self, a: PostgresNode, b: PostgresNode) -> None:
        self.a = a
        self.b = b


def start_node_b(a: PostgresNode, workdir: Path) -> PostgresNode:
    """A second node: its own folder with node A's root key and admin credentials."""
    b = PostgresNode(workdir, a.store_url)
    b.keystore.mkdir(mode=0o700, parents=True)
    for name in ("root.key", "admin.credentials"):
        shutil.copy2(a.keystore / name, b.keystore / name)
    b.secrets = list(a.secrets)
    b.start()
    return b


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    schema = "it_" + uuid.uuid4().hex
    store_url = with_schema(POSTGRES_URL, schema)
    root = Path(tempfile.mkdtemp(prefix="envseal-it-pg-"))
    a = PostgresNode(root / "a", store_url)
    a.workdir.mkdir()
    b: Optional[PostgresNode] = None
    try:
        a.start()
        b = start_node_b(a, root / "b")
        yield Cluster(a, b)
        for node in (a, b):
            for secret in node.secrets:
                assert_not_contained(node.stderr_text(), secret, "a node's stderr")
    finally:
        for node in (a, b):
            if node is not None:
                node.stop()
        shutil.rmtree(root, ignore_errors=True)
        if shutil.which("psql"):
            subprocess.run(["psql", POSTGRES_URL, "-qc", f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'],
                           capture_output=True, timeout=60, stdin=subprocess.DEVNULL)


def key_version(blob: bytes) -> int:
    """The key version inside an envseal ciphertext (docs/FORMAT.md: u32 at offset 17)."""
    return int.from_bytes(blob[17:21], "big")


def error_code(error: ClientError) -> str:
    return error.response["Error"]["Code"]


def wait_until(condition, limit: float) -> Optional[float]:
    """Seconds until ``condition()`` held, or None if it did not within ``limit``."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if condition():
            return time.monotonic() - started
        time.sleep(0.05)
    return None


def test_second_node_with_another_root_key_refuses_to_serve(cluster, tmp_path):
    stranger = PostgresNode(tmp_path, cluster.a.store_url)
    stranger.keystore.mkdir(mode=0o700)
    stranger.keystore.joinpath("root.key").write_bytes(os.urandom(32))
    stranger.keystore.joinpath("root.key").chmod(0o600)
    process = stranger.launch()
    try:
        code = process.wait(timeout=60)
    finally:
        stranger.stop()
    assert code != 0, "a node with another root key must not serve"
    assert "does not match this key store" in stranger.stderr_text(), stranger.stderr_tail()


def test_key_made_on_a_decrypts_on_b(cluster):
    admin = cluster.a.admin_credentials()
    kms_a, kms_b = cluster.a.client(admin), cluster.b.client(admin)
    arn = kms_a.create_key(Description="made on A")["KeyMetadata"]["Arn"]
    kms_a.create_alias(AliasName="alias/made-on-a", TargetKeyId=arn)
    plaintext = os.urandom(64)
    blob = kms_a.encrypt(KeyId=arn, Plaintext=plaintext, EncryptionContext={"Node": "a"})["CiphertextBlob"]
    assert_same_secret(kms_b.decrypt(CiphertextBlob=blob, EncryptionContext={"Node": "a"})["Plaintext"], plaintext, "B's decrypt")
    assert kms_b.describe_key(KeyId="alias/made-on-a")["KeyMetadata"]["Arn"] == arn
    data_key = kms_b.generate_data_key(KeyId=arn, KeySpec="AES_256")
    assert_same_secret(kms_a.decrypt(CiphertextBlob=data_key["CiphertextBlob"])["Plaintext"], data_key["Plaintext"], "A's decrypt")


def test_import_begun_on_a_finishes_on_b_and_deletion_on_b_reaches_a(cluster):
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    admin = cluster.a.admin_credentials()
    kms_a, kms_b = cluster.a.client(admin), cluster.b.client(admin)
    key = kms_a.create_key(Origin="EXTERNAL", Description="imported across nodes")["KeyMetadata"]["KeyId"]
    params = kms_a.get_parameters_for_import(KeyId=key, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    public_key = serialization.load_der_public_key(params["PublicKey"])
    oaep = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    # B opens A's wrapping key from the shared store.
    kms_b.import_key_material(KeyId=key, ImportToken=params["ImportToken"], EncryptedKeyMaterial=public_key.encrypt(os.urandom(32), oaep),
                              ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    blob = kms_b.encrypt(KeyId=key, Plaintext=b"imported")["CiphertextBlob"]
    assert wait_until(lambda: kms_a.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Enabled",
                      PROPAGATION_LIMIT_SECONDS + PROPAGATION_SLACK_SECONDS) is not None
    assert kms_a.decrypt(CiphertextBlob=blob)["Plaintext"] == b"imported"  # A now caches the material

    def refused() -> bool:
        try:
            kms_a.decrypt(CiphertextBlob=blob)
            return False
        except ClientError as error:
            assert error_code(error) == "KMSInvalidStateException", error_code(error)
            return True

    kms_b.delete_imported_key_material(KeyId=key)
    assert wait_until(refused, PROPAGATION_LIMIT_SECONDS + PROPAGATION_SLACK_SECONDS) is not None, \
        "A still decrypts with material deleted on B"


def test_rotation_on_b_is_used_by_a_within_a_second(cluster):
    admin = cluster.a.admin_credentials()
    kms_a, kms_b = cluster.a.client(admin), cluster.b.client(admin)
    arn = kms_a.create_key(Description="rotated on B")["KeyMetadata"]["Arn"]
    old = kms_a.encrypt(KeyId=arn, Plaintext=b"before")["CiphertextBlob"]  # A now caches the key
    assert key_version(old) == 1
    kms_b.rotate_key_on_demand(KeyId=arn)
    seconds = wait_until(lambda: key_version(kms_a.encrypt(KeyId=arn, Plaintext=b"after")["CiphertextBlob"]) == 2,
                         PROPAGATION_LIMIT_SECONDS + PROPAGATION_SLACK_SECONDS)
    assert seconds is not None, "A still encrypts under version 1 after the rotation on B"
    assert kms_b.decrypt(CiphertextBlob=old)["Plaintext"] == b"before"


def test_disabled_on_a_is_refused_by_b_within_a_second(cluster):
    admin = cluster.a.admin_credentials()
    kms_a, kms_b = cluster.a.client(admin), cluster.b.client(admin)
    arn = kms_a.create_key(Description="disabled on A")["KeyMetadata"]["Arn"]
    blob = kms_b.encrypt(KeyId=arn, Plaintext=b"x")["CiphertextBlob"]  # B now caches the key

    def refused() -> bool:
        try:
            kms_b.decrypt(CiphertextBlob=blob)
            return False
        except ClientError as error:
            assert error_code(error) == "DisabledException", error_code(error)
            return True

    kms_a.disable_key(KeyId=arn)
    seconds = wait_until(refused, PROPAGATION_LIMIT_SECONDS + PROPAGATION_SLACK_SECONDS)
    assert seconds is not None, "B still decrypts with a key disabled on A"
    kms_b.enable_key(KeyId=arn)
    assert wait_until(lambda: not refused(), PROPAGATION_LIMIT_SECONDS + PROPAGATION_SLACK_SECONDS) is not None


def test_principal_disabled_through_one_node_is_refused_by_both(cluster):
    path = cluster.a.workdir / "fn.credentials"
    cluster.a.cli("principals", "create", "fn-on-both", "--credentials", str(path), "--region", REGION, "--account-id", ACCOUNT_ID)
    fn = Credentials.read(path)
    cluster.a.remember_secret(fn.secret_access_key)
    cluster.b.remember_secret(fn.secret_access_key)
    clients = [cluster.a.client(fn), cluster.b.client(fn)]
    for client in clients:
        client.list_keys()
    cluster.b.cli("principals", "disable", "fn-on-both")

    def refused(client) -> bool:
        try:
            client.list_keys()
            return False
        except ClientError:
            return True

    for client in clients:
        assert wait_until(lambda: refused(client), PROPAGATION_LIMIT_SECONDS + PROPAGATION_SLACK_SECONDS) is not None


def test_rotations_on_both_nodes_at_once_make_one_newest_version(cluster):
    admin = cluster.a.admin_credentials()
    arn = cluster.a.client(admin).create_key(Description="rotated on both")["KeyMetadata"]["Arn"]
    errors: list[str] = []

    def rotate(node: PostgresNode) -> None:
        client = node.client(admin)
        for _ in range(4):
            try:
                client.rotate_key_on_demand(KeyId=arn)
            except ClientError as error:
                errors.append(error_code(error))

    threads = [threading.Thread(target=rotate, args=(node,)) for node in (cluster.a, cluster.b, cluster.a, cluster.b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    rotations = cluster.b.client(admin).list_key_rotations(KeyId=arn)["Rotations"]
    assert len(rotations) == 16
    materials = [rotation.get("KeyMaterialId") for rotation in rotations]
    if all(materials):
        assert len(set(materials)) == 16, "two rotations made the same version"
    time.sleep(PROPAGATION_LIMIT_SECONDS + 0.1)
    for node in (cluster.a, cluster.b):
        assert key_version(node.client(admin).encrypt(KeyId=arn, Plaintext=b"x")["CiphertextBlob"]) == 17


def run_load(node: PostgresNode, admin, stop: threading.Event, acknowledged: list, failures: list, arn: str) -> None:
    """Encrypts until ``stop``, recording each acknowledged (plaintext, blob), and each failure."""
    client = node.client(admin)
    while not stop.is_set():
        plaintext = os.urandom(16)
        try:
            blob = client.encrypt(KeyId=arn, Plaintext=plaintext, EncryptionContext={"Load": "1"})["CiphertextBlob"]
        except Exception as error:  # a killed node answers with connection errors
            failures.append(type(error).__name__)
            if node.process.poll() is not None:
                return
            continue
        acknowledged.append((plaintext, blob))


def test_audit_from_both_nodes_under_load_is_one_chain(cluster):
    admin = cluster.a.admin_credentials()
    arn = cluster.a.client(admin).create_key(Description="audit load")["KeyMetadata"]["Arn"]
    stop = threading.Event()
    acknowledged: list = []
    failures: list = []
    threads = [threading.Thread(target=run_load, args=(node, admin, stop, acknowledged, failures, arn))
               for node in (cluster.a, cluster.b, cluster.a, cluster.b)]
    for thread in threads:
        thread.start()
    time.sleep(4)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert len(acknowledged) > 20
    result = cluster.b.cli("audit", "verify")
    assert "audit log intact" in result.stdout
    checked = int(result.stdout.split(":")[1].split()[0])
    assert checked >= len(acknowledged)


def test_sigkill_of_one_node_under_load_loses_nothing(cluster, tmp_path):
    admin = cluster.a.admin_credentials()
    arn = cluster.a.client(admin).create_key(Description="kill load")["KeyMetadata"]["Arn"]
    # A third node, killed mid-load; A keeps serving.
    victim = start_node_b(cluster.a, tmp_path / "victim")
    stop = threading.Event()
    on_a: list = []
    on_victim: list = []
    failures_a: list = []
    failures_victim: list = []
    created_on_victim: list = []

    def create_keys() -> None:
        client = victim.client(admin)
        while not stop.is_set():
            try:
                created_on_victim.append(client.create_key(Description="acknowledged")["KeyMetadata"]["Arn"])
            except Exception:
                if victim.process.poll() is not None:
                    return

    threads = [
        threading.Thread(target=run_load, args=(cluster.a, admin, stop, on_a, failures_a, arn)),
        threading.Thread(target=run_load, args=(victim, admin, stop, on_victim, failures_victim, arn)),
        threading.Thread(target=create_keys),
    ]
    try:
        for thread in threads:
            thread.start()
        time.sleep(2)
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(timeout=10)
        killed_with = len(on_a)
        time.sleep(2)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        stop.set()
        victim.stop()
    assert failures_a == [], "A failed requests while the other node died"
    assert len(on_a) > killed_with, "A stopped serving when the other node died"
    assert on_victim, "the killed node acknowledged nothing before it died"
    kms_a = cluster.a.client(admin)
    for plaintext, blob in on_a + on_victim:
        assert_same_secret(kms_a.decrypt(CiphertextBlob=blob, EncryptionContext={"Load": "1"})["Plaintext"], plaintext,
                           "an acknowledged ciphertext")
    for made in created_on_victim:
        assert kms_a.describe_key(KeyId=made)["KeyMetadata"]["Arn"] == made
    result = cluster.a.cli("audit", "verify")
    assert "audit log intact" in result.stdout
