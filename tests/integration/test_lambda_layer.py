"""The Lambda layer's exec wrapper (Lambda/envseal-wrapper) run as Lambda runs it: the wrapper's
path first, then the runtime's command line. A stand-in runtime (a Python script) reports its
arguments, environment and PID: arguments passed through unchanged, the same process (envseal
replaces itself with the runtime, so the exit code and signals are the runtime's own), the
plaintexts in its environment and no ENVSEAL or sealed value left; a next wrapper chained with
ENVSEAL_NEXT_WRAPPER; a sealed file of the package (ENVSEAL_WRAPPER_FILE); a tampered variable
stops the runtime from starting. The key service is the module's envseal server."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO_ROOT, assert_not_contained, assert_same_secret, client_env, envseal_binary

WRAPPER = REPO_ROOT / "Lambda" / "envseal-wrapper"

RUNTIME = """
import json, os, signal, sys, time
report = os.environ["RUNTIME_REPORT"]
with open(report + ".tmp", "w") as f:
    json.dump({"argv": sys.argv[1:], "env": dict(os.environ), "pid": os.getpid()}, f)
os.rename(report + ".tmp", report)
action = sys.argv[-1]
if action.startswith("exit="):
    sys.exit(int(action[5:]))
if action == "kill-self":
    os.kill(os.getpid(), signal.SIGTERM)
time.sleep(60)
"""


@pytest.fixture(scope="module")
def layer(server, admin, kms, tmp_path_factory):
    work = tmp_path_factory.mktemp("layer")
    key = kms.create_key(Description="layer")["KeyMetadata"]["KeyId"]
    password = secrets.token_urlsafe(24)
    (work / "plain.env").write_text(f"DB_PASSWORD={password}\nLOG_LEVEL=info\n")
    base = client_env(work / "home", AWS_ENDPOINT_URL_KMS=server.url, AWS_SHARED_CREDENTIALS_FILE=str(admin.path),
                      AWS_REGION="us-east-1")
    subprocess.run([str(envseal_binary()), "encrypt", "plain.env", "--key", key, "--except", "^LOG_LEVEL$",
                    "-o", "sealed.env"], cwd=work, env=base, check=True, capture_output=True, timeout=60)
    (work / "plain.env").unlink()
    (work / "runtime.py").write_text(RUNTIME)
    sealed = dict(line.split("=", 1) for line in (work / "sealed.env").read_text().splitlines() if "=" in line)
    return {"work": work, "base": base, "sealed": sealed, "password": password}


def start(layer, *arguments: str, extra: dict[str, str] | None = None, sealed: dict[str, str] | None = None):
    work = layer["work"]
    report = work / f"report-{secrets.token_hex(4)}.json"
    env = dict(layer["base"], ENVSEAL_WRAPPER_BINARY=str(envseal_binary()), RUNTIME_REPORT=str(report),
               AWS_LAMBDA_EXEC_WRAPPER=str(WRAPPER), AWS_LAMBDA_FUNCTION_NAME="billing-fn")
    env.update(layer["sealed"] if sealed is None else sealed)
    env.update(extra or {})
    process = subprocess.Popen([str(WRAPPER), sys.executable, str(work / "runtime.py"), *arguments], cwd=work, env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return process, report


def finish(layer, process, timeout: float = 60):
    stdout, stderr = process.communicate(timeout=timeout)
    assert_not_contained(stdout + stderr, layer["password"], "the wrapper's output")
    return stdout, stderr


def read_report(report: Path) -> dict:
    deadline = time.monotonic() + 30
    while not report.exists():
        assert time.monotonic() < deadline, "the runtime never started"
        time.sleep(0.05)
    return json.loads(report.read_text())


def test_arguments_environment_and_exit_code_pass_through(layer):
    process, report = start(layer, "--handler", "app.handler", "two words", "exit=7")
    _, stderr = finish(layer, process)
    assert process.returncode == 7, stderr.decode(errors="replace")
    seen = read_report(report)
    assert seen["argv"] == ["--handler", "app.handler", "two words", "exit=7"]
    assert seen["pid"] == process.pid  # the wrapper and envseal replaced themselves with the runtime
    assert_same_secret(seen["env"]["DB_PASSWORD"].encode(), layer["password"].encode(), "DB_PASSWORD in the runtime")
    assert seen["env"]["LOG_LEVEL"] == "info"
    assert "ENVSEAL" not in seen["env"]
    assert not any(value.startswith(("es1:", "es2:")) for value in seen["env"].values())


def test_signals_reach_the_runtime_and_its_death_is_the_status(layer):
    process, report = start(layer, "wait")
    read_report(report)
    process.send_signal(signal.SIGTERM)
    finish(layer, process)
    assert process.returncode == -signal.SIGTERM
    process, report = start(layer, "kill-self")
    finish(layer, process)
    assert process.returncode == -signal.SIGTERM


def test_next_wrapper_and_a_sealed_file_of_the_package(layer):
    work = layer["work"]
    nxt = work / "next-wrapper"
    nxt.write_text('#!/bin/sh\nexport NEXT_WRAPPER_RAN=yes\nexec "$@"\n')
    nxt.chmod(0o755)
    process, report = start(layer, "exit=0", extra={"ENVSEAL_NEXT_WRAPPER": str(nxt)})
    finish(layer, process)
    assert process.returncode == 0
    seen = read_report(report)
    assert seen["env"]["NEXT_WRAPPER_RAN"] == "yes"
    assert seen["argv"] == ["exit=0"]
    assert_same_secret(seen["env"]["DB_PASSWORD"].encode(), layer["password"].encode(), "DB_PASSWORD after the next wrapper")

    process, report = start(layer, "exit=0", sealed={},
                            extra={"ENVSEAL_WRAPPER_FILE": "sealed.env", "LAMBDA_TASK_ROOT": str(work)})
    finish(layer, process)
    assert process.returncode == 0
    seen = read_report(report)
    assert_same_secret(seen["env"]["DB_PASSWORD"].encode(), layer["password"].encode(), "DB_PASSWORD from the file")
    assert "ENVSEAL" not in seen["env"]


def test_a_tampered_variable_or_nothing_sealed_stops_the_runtime(layer):
    tampered = dict(layer["sealed"], LOG_LEVEL="debug")
    process, report = start(layer, "exit=0", sealed=tampered)
    _, stderr = finish(layer, process)
    assert process.returncode == 51
    assert b"LOG_LEVEL" in stderr
    assert not report.exists()

    process, report = start(layer, "exit=0", sealed={"LOG_LEVEL": "info"})
    _, stderr = finish(layer, process)
    assert process.returncode != 0
    assert not report.exists()
