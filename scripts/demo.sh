#!/usr/bin/env bash
# The README's main command (`make demo`): a key server on a throwaway embedded store, a key and
# a least-privilege principal for the example function, the function's .env sealed, the function
# run with it (its log line shows the secret redacted), a key rotation, the audit log, and
# break-glass recovery: the file opened with an offline recovery key after the server stops; then
# the throwaway folder is removed. Needs a debug build (make demo builds it).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${ENVSEAL_BIN_DIR:-$ROOT/.build/debug}"
ENVSEAL="$BIN/envseal"
FUNCTION="$BIN/billing-function"
EXAMPLE="$ROOT/Examples/billing-function"
FUNCTION_NAME=billing-fn

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
show() { printf '    $ %s\n' "$*"; }

for tool in "$ENVSEAL" "$FUNCTION"; do
  [ -x "$tool" ] || { echo "demo: error: $tool is missing; run make demo (it builds it)" >&2; exit 1; }
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/envseal-demo-XXXXXX")"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
KEYSTORE="$WORK/KeyStore"

step "Starting the key server on a throwaway embedded store (http://127.0.0.1:$PORT)"
show "envseal server --keystore $KEYSTORE --listen 127.0.0.1:$PORT"
"$ENVSEAL" server --keystore "$KEYSTORE" --listen "127.0.0.1:$PORT" --log-level warning >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 || python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$PORT/readyz', timeout=1)" 2>/dev/null; then
    break
  fi
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "demo: error: the server did not start:" >&2; cat "$WORK/server.log" >&2; exit 1; }
  sleep 0.1
done
echo "    ready; the first admin's credentials are in KeyStore/admin.credentials"

# From here on the CLI is a KMS client of that server, as the admin.
export AWS_ENDPOINT_URL_KMS="http://127.0.0.1:$PORT"
export AWS_SHARED_CREDENTIALS_FILE="$KEYSTORE/admin.credentials"
export AWS_REGION=us-east-1
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL

step "Creating a master key with the alias alias/billing"
show "envseal keys create --description 'billing secrets' --alias alias/billing"
"$ENVSEAL" keys create --description "billing secrets" --alias alias/billing | sed 's/^/    /'

step "Creating a principal for the function, allowed only to Decrypt with its own encryption context"
show "envseal principals create $FUNCTION_NAME --keystore $KEYSTORE"
"$ENVSEAL" principals create "$FUNCTION_NAME" --keystore "$KEYSTORE" --credentials "$WORK/$FUNCTION_NAME.credentials" | sed 's/^/    /'
cat >"$WORK/policy.json" <<POLICY
{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/admin"},
     "Action": "kms:*", "Resource": "*"},
    {"Sid": "FunctionDecryptsItsOwnSecretsOnly", "Effect": "Allow",
     "Principal": {"AWS": "arn:aws:iam::111122223333:user/$FUNCTION_NAME"},
     "Action": "kms:Decrypt", "Resource": "*",
     "Condition": {"StringEquals": {"kms:EncryptionContext:LambdaFunctionName": "$FUNCTION_NAME"}}}
  ]
}
POLICY
show "envseal keys policy put alias/billing policy.json"
"$ENVSEAL" keys policy put alias/billing "$WORK/policy.json" | sed 's/^/    /'

step "Sealing Examples/billing-function/.env (one data key for the whole file)"
cp "$EXAMPLE/.env" "$WORK/.env"
show "envseal encrypt .env --key alias/billing --context LambdaFunctionName=$FUNCTION_NAME --except '^(DB_HOST|DB_USER|LOG_LEVEL)\$' -o .env.sealed"
"$ENVSEAL" encrypt "$WORK/.env" --key alias/billing --context "LambdaFunctionName=$FUNCTION_NAME" \
  --except '^(DB_HOST|DB_USER|LOG_LEVEL)$' -o "$WORK/.env.sealed" 2>&1 | sed 's/^/    /'
sed 's/^/    | /' "$WORK/.env.sealed"

run_function() {
  # As a function platform does: the sealed file's variables in the environment, the function's
  # own credentials, and nothing else.
  env -i PATH="$PATH" HOME="$WORK" \
    AWS_ENDPOINT_URL_KMS="$AWS_ENDPOINT_URL_KMS" AWS_REGION=us-east-1 \
    AWS_SHARED_CREDENTIALS_FILE="$WORK/$FUNCTION_NAME.credentials" \
    AWS_LAMBDA_FUNCTION_NAME="$FUNCTION_NAME" \
    bash -c 'set -a; . "$1"; set +a; exec "$2"' sh "$1" "$FUNCTION" <<<'{"invoice":"INV-2026-001","amount":4200}'
}

step "Running the example function with the sealed environment, as $FUNCTION_NAME (one Decrypt call)"
show "billing-function <<< '{\"invoice\":\"INV-2026-001\",\"amount\":4200}'"
run_function "$WORK/.env.sealed" >"$WORK/answer.json" 2>"$WORK/function.log"
echo "    answer: $(cat "$WORK/answer.json")"
echo "    its log (standard error), where the password and the connection string's secret are redacted:"
sed 's/^/    | /' "$WORK/function.log"
if grep -qF "correct horse battery staple" "$WORK/function.log" "$WORK/answer.json"; then
  echo "demo: error: the secret reached the function's output" >&2; exit 1
fi
grep -q "<redacted>" "$WORK/function.log" || { echo "demo: error: no redacted line in the log" >&2; exit 1; }

step "The same secrets through envseal exec --redact: the child prints them, the output does not show them"
show "envseal exec --file .env.sealed --redact -- sh -c 'echo \"password: \$DB_PASSWORD\"; printf %s \"\$STRIPE_API_KEY\" | base64'"
"$ENVSEAL" exec --file "$WORK/.env.sealed" --redact -- sh -c 'echo "password: $DB_PASSWORD"; printf "%s" "$STRIPE_API_KEY" | base64' 2>&1 | sed 's/^/    | /'

step "The function's principal cannot open secrets sealed for another function"
show "envseal encrypt .env --key alias/billing --context LambdaFunctionName=payroll-fn -o payroll.sealed"
"$ENVSEAL" encrypt "$WORK/.env" --key alias/billing --context LambdaFunctionName=payroll-fn -o "$WORK/payroll.sealed" 2>/dev/null
if run_function "$WORK/payroll.sealed" >/dev/null 2>"$WORK/denied.log"; then
  echo "demo: error: the function opened another function's secrets" >&2; exit 1
fi
sed 's/^/    | /' "$WORK/denied.log"

step "Rotating the master key: the file sealed under the old version still opens"
show "envseal keys rotate alias/billing && envseal verify .env.sealed"
"$ENVSEAL" keys rotate alias/billing | sed 's/^/    /'
"$ENVSEAL" verify "$WORK/.env.sealed" | sed 's/^/    /'
show "envseal rotate .env.sealed   # a new data key from the newest key version; every value re-sealed"
"$ENVSEAL" rotate "$WORK/.env.sealed"
run_function "$WORK/.env.sealed" >"$WORK/answer.json" 2>/dev/null
echo "    the function still runs: $(cat "$WORK/answer.json")"

step "The last audit records (who did what with which key and context; never a value)"
show "envseal audit tail -n 6 --keystore $KEYSTORE"
"$ENVSEAL" audit tail -n 6 --keystore "$KEYSTORE" | sed 's/^/    /'
"$ENVSEAL" audit verify --keystore "$KEYSTORE" | sed 's/^/    /'

step "Break-glass: the file sealed also for an offline recovery key opens with the key server stopped"
show "envseal recovery keygen -o recovery.key   # the secret key file (0600) stays offline; it prints the recipient"
RECIPIENT="$("$ENVSEAL" recovery keygen -o "$WORK/recovery.key")"
echo "    $RECIPIENT"
show "envseal encrypt .env --key alias/billing --recipient $RECIPIENT -o .env.sealed --force"
"$ENVSEAL" encrypt "$WORK/.env" --key alias/billing --context "LambdaFunctionName=$FUNCTION_NAME" --recipient "$RECIPIENT" \
  --except '^(DB_HOST|DB_USER|LOG_LEVEL)$' -o "$WORK/.env.sealed" --force 2>&1 | sed 's/^/    /'
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || true
SERVER_PID=""
echo "    the key server is stopped; through the key service the file no longer opens:"
"$ENVSEAL" verify "$WORK/.env.sealed" 2>&1 | sed 's/^/    | /' || true
show "envseal decrypt .env.sealed --recovery-key recovery.key   # no key service at all, so no audit record either"
"$ENVSEAL" decrypt "$WORK/.env.sealed" --recovery-key "$WORK/recovery.key" | sed 's/=.*/=… (opened)/; s/^/    | /'

step "Removing the throwaway store"
echo "    done"
