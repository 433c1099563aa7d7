"""Where the CLI's bytes go: device nodes, FIFOs and symlinks as targets, standard output that
fails, an output that is the input, read-only files, concurrent writers, and `-`.

The CLI runs on its embedded key store (no server). Device nodes and FIFOs are made in the test's
own temporary folder, never the machine's /dev: a failing test would replace them for everyone.
Plaintexts are random and compared without ever being shown."""

from __future__ import annotations

import fcntl
import os
import secrets
import signal
import socket
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import assert_not_contained, assert_same_secret, client_env, envseal_binary


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


def read_fifo(path: Path, into: list[bytes]) -> threading.Thread:
    def reader() -> None:
        with open(path, "rb") as fifo:
            into.append(fifo.read())
    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    return thread


# 1. Non-regular targets


def test_devices_and_fifos_are_written_into_and_kept(work: Work) -> None:
    make_device(work.path / "null", 1, 3)
    result = work.run("decrypt", "sealed.env", "-o", "null")
    info = os.lstat(work.path / "null")
    assert stat.S_ISCHR(info.st_mode) and info.st_rdev == os.makedev(1, 3), "the device node was replaced"

    make_device(work.path / "full", 1, 7)
    result = work.run("decrypt", "sealed.env", "-o", "full", check=False)
    assert result.returncode == 73, result.stderr
    assert b"full" in result.stderr and b"No space left on device" in result.stderr, result.stderr
    assert stat.S_ISCHR(os.lstat(work.path / "full").st_mode), "the device node was replaced"

    os.mkfifo(work.path / "fifo")
    received: list[bytes] = []
    thread = read_fifo(work.path / "fifo", received)
    work.run("decrypt", "sealed.env", "-o", "fifo", timeout=30)
    thread.join(10)
    assert received, "nothing came through the FIFO"
    assert_same_secret(received[0], work.plain, "the plaintext read from the FIFO")
    assert stat.S_ISFIFO(os.lstat(work.path / "fifo").st_mode), "the FIFO was replaced"


def test_symlinks_are_followed_to_the_file_they_name(work: Work) -> None:
    (work.path / "real").mkdir()
    (work.path / "sub").mkdir()
    # link -> sub/../link2 -> real/plain.env, each relative to its own folder.
    os.symlink("sub/../link2", work.path / "link")
    os.symlink("real/plain.env", work.path / "link2")
    work.run("decrypt", "sealed.env", "-o", "link")
    assert os.path.islink(work.path / "link") and os.path.islink(work.path / "link2"), "a symlink was replaced"
    assert_same_secret((work.path / "real" / "plain.env").read_bytes(), work.plain, "the file the symlinks name")
    assert stat.S_IMODE(os.stat(work.path / "real" / "plain.env").st_mode) == 0o600

    # rotate through a symlink rotates the real file and keeps the link.
    os.rename(work.path / "sealed.env", work.path / "real" / "app.sealed")
    os.symlink("real/app.sealed", work.path / "link.sealed")
    before = (work.path / "real" / "app.sealed").read_bytes()
    work.run("rotate", "link.sealed")
    assert os.path.islink(work.path / "link.sealed"), "rotate replaced the symlink"
    assert (work.path / "real" / "app.sealed").read_bytes() != before, "the real file was not rotated"
    work.verify("real/app.sealed")
    assert not [p for p in (work.path / "real").iterdir() if ".envseal" in p.name], "a temporary or lock file was left"

    # A dangling symlink: the file it names is created.
    os.symlink("real/new.env", work.path / "dangling")
    work.run("decrypt", "real/app.sealed", "-o", "dangling")
    assert os.path.islink(work.path / "dangling")
    assert_same_secret((work.path / "real" / "new.env").read_bytes(), work.plain, "the file a dangling symlink names")

    # A loop is refused.
    os.symlink("loop2", work.path / "loop1")
    os.symlink("loop1", work.path / "loop2")
    result = work.run("decrypt", "real/app.sealed", "-o", "loop1", check=False)
    assert result.returncode == 73, result.stderr
    assert os.path.islink(work.path / "loop1")


def test_other_kinds_of_target_are_refused(work: Work) -> None:
    (work.path / "dir").mkdir()
    result = work.run("decrypt", "sealed.env", "-o", "dir", check=False)
    assert result.returncode == 73 and b"directory" in result.stderr, result.stderr
    assert (work.path / "dir").is_dir() and not list((work.path / "dir").iterdir())

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(work.path / "sock"))
    try:
        result = work.run("decrypt", "sealed.env", "-o", "sock", check=False)
        assert result.returncode == 73 and b"socket" in result.stderr, result.stderr
        assert stat.S_ISSOCK(os.lstat(work.path / "sock").st_mode), "the socket was replaced"
    finally:
        listener.close()

    # loop device 200: almost certainly not attached, so even a write into it would go nowhere.
    make_device(work.path / "blk", 7, 200, stat.S_IFBLK)
    result = work.run("decrypt", "sealed.env", "-o", "blk", check=False)
    assert result.returncode == 73 and b"block device" in result.stderr, result.stderr
    assert stat.S_ISBLK(os.lstat(work.path / "blk").st_mode), "the block device node was replaced"

    # Rewriting in place needs a regular file.
    os.mkfifo(work.path / "fifo.sealed")
    result = work.run("rotate", "fifo.sealed", check=False, timeout=30)
    assert result.returncode == 73 and b"regular file" in result.stderr, result.stderr
    assert stat.S_ISFIFO(os.lstat(work.path / "fifo.sealed").st_mode)


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


# 3. The output is the input


def test_output_that_is_the_input_is_refused(work: Work) -> None:
    sealed = work.path / "sealed.env"
    before = sealed.read_bytes()
    os.symlink("sealed.env", work.path / "alias.env")
    os.link(sealed, work.path / "hard.env")
    for input_name, output in (("sealed.env", "sealed.env"), ("sealed.env", "./sealed.env"), ("alias.env", "sealed.env"),
                               ("sealed.env", "alias.env"), ("hard.env", "sealed.env")):
        result = work.run("decrypt", input_name, "-o", output, check=False)
        assert result.returncode == 64, f"{input_name} -o {output}: {result.returncode} {result.stderr!r}"
        assert b"is the input" in result.stderr, result.stderr
        assert sealed.read_bytes() == before, f"{input_name} -o {output} changed the sealed file"
        assert os.path.islink(work.path / "alias.env")
    with open(sealed, "rb") as stdin:
        result = subprocess.run([str(envseal_binary()), "decrypt", "-", "-o", "sealed.env", "--keystore", str(work.path / "ks")],
                                cwd=work.path, env=client_env(work.path / "home"), stdin=stdin, capture_output=True, timeout=120)
    assert result.returncode == 64, result.stderr
    assert sealed.read_bytes() == before

    plain = work.path / "app.env"
    result = work.run("encrypt", "app.env", "--key", "alias/files", "-o", "app.env", check=False)
    assert result.returncode == 64 and b"--in-place" in result.stderr, result.stderr
    assert_same_secret(plain.read_bytes(), work.plain, "the plain file after a refused encrypt")
    work.run("encrypt", "app.env", "--key", "alias/files", "--in-place")
    work.verify("app.env")


# 4. Read-only files


def test_read_only_files_are_refused_without_force(work: Work) -> None:
    sealed = work.path / "sealed.env"
    os.chmod(sealed, 0o444)
    before = sealed.read_bytes()
    for args, stdin in ((["rotate", "sealed.env"], None), (["rewrap", "sealed.env"], None),
                        (["set", "sealed.env", "NEW"], b"v"), (["unset", "sealed.env", "A"], None),
                        (["edit", "sealed.env"], None)):
        result = work.run(*args, check=False, stdin=stdin, env=client_env(work.path / "home", EDITOR="true"))
        assert result.returncode == 73, f"{args}: exited {result.returncode}: {result.stderr!r}"
        assert b"read-only" in result.stderr and b"--force" in result.stderr, result.stderr
        assert sealed.read_bytes() == before, f"{args} changed a read-only file"
    work.run("rotate", "sealed.env", "--force")
    assert sealed.read_bytes() != before
    assert stat.S_IMODE(sealed.stat().st_mode) == 0o444, "--force changed the file's mode"
    work.verify("sealed.env")

    plain = work.path / "app.env"
    os.chmod(plain, 0o444)
    result = work.run("encrypt", "app.env", "--key", "alias/files", "--in-place", check=False)
    assert result.returncode == 73 and b"read-only" in result.stderr, result.stderr
    assert_same_secret(plain.read_bytes(), work.plain, "a read-only plain file after a refused encrypt --in-place")

    out = work.path / "out.env"
    out.write_text("OLD=1\n")
    os.chmod(out, 0o444)
    result = work.run("decrypt", "sealed.env", "-o", "out.env", check=False)
    assert result.returncode == 73 and b"read-only" in result.stderr, result.stderr
    assert out.read_text() == "OLD=1\n"
    work.run("decrypt", "sealed.env", "-o", "out.env", "--force")
    assert_same_secret(out.read_bytes(), work.plain, "decrypt -o a read-only file with --force")


# 5. Concurrent edits


def test_concurrent_sets_all_survive(work: Work) -> None:
    work.run("encrypt", "app.env", "--key", "alias/files", "-o", "conc.sealed")
    values = {f"V{i}": secrets.token_hex(12) for i in range(6)}
    processes = []
    for name, value in values.items():
        process = subprocess.Popen([str(envseal_binary()), "set", "conc.sealed", name, "--keystore", str(work.path / "ks")],
                                   cwd=work.path, env=client_env(work.path / "home"), stdin=subprocess.PIPE,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        processes.append(process)
    for process, value in zip(processes, values.values()):
        process.stdin.write(value.encode())
        process.stdin.close()
    for process in processes:
        assert process.wait(timeout=120) == 0, process.stderr.read()
        process.stderr.close()
    for name, value in values.items():
        got = work.run("get", "conc.sealed", name, "--no-newline", check=False)
        assert got.returncode == 0, f"{name} was lost: {got.stderr!r}"
        assert_same_secret(got.stdout, value.encode(), f"the value of {name}")
    assert not [p.name for p in work.path.iterdir() if ".envseal" in p.name], "a temporary or lock file was left"


def test_a_held_lock_makes_writers_wait_then_give_up(work: Work) -> None:
    sealed = work.path / "sealed.env"
    before = sealed.read_bytes()
    with open(sealed, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        started = time.monotonic()
        result = work.run("rotate", "sealed.env", "--lock-timeout", "1", check=False)
        waited = time.monotonic() - started
        assert result.returncode == 73 and b"another" in result.stderr and b"--lock-timeout" in result.stderr, result.stderr
        assert waited >= 1, f"gave up after {waited:.2f} s, before the timeout"
        result = work.run("set", "sealed.env", "X", stdin=b"v", check=False,
                          env=client_env(work.path / "home", ENVSEAL_LOCK_TIMEOUT="0.5"))
        assert result.returncode == 73, result.stderr
        assert sealed.read_bytes() == before

        # A writer that is waiting goes on once the lock is released, and sees the file as it is then.
        waiting = subprocess.Popen([str(envseal_binary()), "unset", "sealed.env", "A", "--keystore", str(work.path / "ks")],
                                   cwd=work.path, env=client_env(work.path / "home"), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1.5)
        assert waiting.poll() is None, "the writer did not wait for the lock"
        fcntl.flock(held, fcntl.LOCK_UN)
    assert waiting.wait(timeout=60) == 0, waiting.stderr.read()
    waiting.stderr.close()
    assert work.run("get", "sealed.env", "A", check=False).returncode == 64, "unset did not happen"


# 6. `-`


def test_dash_is_standard_input_and_output(work: Work) -> None:
    result = work.run("decrypt", "sealed.env", "-o", "-")
    assert_same_secret(result.stdout, work.plain, "decrypt -o -")
    assert not (work.path / "-").exists(), "a file named - was made"

    sealed = (work.path / "sealed.env").read_bytes()
    assert work.run("inspect", "-", stdin=sealed).returncode == 0
    assert work.run("verify", "-", stdin=sealed).returncode == 0
    assert_same_secret(work.run("decrypt", "-", stdin=sealed).stdout, work.plain, "decrypt -")
    assert_same_secret(work.run("get", "-", "TOKEN", "--no-newline", stdin=sealed).stdout, work.secret.encode(), "get -")
    resealed = work.run("encrypt", "-", "--key", "alias/files", "-o", "-", stdin=work.plain).stdout
    assert_same_secret(work.run("decrypt", "-", stdin=resealed).stdout, work.plain, "encrypt - -o - then decrypt")
    assert not (work.path / "-").exists(), "a file named - was made"

    for args in (["rotate", "-"], ["rewrap", "-"], ["unset", "-", "A"], ["set", "-", "A"], ["edit", "-"],
                 ["encrypt", "-", "--key", "alias/files", "--in-place"]):
        result = work.run(*args, check=False, stdin=sealed, env=client_env(work.path / "home", EDITOR="true"))
        assert result.returncode == 64, f"{args}: exited {result.returncode}: {result.stderr!r}"
        assert b"standard input" in result.stderr, f"{args}: {result.stderr!r}"
        assert not (work.path / "-").exists(), f"{args} made a file named -"
    result = work.run("encrypt", "app.env", "--key", "alias/files", "-o", "-", "--report", "json", check=False)
    assert result.returncode == 64, result.stderr


# 5. exec --as-files: secrets as files in a private folder in memory


SHOW_FILES = """
out="$1"
printf '%s' "$TOKEN_FILE" > "$out/path"
cat "$TOKEN_FILE" > "$out/value"
env > "$out/env"
stat -c %a "$(dirname "$TOKEN_FILE")" > "$out/folder-mode"
stat -c %a "$TOKEN_FILE" > "$out/file-mode"
"""


def run_exec(work: Work, *args: str, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`envseal exec ARGS`, with the key store's option before the `--` that ends them."""
    split = args.index("--")
    result = subprocess.run(
        [str(envseal_binary()), "exec", *args[:split], *work.store("exec"), *args[split:]], cwd=work.path,
        env=env or client_env(work.path / "home"), stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    assert_not_contained(result.stdout + result.stderr, work.secret, "exec's output")
    if check:
        assert result.returncode == 0, f"exec exited {result.returncode}: {result.stderr.decode(errors='replace')}"
    return result


@pytest.fixture
def shm() -> Path:
    path = Path("/dev/shm")
    if not path.is_dir() or not os.access(path, os.W_OK):
        pytest.skip("no writable /dev/shm")
    return path


def test_exec_as_files_gives_paths_not_values(work: Work, shm: Path) -> None:
    out = work.path / "out"
    out.mkdir()
    run_exec(work, "--file", "sealed.env", "--as-files", str(shm), "--", "sh", "-c", SHOW_FILES, "sh", str(out))
    path = Path((out / "path").read_text())
    assert path.parent.parent == shm and path.parent.name.startswith("envseal-exec-") and path.name == "TOKEN"
    assert_same_secret((out / "value").read_bytes(), work.secret.encode(), "the TOKEN file")
    environment = (out / "env").read_bytes()
    assert_not_contained(environment, work.secret, "the child's environment")
    names = {line.split(b"=", 1)[0] for line in environment.splitlines()}
    assert b"TOKEN" not in names and b"TOKEN_FILE" in names
    assert (out / "folder-mode").read_text().strip() == "700"
    assert (out / "file-mode").read_text().strip() == "400"
    assert not path.parent.exists(), "the folder outlived the command"


def test_exec_as_files_exits_as_the_command_and_cleans_up_on_sigterm(work: Work, shm: Path) -> None:
    out = work.path / "out"
    out.mkdir()
    result = run_exec(work, "--file", "sealed.env", "--as-files", str(shm), "--", "sh", "-c",
                      'printf %s "$TOKEN_FILE" > "$1/path"; exit 7', "sh", str(out), check=False)
    assert result.returncode == 7
    assert not Path((out / "path").read_text()).parent.exists()

    process = subprocess.Popen(
        [str(envseal_binary()), "exec", "--file", "sealed.env", "--as-files", str(shm), *work.store("exec"), "--",
         "sh", "-c", 'printf %s "$TOKEN_FILE" > "$1/path.new"; mv "$1/path.new" "$1/sleeping"; exec sleep 60', "sh", str(out)],
        cwd=work.path, env=client_env(work.path / "home"), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not (out / "sleeping").exists():
            assert process.poll() is None, f"exec ended early: {process.returncode}"
            assert time.monotonic() < deadline, "the command never started"
            time.sleep(0.05)
        folder = Path((out / "sleeping").read_text()).parent
        assert folder.is_dir()
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert_not_contained(stderr, work.secret, "standard error")
    assert process.returncode == 128 + signal.SIGTERM, stderr.decode(errors="replace")
    assert not folder.exists(), "the folder outlived SIGTERM"


def test_exec_as_files_refuses_an_existing_name_file_and_a_disk_folder(work: Work, shm: Path) -> None:
    before = set(shm.iterdir())
    env = client_env(work.path / "home", TOKEN_FILE="/etc/hostname")
    result = run_exec(work, "--file", "sealed.env", "--as-files", str(shm), "--", "true", check=False, env=env)
    assert result.returncode == 65 and b"TOKEN_FILE" in result.stderr, result.stderr.decode(errors="replace")

    (work.path / "named.env").write_bytes(b"TOKEN=" + work.secret.encode() + b"\nTOKEN_FILE=/etc/hostname\n")
    work.run("encrypt", "named.env", "--key", "alias/files", "-o", "named.sealed")
    result = run_exec(work, "--file", "named.sealed", "--as-files", str(shm), "--", "true", check=False)
    assert result.returncode == 65 and b"TOKEN_FILE" in result.stderr and b"named.sealed" in result.stderr
    assert set(shm.iterdir()) == before, "a refused exec left a folder"

    kind = subprocess.run(["stat", "-f", "-c", "%T", str(work.path)], capture_output=True, text=True).stdout.strip()
    if kind in ("tmpfs", "ramfs"):
        return
    result = run_exec(work, "--file", "sealed.env", "--as-files", str(work.path), "--", "true", check=False)
    assert result.returncode == 64 and b"--allow-disk" in result.stderr, result.stderr.decode(errors="replace")
    result = run_exec(work, "--file", "sealed.env", "--as-files", str(work.path), "--allow-disk", "--",
                      "sh", "-c", 'test "$(cat "$TOKEN_FILE" | wc -c)" -gt 0', check=False)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert not any(p.name.startswith("envseal-exec-") for p in work.path.iterdir())
