"""Large files: every file command takes time linear in the file's size, and a command that runs
longer than a second shows its progress on a terminal only (docs/CLI.md, "Large files").

A 47,334-variable file once did not finish sealing in ten minutes: the size report looked every
variable up by a scan of the file. Here a 50,000-variable file (about 5 MB) goes through every
command with a generous limit for a debug build, and sealing a quarter of it must take about a
quarter of the time.
"""

from __future__ import annotations

import os
import pty
import random
import select
import string
import subprocess
import time
from pathlib import Path

import pytest

from conftest import assert_same_secret, client_env, envseal_binary

VARIABLES = 50_000
# A debug build seals 50,000 variables in about ten seconds on a busy machine; the quadratic
# encrypt took over ten minutes.
LIMIT = 150
ALPHABET = string.ascii_letters + string.digits + "_-./:+=@,%"


def plain_file(path: Path, count: int, seed: int) -> bytes:
    rng = random.Random(seed)
    text = "".join(f"VAR_{i}={''.join(rng.choices(ALPHABET, k=40))}\n" for i in range(count)).encode()
    path.write_bytes(text)
    return text


def envseal(work: Path, *args: str, stdin: bytes | None = None) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    result = subprocess.run([str(envseal_binary()), *args, "--keystore", str(work / "ks")], cwd=work,
                            env=client_env(work / "home"), capture_output=True, timeout=LIMIT,
                            input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL)
    return result, time.monotonic() - started


def ok(work: Path, *args: str, stdin: bytes | None = None) -> float:
    result, seconds = envseal(work, *args, stdin=stdin)
    assert result.returncode == 0, f"envseal {args[0]}: exit {result.returncode}: {result.stderr.decode(errors='replace')[-2000:]}"
    return seconds


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("scale")
    ok(work, "keys", "create", "--alias", "alias/scale")
    return work


def test_every_file_command_takes_a_50000_variable_file(work: Path) -> None:
    plain = plain_file(work / "big.env", VARIABLES, seed=1)
    ok(work, "encrypt", "big.env", "--key", "alias/scale", "-o", "big.sealed")
    ok(work, "decrypt", "big.sealed", "-o", "big.opened")
    assert_same_secret((work / "big.opened").read_bytes(), plain, "the decrypted 50,000-variable file")
    ok(work, "verify", "big.sealed")
    inspected = subprocess.run([str(envseal_binary()), "inspect", "big.sealed"], cwd=work, capture_output=True,
                               timeout=LIMIT, env=client_env(work / "home"), stdin=subprocess.DEVNULL)
    assert inspected.returncode == 0, inspected.stderr.decode(errors="replace")
    assert b"50001 variables" in inspected.stdout
    ok(work, "set", "big.sealed", "NEW_VARIABLE", stdin=b"new value\n")
    ok(work, "unset", "big.sealed", "VAR_7")
    got, _ = envseal(work, "get", "big.sealed", "VAR_49999")
    assert got.returncode == 0, got.stderr.decode(errors="replace")
    assert_same_secret(got.stdout, plain.splitlines()[-1].split(b"=", 1)[1] + b"\n", "VAR_49999")
    ok(work, "rotate", "big.sealed")
    ok(work, "rewrap", "big.sealed")
    # 5 MB of variables exceeds what execve takes: exec must say so, not crash.
    executed, _ = envseal(work, "exec", "--file", "big.sealed", "--", "true")
    assert 0 < executed.returncode < 128, f"exec exited {executed.returncode}"
    assert b"envseal: error:" in executed.stderr
    ok(work, "encrypt", "big.env", "--key", "alias/scale", "--mode", "lambda", "--function", "scale-fn",
       "-o", "big.lambda", "--report", "json")
    ok(work, "decrypt", "big.lambda", "--mode", "lambda", "--function", "scale-fn", "-o", "big.lambda.opened")
    assert_same_secret((work / "big.lambda.opened").read_bytes(), plain, "the lambda-mode round trip")


def test_sealing_time_grows_linearly_with_the_file(work: Path) -> None:
    plain_file(work / "quarter.env", VARIABLES // 4, seed=2)
    plain_file(work / "whole.env", VARIABLES, seed=3)
    quarter = min(ok(work, "encrypt", "quarter.env", "--key", "alias/scale", "-o", "quarter.sealed") for _ in range(2))
    whole = min(ok(work, "encrypt", "whole.env", "--key", "alias/scale", "-o", "whole.sealed") for _ in range(2))
    # Linear is 4× (less with start-up); quadratic would be 16×.
    assert whole / quarter < 8, f"sealing 4× the variables took {whole / quarter:.1f}× the time ({quarter:.2f} s, {whole:.2f} s)"
    opened_quarter = min(ok(work, "decrypt", "quarter.sealed", "-o", "quarter.opened") for _ in range(2))
    opened_whole = min(ok(work, "decrypt", "whole.sealed", "-o", "whole.opened") for _ in range(2))
    assert opened_whole / opened_quarter < 8, f"opening 4× the variables took {opened_whole / opened_quarter:.1f}× the time"


def run_on_terminal(work: Path, *args: str) -> tuple[int, bytes, float]:
    """Runs envseal with standard error on a pseudo-terminal; returns its status, what reached the
    terminal and the seconds it took."""
    controller, terminal = pty.openpty()
    started = time.monotonic()
    process = subprocess.Popen([str(envseal_binary()), *args, "--keystore", str(work / "ks")], cwd=work,
                               env=client_env(work / "home"), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=terminal)
    os.close(terminal)
    received = b""
    while True:
        ready, _, _ = select.select([controller], [], [], LIMIT)
        if not ready:
            process.kill()
            break
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: every writer closed the terminal
            break
        if not chunk:
            break
        received += chunk
    status = process.wait(timeout=LIMIT)
    os.close(controller)
    return status, received, time.monotonic() - started


def test_progress_shows_on_a_terminal_only(work: Path) -> None:
    plain_file(work / "progress.env", VARIABLES, seed=4)
    status, shown, seconds = run_on_terminal(work, "encrypt", "progress.env", "--key", "alias/scale", "-o", "progress.sealed")
    assert status == 0, shown.decode(errors="replace")[-2000:]
    if seconds > 2:
        assert b"\renvseal: sealing " in shown and b" of 50,000 values" in shown, "no progress on a terminal"
        # The line is erased before the size report is written.
        assert shown.index(b"\r\x1b[K") < shown.index(b"envseal: sealed "), "progress not erased before the report"
    assert b"envseal: sealed 50000 of 50000 variables" in shown

    piped, _ = envseal(work, "decrypt", "progress.sealed", "-o", "progress.opened")
    assert piped.returncode == 0
    assert b"\r" not in piped.stderr and b"values" not in piped.stderr, "progress written to a pipe"

    status, quiet, _ = run_on_terminal(work, "decrypt", "progress.sealed", "-o", "progress.opened", "--quiet")
    assert status == 0
    assert b"\r" not in quiet and b"values" not in quiet, "progress shown with --quiet"
