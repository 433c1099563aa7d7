#!/usr/bin/env python3
"""Fails when the EnvSeal library (what functions link) could reach a server dependency or the CLI.

Reads `swift package describe --type json` for the target graph and
`swift package show-dependencies --format json` for the package graph, walks every target the
`EnvSeal` product depends on, and checks that:
  * no target in that closure is one of the server-side or CLI targets;
  * no product it uses is a forbidden one (Hummingbird, GRDB, postgres-nio, ArgumentParser);
  * no package providing one of its products depends, at any depth, on a forbidden package.

`--self-test` runs the check on doctored graphs (the library given a GRDB product, a Hummingbird
product, a dependency on the CLI target, and a package that depends on postgres-nio) and fails
unless every one of them is caught, so the check itself cannot rot into one that always passes.
"""
import json
import os
import subprocess
import sys

LIBRARY_PRODUCT = "EnvSeal"
FORBIDDEN_TARGETS = {"EnvSealCLI", "envseal", "KeyServer", "KeyService", "KeyStoreFolder", "KeyStoreSQLite",
                     "KeyStorePostgres"}
FORBIDDEN_PRODUCT_PREFIXES = ("Hummingbird", "GRDB", "PostgresNIO", "PostgresKit", "ArgumentParser")
FORBIDDEN_PACKAGES = {"hummingbird", "hummingbird-auth", "hummingbird-websocket", "grdb.swift", "postgres-nio",
                      "postgres-kit", "swift-argument-parser"}


def run_json(args, cwd):
    out = subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True).stdout
    return json.loads(out[out.index("{"):])


def product_owners(tree):
    """Maps each product name of each dependency package to the package's identity."""
    owners = {}

    def walk(node):
        for dep in node.get("dependencies", []):
            path = dep.get("path")
            if path and os.path.isdir(path):
                try:
                    described = run_json(["swift", "package", "describe", "--type", "json"], path)
                    for product in described.get("products", []):
                        owners.setdefault(product["name"], dep["identity"])
                except (subprocess.CalledProcessError, ValueError):
                    pass
            walk(dep)

    walk(tree)
    return owners


def package_closure(tree, identity):
    """Every package identity reachable from `identity` in the dependency tree (itself included)."""
    found = set()

    def find(node):
        if node.get("identity") == identity:
            collect(node)
        for dep in node.get("dependencies", []):
            find(dep)

    def collect(node):
        found.add(node["identity"])
        for dep in node.get("dependencies", []):
            collect(dep)

    find(tree)
    return found or {identity}


def check(describe, tree, owners):
    """Returns a list of problems; empty means the library is clean."""
    targets = {t["name"]: t for t in describe["targets"]}
    product = next(p for p in describe["products"] if p["name"] == LIBRARY_PRODUCT)
    problems = []
    closure, stack = set(), list(product["targets"])
    while stack:
        name = stack.pop()
        if name in closure:
            continue
        closure.add(name)
        stack.extend(targets.get(name, {}).get("target_dependencies") or [])
    for name in sorted(closure):
        if name in FORBIDDEN_TARGETS:
            problems.append(f"EnvSeal depends on target {name}")
        for dep in targets.get(name, {}).get("product_dependencies") or []:
            if dep.startswith(FORBIDDEN_PRODUCT_PREFIXES):
                problems.append(f"target {name} (in EnvSeal) uses product {dep}")
            owner = owners.get(dep)
            if owner:
                bad = package_closure(tree, owner) & FORBIDDEN_PACKAGES
                if bad:
                    problems.append(f"target {name} (in EnvSeal) uses {dep} from {owner}, which depends on {', '.join(sorted(bad))}")
    return problems, sorted(closure)


def self_test(describe, tree, owners):
    import copy

    def with_change(change):
        d, t, o = copy.deepcopy(describe), copy.deepcopy(tree), dict(owners)
        change(d, t, o)
        return check(d, t, o)[0]

    def target(d, name):
        return next(t for t in d["targets"] if t["name"] == name)

    def add_product(name):
        def change(d, t, o):
            target(d, "EnvSeal").setdefault("product_dependencies", []).append(name)
        return change

    def add_cli(d, t, o):
        target(d, "EnvSeal").setdefault("target_dependencies", []).append("EnvSealCLI")

    def add_transitive(d, t, o):
        target(d, "EnvSealFormat").setdefault("product_dependencies", []).append("SomeClient")
        o["SomeClient"] = "some-client"
        t.setdefault("dependencies", []).append(
            {"identity": "some-client", "dependencies": [{"identity": "postgres-nio", "dependencies": []}]})

    cases = {"GRDB product": add_product("GRDB"), "Hummingbird product": add_product("Hummingbird"),
             "CLI target": add_cli, "package reaching postgres-nio": add_transitive}
    failed = False
    for label, change in cases.items():
        problems = with_change(change)
        if problems:
            print(f"self-test: caught {label}: {problems[0]}")
        else:
            print(f"self-test: MISSED {label}")
            failed = True
    return not failed


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    describe = run_json(["swift", "package", "describe", "--type", "json"], root)
    tree = run_json(["swift", "package", "show-dependencies", "--format", "json"], root)
    owners = product_owners(tree)
    problems, closure = check(describe, tree, owners)
    if "--self-test" in sys.argv and not self_test(describe, tree, owners):
        print("check-library-deps: the self-test failed: the check would miss a forbidden dependency")
        return 1
    if problems:
        for p in problems:
            print(f"check-library-deps: error: {p}")
        print("check-library-deps: hint: the EnvSeal library must not reach Hummingbird, GRDB, postgres-nio or the CLI")
        return 1
    print(f"check-library-deps: EnvSeal is clean ({', '.join(closure)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
