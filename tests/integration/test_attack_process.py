"""The process, attacked: nothing of envseal's crosses into the programs it starts, no plaintext
outlives an interrupted `envseal edit`, and `audit tail` cannot be made to print a forged line.

Driven as an attacker would: a child that looks for descriptors it should not have, an editor
that sends envseal every terminating signal, a caller who puts terminal escapes and line breaks
in an encryption context.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import EnvsealServer, assert_not_contained, client_env, envseal_binary

# The child lists its shell's descriptors: `:` keeps sh from replacing itself with ls, and
# `sh -c` opens none of its own.
LIST_DESCRIPTORS = ["sh", "-c", "ls /proc/$$/fd; :"]


def run(work: Path, *args: str, env: dict[str, str] | None = None, check: bool = True,
        **kwargs: object) -> subprocess.CompletedProcess:
    result = subprocess.run([str(envseal_binary()), *args], cwd=work, env=env or client_env(work / "home"),
                            capture_output=True, timeout=60, stdin=kwargs.pop("stdin", subprocess.DEVNULL), **kwargs)
    if check:
        assert result.returncode == 0, f"envseal {' '.join(args[:2])} exited {result.returncode}: {result.stderr!r}"
    return result


# ---------------------------------------------------------------------------------------------
# 1. Descriptors: the child of `envseal exec` gets 0, 1 and 2, nothing else.


@pytest.fixture(scope="module")
def remote(server: EnvsealServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A file sealed under a key of the real server, and the environment that reaches it over TCP."""
    work = tmp_path_factory.mktemp("remote")
    env = client_env(work / "home", AWS_SHARED_CREDENTIALS_FILE=str(server.admin_credentials_path),
                     AWS_ENDPOINT_URL_KMS=server.url)
    key = run(work, "keys", "create", "--alias", "alias/process-attack", env=env).stdout
    assert key
    (work / "app.env").write_text(f"API_TOKEN=tok_{secrets.token_hex(16)}\n")
    run(work, "encrypt", "app.env", "--key", "alias/process-attack", "-o", "app.sealed.env", env=env)
    return work, env


@pytest.mark.parametrize("options", [[], ["--redact"]], ids=["replace", "redact"])
def test_exec_child_sees_only_the_standard_descriptors(remote: tuple[Path, dict[str, str]], options: list[str]) -> None:
    work, env = remote
    result = run(work, "exec", "--file", "app.sealed.env", *options, "--", *LIST_DESCRIPTORS, env=env)
    assert result.stdout.decode().split() == ["0", "1", "2"], \
        f"the child inherited descriptors of envseal's: {result.stdout.decode().split()}"



def test_edit_editor_sees_only_the_standard_descriptors(remote: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    work, env = remote
    editor = tmp_path / "fds.py"
    editor.write_text(
        "#!/usr/bin/env python3\n"
        "import os, sys\n"
        "# The descriptor that did the listing is closed by now: only the others resolve.\n"
        "fds = sorted(int(n) for n in os.listdir('/proc/self/fd') if os.path.lexists(f'/proc/self/fd/{n}'))\n"
        "open(sys.argv[0] + '.seen', 'w').write(' '.join(map(str, fds)))\n")
    editor.chmod(0o755)
    run(work, "edit", "app.sealed.env", env={**env, "EDITOR": str(editor)})
    seen = (tmp_path / "fds.py.seen").read_text().split()
    assert seen == ["0", "1", "2"], f"the editor inherited descriptors of envseal's: {seen}"

# ---------------------------------------------------------------------------------------------
# 2. `envseal edit`: no plaintext outlives it, whatever ends it; a broken edit is not lost.

# An editor that says where the plaintext is, then waits (for `release`, at most 20 s).
WAITING_EDITOR = """#!/usr/bin/env python3
import os, sys, time
state = os.environ["EDIT_STATE"]
with open(os.path.join(state, "editor.pid"), "w") as f:
    f.write(str(os.getpid()))
with open("/proc/self/limits") as source, open(os.path.join(state, "editor.limits"), "w") as f:
    f.write(source.read())
with open(os.path.join(state, "folder.new"), "w") as f:
    f.write(os.path.dirname(os.path.abspath(sys.argv[1])))
os.rename(os.path.join(state, "folder.new"), os.path.join(state, "folder"))
deadline = time.time() + 20
while time.time() < deadline and not os.path.exists(os.path.join(state, "release")):
    time.sleep(0.05)
"""

# First run: changes API_KEY and adds a line that does not parse. Second run: removes that line.
BREAKING_EDITOR = """#!/usr/bin/env python3
import os, sys
state = os.environ["EDIT_STATE"]
runs = os.path.join(state, "runs")
count = int(open(runs).read()) + 1 if os.path.exists(runs) else 1
open(runs, "w").write(str(count))
text = open(sys.argv[1]).read()
if count == 1:
    text = "".join("API_KEY=edited-and-kept\\n" if line.startswith("API_KEY=") else line
                   for line in text.splitlines(True)) + 'BROKEN="unterminated\\n'
else:
    text = text.replace('BROKEN="unterminated\\n', "")
open(sys.argv[1], "w").write(text)
"""

PLAIN = "DB_PASSWORD=pw-{0}\nAPI_KEY=ak-{0}\nLOG_LEVEL=info\n"


@pytest.fixture
def edit_work(tmp_path: Path) -> tuple[Path, str]:
    """A sealed file in the embedded store, the editors, and the secret part of its values."""
    marker = secrets.token_hex(12)
    (tmp_path / "app.env").write_text(PLAIN.format(marker))
    run(tmp_path, "keys", "create", "--alias", "alias/edit", "--keystore", "ks")
    run(tmp_path, "encrypt", "app.env", "--key", "alias/edit", "-o", "sealed.env", "--keystore", "ks")
    (tmp_path / "app.env").unlink()
    for name, text in (("wait.py", WAITING_EDITOR), ("break.py", BREAKING_EDITOR)):
        (tmp_path / name).write_text(text)
        (tmp_path / name).chmod(0o755)
    (tmp_path / "state").mkdir()
    return tmp_path, marker


def start_edit(work: Path, state: Path, **kwargs: object) -> subprocess.Popen:
    env = client_env(work / "home", EDITOR=str(work / "wait.py"), EDIT_STATE=str(state))
    return subprocess.Popen([str(envseal_binary()), "edit", "sealed.env", "--keystore", "ks"], cwd=work, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


def wait_for_folder(state: Path, process: subprocess.Popen) -> Path:
    deadline = time.monotonic() + 30
    while not (state / "folder").exists():
        assert process.poll() is None, f"envseal edit exited {process.returncode}: {process.stderr.read()!r}"
        assert time.monotonic() < deadline, "the editor never started"
        time.sleep(0.05)
    folder = Path((state / "folder").read_text())
    assert any(folder.iterdir()), "no plaintext in the private folder while the editor runs"
    return folder


def running(pid: int) -> bool:
    """Whether ``pid`` is a process that has not exited (a zombie has)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def wait_gone(pid: int, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not running(pid)


EDIT_SIGNALS = [signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM, signal.SIGPIPE, signal.SIGTERM, signal.SIGHUP,
                signal.SIGINT, signal.SIGQUIT]


@pytest.mark.parametrize("sig", EDIT_SIGNALS, ids=[s.name for s in EDIT_SIGNALS])
def test_edit_killed_by_a_signal_leaves_no_plaintext_and_no_editor(edit_work: tuple[Path, str],
                                                                   sig: signal.Signals) -> None:
    work, marker = edit_work
    state = work / "state"
    before = (work / "sealed.env").read_bytes()
    process = start_edit(work, state)
    try:
        folder = wait_for_folder(state, process)
        editor = int((state / "editor.pid").read_text())
        process.send_signal(sig)
        process.wait(timeout=20)
    finally:
        (state / "release").touch()
        if process.poll() is None:
            process.kill()
            process.wait()
    out, err = process.stdout.read(), process.stderr.read()
    assert process.returncode == -sig, f"envseal did not die of {sig.name}: exit {process.returncode}, {err!r}"
    assert not folder.exists(), f"{sig.name} left the plaintext folder behind"
    assert wait_gone(editor), f"{sig.name} left the editor running with the plaintext"
    assert (work / "sealed.env").read_bytes() == before
    assert_not_contained(out + err, marker, "envseal's output")


def test_edit_has_no_core_dumps(edit_work: tuple[Path, str]) -> None:
    work, _ = edit_work
    state = work / "state"
    process = start_edit(work, state)
    try:
        wait_for_folder(state, process)
        limits = Path(f"/proc/{process.pid}/limits").read_text()
    finally:
        (state / "release").touch()
        process.wait(timeout=20)
    for text in (limits, (state / "editor.limits").read_text()):
        core = next(line for line in text.splitlines() if line.startswith("Max core file size"))
        assert core.split()[4:6] == ["0", "0"], core
    assert process.returncode == 0


@pytest.mark.parametrize("command", [
    ["get", "sealed.env", "API_KEY"], ["decrypt", "sealed.env"], ["set", "sealed.env", "NEW_VALUE"],
    ["unset", "sealed.env", "API_KEY"], ["rotate", "sealed.env"], ["rewrap", "sealed.env", "--key", "alias/other"],
    ["verify", "sealed.env"], ["encrypt", "plain.env", "--key", "alias/other"],
], ids=["get", "decrypt", "set", "unset", "rotate", "rewrap", "verify", "encrypt"])
def test_file_commands_have_no_core_dumps(edit_work: tuple[Path, str], command: list[str]) -> None:
    """Every file command holds plaintext. The key service is a socket that never answers, so the
    command waits while we look."""
    work, _ = edit_work
    (work / "plain.env").write_text("PLAIN_SECRET=not-yet-sealed\n")
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        env = client_env(work / "home", AWS_ENDPOINT_URL_KMS=f"http://127.0.0.1:{silent.getsockname()[1]}",
                         AWS_ACCESS_KEY_ID="AKIAEXAMPLEEXAMPLE00", AWS_SECRET_ACCESS_KEY="not-a-real-secret-key",
                         AWS_REGION="us-east-1")
        process = subprocess.Popen([str(envseal_binary()), *command], cwd=work, env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            silent.settimeout(30)
            connection, _ = silent.accept()
            limits = Path(f"/proc/{process.pid}/limits").read_text()
            connection.close()
        finally:
            process.kill()
            process.wait()
    core = next(line for line in limits.splitlines() if line.startswith("Max core file size"))
    assert core.split()[4:6] == ["0", "0"], core


def test_the_next_edit_removes_a_folder_a_killed_edit_left(edit_work: tuple[Path, str]) -> None:
    work, _ = edit_work
    killed_state, live_state = work / "killed", work / "live"
    killed_state.mkdir()
    live_state.mkdir()
    killed = start_edit(work, killed_state)
    try:
        stale = wait_for_folder(killed_state, killed)
        killed.kill()
        killed.wait(timeout=10)
    finally:
        (killed_state / "release").touch()
    os.kill(int((killed_state / "editor.pid").read_text()), signal.SIGKILL)
    assert stale.exists(), "SIGKILL cannot be caught: the folder must still be there for this test"
    assert f"-{killed.pid}-" in stale.name, f"the folder does not name its process: {stale.name}"
    live = start_edit(work, live_state)
    try:
        in_use = wait_for_folder(live_state, live)
        assert not stale.exists(), "the next edit left the abandoned plaintext folder"
        # And an edit while another runs leaves that one's folder alone. (Another file: edits of the
        # same file take turns under its lock.)
        shutil.copyfile(work / "sealed.env", work / "other.env")
        run(work, "edit", "other.env", "--keystore", "ks", env=client_env(work / "home", EDITOR="true"))
        assert in_use.exists() and any(in_use.iterdir()), "an edit removed the folder of a running edit"
    finally:
        (live_state / "release").touch()
        live.wait(timeout=20)
    assert live.returncode == 0 and not in_use.exists()
    assert stale.name in live.stderr.read().decode(), "the removal is not reported"


def read_until(master: int, needle: bytes, seconds: float = 30) -> bytes:
    seen = b""
    deadline = time.monotonic() + seconds
    while needle not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {needle!r} on the terminal; it showed {seen!r}"
        ready, _, _ = select.select([master], [], [], remaining)
        if not ready:
            continue
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: every process on the terminal has gone
            chunk = b""
        assert chunk, f"the terminal closed before {needle!r}; it showed {seen!r}"
        seen += chunk
    return seen


def edit_on_a_terminal(work: Path, answer: bytes) -> tuple[int, bytes]:
    master, follower = os.openpty()
    env = client_env(work / "home", EDITOR=str(work / "break.py"), EDIT_STATE=str(work / "state"))
    process = subprocess.Popen([str(envseal_binary()), "edit", "sealed.env", "--keystore", "ks"], cwd=work, env=env,
                               stdin=follower, stdout=follower, stderr=follower, start_new_session=True)
    os.close(follower)
    try:
        shown = read_until(master, b"Enter")
        os.write(master, answer)
        process.wait(timeout=30)
        while select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
    return process.returncode, shown


def test_edit_that_does_not_parse_reopens_the_editor_and_keeps_the_work(edit_work: tuple[Path, str]) -> None:
    work, marker = edit_work
    status, shown = edit_on_a_terminal(work, b"\n")
    assert status == 0, shown
    assert b"line 4" in shown and b"column" in shown, f"the error does not say where: {shown!r}"
    assert_not_contained(shown, marker, "the terminal")
    assert (work / "state" / "runs").read_text() == "2", "the editor was not reopened exactly once"
    value = run(work, "get", "sealed.env", "API_KEY", "--keystore", "ks").stdout
    assert value == b"edited-and-kept\n", "the first run's edit was lost"


def test_edit_that_does_not_parse_can_be_given_up(edit_work: tuple[Path, str]) -> None:
    work, _ = edit_work
    before = (work / "sealed.env").read_bytes()
    status, shown = edit_on_a_terminal(work, b"q\n")
    assert status == 65, shown
    assert b"unchanged" in shown
    assert (work / "sealed.env").read_bytes() == before
    assert (work / "state" / "runs").read_text() == "1"


def test_edit_that_does_not_parse_without_a_terminal_fails_at_once(edit_work: tuple[Path, str]) -> None:
    work, _ = edit_work
    before = (work / "sealed.env").read_bytes()
    env = client_env(work / "home", EDITOR=str(work / "break.py"), EDIT_STATE=str(work / "state"))
    result = run(work, "edit", "sealed.env", "--keystore", "ks", env=env, check=False)
    assert result.returncode == 65, result.stderr
    assert b"line 4" in result.stderr and b"unchanged" in result.stderr
    assert (work / "state" / "runs").read_text() == "1"
    assert (work / "sealed.env").read_bytes() == before


# ---------------------------------------------------------------------------------------------
# 3. `audit tail`: text that a caller chose is printed escaped, one record per line.


def test_audit_tail_escapes_what_a_caller_put_in_an_encryption_context(server: EnvsealServer, kms: object) -> None:
    key = kms.create_key(Description="audit escapes")["KeyMetadata"]["KeyId"]
    forged = "\n999\t2001-01-01T00:00:00Z\tadmin\tDecrypt\t-\t-\tAllowed"
    context = {"app\tname": "x\x1b[31mred\x1b[0m" + forged, "line": "a\r\nb\x7f\x9b2J\u2028\u202e,=\\"}
    kms.encrypt(KeyId=key, Plaintext=b"not secret", EncryptionContext=context)
    text = server.cli("audit", "tail", "-n", "3").stdout
    records = json.loads(server.cli("audit", "tail", "-n", "3", "--output", "json").stdout)
    lines = text.split("\n")
    assert lines[-1] == "" and len(lines) == len(records) + 1, f"a record spans several lines: {text!r}"
    for line in lines[:-1]:
        assert len(line.split("\t")) == 7, f"a record does not have 7 tab-separated fields: {line!r}"
        assert all(c == "\t" or (ord(c) >= 0x20 and not 0x7f <= ord(c) <= 0x9f) for c in line), \
            f"a control character: {line!r}"
        assert "\u2028" not in line and "\u202e" not in line, f"a line separator or bidi override: {line!r}"
    record = next(line for line in lines if "app" in line)
    assert "app\\tname=x\\x1b[31mred\\x1b[0m\\n999\\t2001-01-01T00:00:00Z\\tadmin" in record, record
    assert "line=a\\r\\nb\\x7f\\u009b2J\\u2028\\u202e\\x2c\\x3d\\\\" in record, record
