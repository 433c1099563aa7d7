"""Running processes for bench/run.py: the servers it starts and stops, and the contenders it times.

Every process a run starts is ended by its own handle (`Services.stop_all`), never by name.
"""
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


class BenchError(Exception):
    pass


STARTED = time.monotonic()


def log(message):
    print(f"bench: [{time.monotonic() - STARTED:4.0f} s] {message}", file=sys.stderr, flush=True)


def summary(samples):
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples), "n": len(samples)}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- processes ----------------------------------------------------------------------------------

class Services:
    """The long-running processes this run started; `stop_all` ends each, by its own handle."""

    def __init__(self):
        self.running = []

    def start(self, name, command, env, log_path):
        log_file = open(log_path, "wb")
        process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=log_file,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        self.running.append((name, process, log_file, log_path))
        return process

    def wait_ready(self, name, url, timeout=60):
        _, process, _, log_path = next(entry for entry in self.running if entry[0] == name)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise BenchError(f"{name} exited with {process.returncode} while starting:\n{tail(log_path)}")
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise BenchError(f"{name} was not ready within {timeout} s:\n{tail(log_path)}")

    def stop(self, name):
        """Ends the process started as `name`, by its own handle."""
        for entry in [entry for entry in self.running if entry[0] == name]:
            _, process, log_file, _ = entry
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            log_file.close()
            self.running.remove(entry)

    def stop_all(self):
        for name, process, log_file, _ in reversed(self.running):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            log_file.close()
        self.running.clear()


def tail(path, lines=15):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def run(command, env, label, stdin=None):
    """Runs a command to completion; its standard output, or a BenchError naming `label`."""
    result = subprocess.run(command, env=env, input=stdin, capture_output=True, text=True)
    if result.returncode != 0:
        raise BenchError(f"{label}: exit {result.returncode}: {result.stderr.strip()[-800:]}")
    return result.stdout


def timed(command, env, label):
    """Whole-process wall time of one run, in seconds."""
    start = time.perf_counter()
    result = subprocess.run(command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise BenchError(f"{label}: exit {result.returncode}: {result.stderr.decode(errors='replace').strip()[-800:]}")
    return elapsed


def alternate(contenders, repetitions, warmups):
    """Runs each contender `warmups` times, then `repetitions` rounds in a rotating order, so
    that no contender always runs first or right after a given other; milliseconds per run."""
    labels = list(contenders)
    for _ in range(warmups):
        for label in labels:
            timed(*contenders[label], label)
    samples = {label: [] for label in labels}
    for repetition in range(repetitions):
        shift = repetition % len(labels)
        for label in labels[shift:] + labels[:shift]:
            samples[label].append(timed(*contenders[label], label) * 1000)
    return samples
