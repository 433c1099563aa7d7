"""Recovery-key vectors for make-vectors.py: docs/FORMAT.md section 6, written from that page.

Recipient text `esr1:` + base64url(pk || first 4 bytes of unkeyed BLAKE2b-16 over [pk]); key files
`esk1:` + base64url(sk || pk) or `esk1p:` + base64url(salt || u32 opslimit || u32 memlimit KiB ||
nonce || AEAD(Argon2id(passphrase), nonce, aad = pk, sk) || pk || checksum). X25519 and Argon2id
come from the `cryptography` package (libsodium's crypto_scalarmult_base and crypto_pwhash with
ALG_ARGON2ID13: one lane, memlimit / 1024 KiB, opslimit passes, 32-byte output).
"""

import struct

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

RECIPIENT_PREFIX = "esr1:"
PLAIN_PREFIX = "esk1:"
PROTECTED_PREFIX = "esk1p:"
MAX_OPS = 64
MIN_MEM_KIB = 8
MAX_MEM_KIB = 4 << 20
HEADLINE = "# envseal recovery key: anyone with this file opens every file sealed for its recipient\n"


class RecoveryError(Exception):
    def __init__(self, kind):
        super().__init__(kind)
        self.kind = kind


def public_key(sk):
    return X25519PrivateKey.from_private_bytes(sk).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def argon2id(passphrase, salt, ops, mem_kib):
    return Argon2id(salt=salt, length=32, iterations=ops, lanes=1, memory_cost=mem_kib).derive(passphrase)


class Recovery:
    """The recovery formats over make-vectors.py's primitives (base64url, AEAD, BLAKE2b parts)."""

    def __init__(self, prims):
        self.p = prims

    def checksum(self, data):
        return self.p["blake2b_parts"](b"", 16, [data])[:4]

    def recipient_text(self, pk):
        return RECIPIENT_PREFIX + self.p["b64u_encode"](pk + self.checksum(pk))

    def recipient_parse(self, text):
        text = text.strip(" \t\r\n")
        if not text.startswith(RECIPIENT_PREFIX):
            raise RecoveryError("invalid recipient")
        try:
            data = self.p["b64u_decode"](text[len(RECIPIENT_PREFIX):])
        except Exception:
            raise RecoveryError("invalid recipient")
        if len(data) != 36:
            raise RecoveryError("invalid recipient")
        if data[32:] != self.checksum(data[:32]):
            raise RecoveryError("checksum mismatch")
        return data[:32]

    def render(self, sk, created, protection=None):
        pk = public_key(sk)
        if protection is None:
            line = PLAIN_PREFIX + self.p["b64u_encode"](sk + pk)
        else:
            passphrase, salt, ops, mem_kib, nonce = protection
            k = argon2id(passphrase, salt, ops, mem_kib)
            body = salt + struct.pack(">II", ops, mem_kib) + nonce + self.p["aead_encrypt"](k, nonce, pk, sk) + pk
            line = PROTECTED_PREFIX + self.p["b64u_encode"](body + self.checksum(body))
        text = HEADLINE + "# recipient: " + self.recipient_text(pk) + "\n"
        if created is not None:
            text += f"# created: {created}\n"
        return text + line + "\n"

    def open(self, text, passphrase):
        """The (sk, pk) of a key file, or RecoveryError(outcome)."""
        key_line, comments = None, []
        for line in text.split("\n"):
            line = line.strip(" \t\r\n")
            if not line:
                continue
            if line.startswith("#"):
                if line.startswith("# recipient: "):
                    comments.append(line[len("# recipient: "):])
                continue
            if not (line.startswith(PLAIN_PREFIX) or line.startswith(PROTECTED_PREFIX)):
                raise RecoveryError("malformed")
            if key_line is not None:
                raise RecoveryError("malformed")
            key_line = line
        if key_line is None:
            raise RecoveryError("malformed")
        protected = key_line.startswith(PROTECTED_PREFIX)
        try:
            data = self.p["b64u_decode"](key_line[len(PROTECTED_PREFIX if protected else PLAIN_PREFIX):])
        except Exception:
            raise RecoveryError("malformed")
        if protected:
            if len(data) != 132:
                raise RecoveryError("malformed")
            if data[128:] != self.checksum(data[:128]):
                raise RecoveryError("damaged")
            salt, (ops, mem_kib), nonce = data[:16], struct.unpack(">II", data[16:24]), data[24:48]
            sealed, pk = data[48:96], data[96:128]
            if not 1 <= ops <= MAX_OPS or not MIN_MEM_KIB <= mem_kib <= MAX_MEM_KIB:
                raise RecoveryError("malformed")
        else:
            if len(data) != 64:
                raise RecoveryError("malformed")
            sk, pk = data[:32], data[32:]
            if public_key(sk) != pk:
                raise RecoveryError("damaged")
        for comment in comments:
            try:
                if self.recipient_parse(comment) != pk:
                    raise RecoveryError("damaged")
            except RecoveryError:
                raise RecoveryError("damaged")
        if protected:
            if passphrase is None:
                raise RecoveryError("passphrase required")
            k = argon2id(passphrase, salt, ops, mem_kib)
            try:
                sk = self.p["aead_decrypt"](k, nonce, pk, sealed)
            except Exception:
                raise RecoveryError("wrong passphrase")
            if public_key(sk) != pk:
                raise RecoveryError("damaged")
        return sk, pk


def recovery_vectors(prims):
    """The cases of recovery.json, each checked against Recovery.open / recipient_parse."""
    r = Recovery(prims)
    fixed, flip, b64u_encode = prims["fixed"], prims["flip"], prims["b64u_encode"]
    cases = []

    def recipient_case(name, text, expect, pk=None):
        try:
            got = r.recipient_parse(text)
            outcome = "success"
            assert got == pk, name
        except RecoveryError as e:
            outcome = e.kind
        assert outcome == expect, f"{name}: expected {expect}, got {outcome}"
        case = {"name": name, "kind": "recipient", "text": text, "expect": expect}
        if pk is not None:
            case["public_key_hex"] = pk.hex()
        cases.append(case)

    def file_case(name, text, expect, passphrase=None, sk=None, protection=None, created=None):
        try:
            got_sk, got_pk = r.open(text, passphrase)
            outcome = "success"
            assert got_sk == sk and got_pk == public_key(sk), name
        except RecoveryError as e:
            outcome = e.kind
        assert outcome == expect, f"{name}: expected {expect}, got {outcome}"
        case = {"name": name, "kind": "key file", "file": text, "expect": expect,
                "passphrase": None if passphrase is None else passphrase.decode()}
        if expect == "success":
            case["secret_key_hex"] = sk.hex()
            case["public_key_hex"] = public_key(sk).hex()
            case["recipient"] = r.recipient_text(public_key(sk))
            case["created"] = created
            if protection is not None:
                _, salt, ops, mem_kib, nonce = protection
                case["salt_hex"], case["opslimit"], case["memlimit_kib"], case["nonce_hex"] = salt.hex(), ops, mem_kib, nonce.hex()
        cases.append(case)

    sk1 = fixed("recovery/sk1", 32)
    pk1 = public_key(sk1)
    good = r.recipient_text(pk1)
    recipient_case("recipient", good, "success", pk1)
    recipient_case("recipient with a line break after it", good + "\n", "success", pk1)
    sk2 = fixed("recovery/sk2", 32)
    recipient_case("recipient of another key", r.recipient_text(public_key(sk2)), "success", public_key(sk2))
    body = good[len(RECIPIENT_PREFIX):]
    swapped = body[:10] + ("B" if body[10] != "B" else "C") + body[11:]
    recipient_case("recipient with a mistyped character", RECIPIENT_PREFIX + swapped, "checksum mismatch")
    recipient_case("recipient with its checksum bytes changed",
                   RECIPIENT_PREFIX + b64u_encode(flip(pk1 + r.checksum(pk1), 33)), "checksum mismatch")
    recipient_case("recipient cut short", good[:-4], "invalid recipient")
    recipient_case("recipient without its prefix", body, "invalid recipient")
    recipient_case("recipient with another version", "esr2:" + body, "invalid recipient")
    recipient_case("recipient in padded base64", good + "=", "invalid recipient")
    recipient_case("recipient of a 33-byte key", RECIPIENT_PREFIX + b64u_encode(pk1 + b"\0" + r.checksum(pk1 + b"\0")),
                   "invalid recipient")

    created = "2026-12-08T00:00:00Z"
    plain = r.render(sk1, created)
    file_case("unprotected key file", plain, "success", sk=sk1, created=created)
    file_case("unprotected key file without a created line", r.render(sk2, None), "success", sk=sk2)
    file_case("unprotected key file, passphrase given and ignored", plain, "success", passphrase=b"unused", sk=sk1,
              created=created)
    minimum = (b"correct horse battery staple", fixed("recovery/salt1", 16), 1, 8, fixed("recovery/nonce1", 24))
    protected = r.render(sk1, created, minimum)
    file_case("protected key file", protected, "success", passphrase=minimum[0], sk=sk1, protection=minimum,
              created=created)
    costlier = ("pässwörd ✓".encode(), fixed("recovery/salt2", 16), 2, 64, fixed("recovery/nonce2", 24))
    file_case("protected key file, non-ASCII passphrase, opslimit 2, 64 KiB", r.render(sk2, created, costlier),
              "success", passphrase=costlier[0], sk=sk2, protection=costlier, created=created)
    file_case("protected key file, wrong passphrase", protected, "wrong passphrase", passphrase=b"correct horse battery stapler")
    file_case("protected key file, no passphrase", protected, "passphrase required")

    lines = plain.split("\n")
    key_line = lines[-2]
    data = prims["b64u_decode"](key_line[len(PLAIN_PREFIX):])
    def with_key_line(line):
        return "\n".join(lines[:-2] + [line, ""])
    file_case("unprotected: a secret-key byte changed", with_key_line(PLAIN_PREFIX + b64u_encode(flip(data, 3))), "damaged")
    file_case("unprotected: a public-key byte changed", with_key_line(PLAIN_PREFIX + b64u_encode(flip(data, 40))), "damaged")
    file_case("unprotected: cut short", with_key_line(PLAIN_PREFIX + b64u_encode(data[:63])), "malformed")
    file_case("unprotected: padded base64", with_key_line(key_line + "="), "malformed")
    file_case("recipient comment of another key", plain.replace(good, r.recipient_text(public_key(sk2))), "damaged")
    file_case("two key lines", plain + key_line + "\n", "malformed")
    file_case("no key line", "\n".join(lines[:-2]) + "\n", "malformed")
    file_case("stray text line", "hello\n" + plain, "malformed")
    file_case("unknown key prefix", with_key_line("esk2:" + key_line[len(PLAIN_PREFIX):]), "malformed")

    plines = protected.split("\n")
    pdata = prims["b64u_decode"](plines[-2][len(PROTECTED_PREFIX):])
    def protected_with(payload, fix_checksum):
        if fix_checksum:
            payload = payload[:128] + r.checksum(payload[:128])
        return "\n".join(plines[:-2] + [PROTECTED_PREFIX + b64u_encode(payload), ""])
    for name, index in [("salt", 0), ("sealed secret key", 60), ("public key", 100), ("checksum", 130)]:
        file_case(f"protected: a {name} byte changed", protected_with(flip(pdata, index), False), "damaged",
                  passphrase=minimum[0])
    file_case("protected: a sealed byte changed, checksum recomputed", protected_with(flip(pdata, 60), True),
              "wrong passphrase", passphrase=minimum[0])
    file_case("protected: opslimit 0", protected_with(pdata[:16] + struct.pack(">II", 0, 8) + pdata[24:], True),
              "malformed", passphrase=minimum[0])
    file_case("protected: memlimit above 4 GiB", protected_with(pdata[:16] + struct.pack(">II", 1, MAX_MEM_KIB + 1) + pdata[24:], True),
              "malformed", passphrase=minimum[0])
    file_case("protected: memlimit below 8 KiB", protected_with(pdata[:16] + struct.pack(">II", 1, 7) + pdata[24:], True),
              "malformed", passphrase=minimum[0])
    file_case("protected: cut short", "\n".join(plines[:-2] + [PROTECTED_PREFIX + b64u_encode(pdata[:131]), ""]),
              "malformed", passphrase=minimum[0])
    return cases
