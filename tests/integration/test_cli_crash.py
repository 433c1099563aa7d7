"""A SIGKILL at any moment of a CLI write leaves the old sealed file or the new one, never a torn
one; a temporary file is left only when the kill falls between naming it and renaming it, complete
and with the target's mode, and the next write to that file removes it."""

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


def leftovers_of(work: Path, name: str) -> list[Path]:
    return [p for p in work.iterdir() if p.name.startswith(f".{name}.envseal-")]


def check_leftovers(work: Path, name: str, check_complete) -> None:
    """A SIGKILL between naming the finished temporary file and renaming it over the target (Linux
    cannot link over a name) may leave it behind: at most one, since the next write removes the
    last one first, and always complete."""
    leftovers = leftovers_of(work, name)
    assert len(leftovers) <= 1, f"temporary files pile up: {[p.name for p in leftovers]}"
    for leftover in leftovers:
        check_complete(leftover)
    others = [p.name for p in work.iterdir() if ".envseal-" in p.name and not p.name.startswith(f".{name}.envseal-")]
    assert not others, f"unexpected temporary files: {others}"


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
        check_leftovers(work, "sealed.env", lambda leftover: envseal(work, "verify", leftover.name))
    assert killed > 0, "no round was killed mid-run; the timing needs adjusting"
    (work / ".sealed.env.envseal-999").write_bytes((work / "sealed.env").read_bytes())  # as a kill would leave
    envseal(work, "rotate", "sealed.env")
    assert not leftovers_of(work, "sealed.env"), "the next write did not remove the temporary files left behind"

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

        def complete_and_private(leftover: Path) -> None:
            assert leftover.read_bytes() == plain.encode(), "a torn plaintext file left behind"
            assert (leftover.stat().st_mode & 0o777) == 0o600, "a plaintext file left behind readable by others"
        check_leftovers(work, "plain.env", complete_and_private)
    out.unlink(missing_ok=True)
    (work / ".plain.env.envseal-999").write_bytes(plain.encode())
    envseal(work, "decrypt", "sealed.env", "-o", "plain.env")
    assert not leftovers_of(work, "plain.env"), "the next write did not remove the temporary files left behind"
