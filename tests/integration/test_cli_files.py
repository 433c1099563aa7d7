"""Where the CLI's bytes go: device nodes, FIFOs and symlinks as targets, standard output that
fails, an output that is the input, read-only files, concurrent writers, and `-`.

The CLI runs on its embedded key store (no server). Device nodes and FIFOs are made in the test's
own temporary folder, never the machine's /dev: a failing test would replace them for everyone.
Plaintexts are random and compared without ever being shown."""

from __future__ import annotations

import os
import secrets
import signal
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import assert_not_contained, client_env, envseal_binary


class Work:
    """A folder with a key store, a key, a plain file and its sealed form."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.secret = secrets.token_urlsafe(24)
        self.plain = f"A=1\nTOKEN={self.secret}\n".encode()
        (path / "app.env").write_bytes(self.plain)
        self.run("keys", "create", "--alias", "alias/files")
        self.run("encrypt", "app.env", "--key", "alias/files", "-o", "sealed.env")

    def run(self, *args: str, check: bool = True, stdin: bytes | None = None, stdout=None, timeout: float = 120,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [str(envseal_binary()), *args, *self.store(args[0])], cwd=self.path,
            env=env or client_env(self.path / "home"), input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            stdout=stdout if stdout is not None else subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        assert_not_contained(result.stderr, self.secret, "standard error")
        if check:
            assert result.returncode == 0, f"{args[0]} exited {result.returncode}: {result.stderr.decode(errors='replace')}"
        return result

    def store(self, command: str) -> list[str]:
        return [] if command == "inspect" else ["--keystore", str(self.path / "ks")]

    def verify(self, name: str) -> None:
        self.run("verify", name, stdout=subprocess.DEVNULL)


@pytest.fixture
def work(tmp_path: Path) -> Work:
    return Work(tmp_path)


def make_device(path: Path, major: int, minor: int, kind: int = stat.S_IFCHR) -> None:
    try:
        os.mknod(path, 0o666 | kind, os.makedev(major, minor))
    except PermissionError:
        pytest.skip("making device nodes needs CAP_MKNOD")


# 2. Output errors


def test_failed_writes_to_standard_output_exit_73(work: Work) -> None:
    make_device(work.path / "full", 1, 7)
    for args in (["decrypt", "sealed.env"], ["verify", "sealed.env"], ["inspect", "sealed.env"],
                 ["get", "sealed.env", "TOKEN"], ["keys", "list"], ["verify", "--output", "json", "sealed.env"],
                 ["encrypt", "app.env", "--key", "alias/files"]):
        with open(work.path / "full", "wb") as full:
            result = work.run(*args, check=False, stdout=full)
        assert result.returncode == 73, f"{args}: exited {result.returncode}: {result.stderr!r}"
        assert b"standard output" in result.stderr, f"{args}: {result.stderr!r}"


def test_a_closed_pipe_ends_quietly(work: Work) -> None:
    """A reader that went away (`envseal decrypt F | head -c1`) ends envseal as it ends cat: by
    SIGPIPE, without a message; the same when SIGPIPE is ignored and the write fails with EPIPE."""
    big = "".join(f"V{i}={secrets.token_hex(40)}\n" for i in range(3000))
    (work.path / "big.env").write_text(big)
    work.run("encrypt", "big.env", "--key", "alias/files", "-o", "big.sealed")
    for ignore in (False, True):
        for args in (["decrypt", "big.sealed"], ["inspect", "big.sealed"], ["verify", "big.sealed"]):
            read_end, write_end = os.pipe()
            os.close(read_end)
            command = [str(envseal_binary()), *args, *work.store(args[0])]
            if ignore:
                command = ["sh", "-c", 'trap "" PIPE; exec "$@"', "sh", *command]
            result = subprocess.run(command, cwd=work.path, env=client_env(work.path / "home"), stdout=write_end,
                                    stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=120)
            os.close(write_end)
            assert result.returncode == -signal.SIGPIPE, f"{args} (SIGPIPE ignored: {ignore}): exited {result.returncode}"
            assert result.stderr == b"", f"{args}: {result.stderr!r}"
