# envseal — build and test entry points. `make test` is what CI runs.
SWIFT ?= swift
SWIFT_TEST_FLAGS ?=

.PHONY: test build deps check-deps clean

## test: install what is missing (as root), build once, check the library's dependencies, run every test
test: deps
	$(SWIFT) build --build-tests
	python3 scripts/check-library-deps.py --self-test
	$(SWIFT) test --skip-build $(SWIFT_TEST_FLAGS)

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
	rm -rf .build
