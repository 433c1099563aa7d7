"""Inputs for bench/run.py: realistic secrets, dotenv files, log text and an age key.

Everything is generated from a fixed seed, so two runs seal the same values and the size
results can be reproduced exactly. The values have the shapes of real credentials (Stripe,
GitHub, Slack and SendGrid tokens, database and Redis URLs, hex and base64 keys, passwords) and
their usual lengths; none needs quoting in any dotenv dialect, so envseal, sops and boto3 all see
the same bytes.
"""
import base64
import random
import string

ALNUM = string.ascii_letters + string.digits
LOWER_ALNUM = string.ascii_lowercase + string.digits
HEX = "0123456789abcdef"
# Characters a generated password may hold: nothing a shell or a dotenv parser treats specially.
PASSWORD = ALNUM + "-_.@%+~"


def _pick(rng, alphabet, n):
    return "".join(rng.choice(alphabet) for _ in range(n))


# (name, generator): one of each kind of secret a typical function holds, in the order a typical
# .env lists them. The first ten make the "10 typical secrets" case.
KINDS = [
    ("DATABASE_URL", lambda r: f"postgres://app_user:{_pick(r, ALNUM, 24)}@billing-db.c{_pick(r, LOWER_ALNUM, 12)}"
                               f".us-east-1.rds.amazonaws.com:5432/billing?sslmode=require"),
    ("STRIPE_SECRET_KEY", lambda r: "sk_live_51" + _pick(r, ALNUM, 97)),
    ("GITHUB_TOKEN", lambda r: "ghp_" + _pick(r, ALNUM, 36)),
    ("SLACK_BOT_TOKEN", lambda r: f"xoxb-{_pick(r, string.digits, 13)}-{_pick(r, string.digits, 13)}-{_pick(r, ALNUM, 24)}"),
    ("UPLOADS_S3_SECRET_KEY", lambda r: _pick(r, ALNUM + "+/", 40)),  # not AWS_*: Lambda reserves those
    ("SENDGRID_API_KEY", lambda r: f"SG.{_pick(r, ALNUM + '-_', 22)}.{_pick(r, ALNUM + '-_', 43)}"),
    ("DB_PASSWORD", lambda r: _pick(r, PASSWORD, 24)),
    ("JWT_SECRET", lambda r: _pick(r, HEX, 64)),
    ("REDIS_URL", lambda r: f"rediss://default:{_pick(r, ALNUM, 32)}@cache-prod.{_pick(r, LOWER_ALNUM, 6)}"
                            f".ng.0001.use1.cache.amazonaws.com:6379"),
    ("TWILIO_AUTH_TOKEN", lambda r: _pick(r, HEX, 32)),
    ("SENTRY_DSN", lambda r: f"https://{_pick(r, HEX, 32)}@o{_pick(r, string.digits, 6)}.ingest.sentry.io/"
                             f"{_pick(r, string.digits, 7)}"),
    ("ENCRYPTION_KEY", lambda r: base64.b64encode(r.randbytes(32)).decode()),
]
SERVICES = ["", "BILLING_", "ANALYTICS_", "AUTH_", "SEARCH_", "REPORTS_", "EMAIL_", "WEBHOOK_", "EXPORT_", "ADMIN_"]


def typical_secrets(count, seed=7):
    """`count` (name, value) pairs: the kinds in turn, each round for another service."""
    rng = random.Random(seed)
    secrets = []
    for index in range(count):
        round_, kind = divmod(index, len(KINDS))
        prefix = SERVICES[round_] if round_ < len(SERVICES) else f"SERVICE{round_}_"
        name, make = KINDS[kind]
        secrets.append((prefix + name, make(rng)))
    return secrets


def dotenv(secrets):
    """A plain dotenv file of the pairs, one unquoted assignment a line."""
    return "".join(f"{name}={value}\n" for name, value in secrets)


def parse_dotenv(text):
    """(name, value) pairs of a dotenv file as envseal and sops write them (values unquoted, or
    in matching quotes when envseal kept a quoting)."""
    pairs = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, value = line.partition("=")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        pairs.append((name.strip(), value))
    return pairs


def environment_bytes(pairs):
    """What Lambda counts against its 4 KB: the bytes of every name and value."""
    return sum(len(name.encode()) + len(value.encode()) for name, value in pairs)


def log_text(secrets, size, seed=11):
    """About `size` bytes of application log lines. One line in 40 leaks one of `secrets` as it
    is, one in 400 as HTTP Basic credentials (base64 of `user:secret`), which only a redactor that
    knows encodings catches."""
    rng = random.Random(seed)
    lines = []
    total = 0
    index = 0
    while total < size:
        second = index % 60
        stamp = f"2026-11-28T10:{(index // 60) % 60:02d}:{second:02d}.{index % 1000:03d}Z"
        if index % 400 == 399:
            name, value = rng.choice(secrets)
            basic = base64.b64encode(f"svc-{index}:{value}".encode()).decode()
            line = f"{stamp} DEBUG outbound request host=api.partner.example Authorization: Basic {basic}\n"
        elif index % 40 == 39:
            name, value = rng.choice(secrets)
            line = f"{stamp} ERROR config check failed: {name}={value} (retrying in 5s)\n"
        elif index % 3 == 0:
            line = (f'{{"level":"info","ts":"{stamp}","msg":"charge created","customer":"cus_{_pick(rng, ALNUM, 14)}",'
                    f'"amount":{rng.randint(100, 99999)},"currency":"usd"}}\n')
        else:
            line = (f"{stamp} INFO  http request method={rng.choice(['GET', 'POST', 'PUT'])} "
                    f"path=/v1/invoices/in_{_pick(rng, ALNUM, 16)} status=200 duration_ms={rng.randint(1, 900)} "
                    f"request_id={_pick(rng, HEX, 8)}-{_pick(rng, HEX, 4)}-{_pick(rng, HEX, 12)}\n")
        lines.append(line)
        total += len(line)
        index += 1
    return "".join(lines)


# --- age keys, for sops (no age-keygen needed) ---------------------------------------------------

_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _bech32_polymod(values):
    generator = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            checksum ^= generator[i] if (top >> i) & 1 else 0
    return checksum


def _bech32(hrp, data):
    """BIP 173 Bech32, as age encodes its keys (age-encryption.org/v1)."""
    accumulator, bits, words = 0, 0, []
    for byte in data:
        accumulator = (accumulator << 8) | byte
        bits += 8
        while bits >= 5:
            bits -= 5
            words.append((accumulator >> bits) & 31)
    if bits:
        words.append((accumulator << (5 - bits)) & 31)
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    polymod = _bech32_polymod(expanded + words + [0] * 6) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_BECH32[w] for w in words + checksum)


def age_keypair():
    """(identity, recipient): a fresh X25519 age key, as `age-keygen` prints it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    key = X25519PrivateKey.generate()
    secret = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return _bech32("age-secret-key-", secret).upper(), _bech32("age", public)
