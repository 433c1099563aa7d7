# envseal — build and test entry points. `make test` is what CI runs.
SWIFT ?= swift
SWIFT_TEST_FLAGS ?=

.PHONY: test demo build deps check-deps integration bench bench-smoke clean

## demo: the README's main command: a key server on a throwaway store, a key, a least-privilege
## principal, the example function's .env sealed, the function run with it (logs redacted), a
## rotation, the audit log; everything stopped and removed at the end
demo: deps
	$(SWIFT) build --product envseal
	$(SWIFT) build --product billing-function
	bash scripts/demo.sh

## test: install what is missing (as root), build once, check the library's dependencies, run every
## Swift test, then drive the real server with boto3, the aws CLI, sops and the Encryption SDK
test: deps
	$(SWIFT) build --build-tests
	python3 scripts/check-library-deps.py --self-test
	$(SWIFT) test --skip-build $(SWIFT_TEST_FLAGS)
	$(MAKE) integration

## integration: the server driven by clients nobody here wrote (needs a debug build)
integration:
	bash scripts/integration-deps.sh
	ENVSEAL_BIN=$(CURDIR)/.build/debug/envseal BILLING_FUNCTION_BIN=$(CURDIR)/.build/debug/billing-function \
	  python3 -m pytest -q tests/integration

## bench: in-process engine benchmarks, release build; prints a table
bench: deps
	$(SWIFT) build -c release --scratch-path .build-release --product envseal-bench
	.build-release/release/envseal-bench

## bench-smoke: each benchmark once, tiny sizes
bench-smoke: deps
	$(SWIFT) build -c release --scratch-path .build-release --product envseal-bench
	.build-release/release/envseal-bench --smoke

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

## check-deps: prove the EnvSeal library reaches no server dependency and no CLI code
check-deps:
	python3 scripts/check-library-deps.py --self-test

clean:
	rm -rf .build .build-release
