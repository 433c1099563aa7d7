"""A SIGKILL at any moment of a CLI write leaves the old sealed file or the new one, never a torn
one, and no temporary file with a plaintext behind."""

from __future__ import annotations

import random
import secrets
import signal
import subprocess
import time
from pathlib import Path

from conftest import client_env, envseal_binary

ROUNDS = 30


def envseal(work: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([str(envseal_binary()), *args, "--keystore", str(work / "ks")], cwd=work,
                            env=client_env(work / "home"), capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    if check:
        assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result


def test_sigkill_during_rotate_and_decrypt_leaves_old_or_new(tmp_path: Path) -> None:
    work = tmp_path
    plain = "".join(f"SECRET_{i}={secrets.token_urlsafe(24)}\n" for i in range(300))
    (work / "app.env").write_text(plain)
    envseal(work, "keys", "create", "--alias", "alias/crash")
    envseal(work, "encrypt", "app.env", "--key", "alias/crash", "-o", "sealed.env")
    seen = {(work / "sealed.env").read_bytes()}
    rng = random.Random(7)
    killed = 0
    for _ in range(ROUNDS):
        before = (work / "sealed.env").read_bytes()
        process = subprocess.Popen([str(envseal_binary()), "rotate", "sealed.env", "--keystore", str(work / "ks")],
                                   cwd=work, env=client_env(work / "home"), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.0, 0.25))
        process.send_signal(signal.SIGKILL)
        status = process.wait(timeout=30)
        killed += status == -signal.SIGKILL
        after = (work / "sealed.env").read_bytes()
        assert after == before or after not in seen, "a file went back to an older version"
        seen.add(after)
        # Whole: it verifies (the MAC covers every value), old or new.
        envseal(work, "verify", "sealed.env")
        leftovers = [p.name for p in work.iterdir() if ".envseal-" in p.name]
        assert not leftovers, f"temporary files left behind: {leftovers}"
    assert killed > 0, "no round was killed mid-run; the timing needs adjusting"

    # decrypt -o: killed or not, the output is absent or complete, and never a partial plaintext.
    for _ in range(10):
        out = work / "plain.env"
        out.unlink(missing_ok=True)
        process = subprocess.Popen([str(envseal_binary()), "decrypt", "sealed.env", "-o", "plain.env",
                                    "--keystore", str(work / "ks")], cwd=work, env=client_env(work / "home"),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.0, 0.2))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        if out.exists():
            assert out.read_bytes() == plain.encode(), "a torn plaintext file"
            assert (out.stat().st_mode & 0o777) == 0o600
        leftovers = [p.name for p in work.iterdir() if ".envseal-" in p.name]
        assert not leftovers, f"temporary files left behind: {leftovers}"
