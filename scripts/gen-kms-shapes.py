#!/usr/bin/env python3
"""Generate Sources/KMSWire/KMSShapes.swift from botocore's AWS KMS service model.

The model is botocore's data/kms/2014-11-01/service-2.json.gz, found by importing botocore
(pip install botocore). The output is deterministic for a given model: shapes are emitted in
sorted order, members in model order, and the header records the botocore version used.

Usage:
    python3 scripts/gen-kms-shapes.py            # (re)write both generated files
    python3 scripts/gen-kms-shapes.py --check    # exit 1 if a committed file differs
    python3 scripts/gen-kms-shapes.py --output PATH

What is generated (all inside `package enum KMS`, except the extensions of KMSWire's own types; all
package-level but the KMSErrorType members, which the EnvSeal library re-exports with that type):
  * one Codable struct per structure shape reached from the operations in OPERATIONS;
  * one RawRepresentable struct per string-enum shape reached (open set: unknown values decode);
  * `validate()` for every structure reached from an operation's input (min/max/pattern/enum);
  * `fastDecoded(from:)` on every request and response and `fastEncoded()` on every response: the
    strict fast JSON path over KMSJSONReader/KMSJSONWriter, which gives up (nil) wherever
    Foundation's coders must answer (see KMSJSON.decodeRequest, encodeResponse, decodeResponse);
  * the `KMSOperation` enum, one case per entry of OPERATION_LIST, and its
    request/response/error tables; KMSRequest/KMSResponse conformances;
  * a KMSErrorType static member and HTTP status for every exception shape in the model.

It also writes Sources/KeyService/Engine/KeyServiceEngine+Dispatch.swift, the table that sends
each operation's decoded request to the engine method of the same name. It fails loudly on model
features it does not know how to translate, rather than emitting something silently wrong.
"""

import argparse
import gzip
import html
import json
import os
import re
import sys

import botocore

REPO_ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
OUTPUT = os.path.join(REPO_ROOT, "Sources", "KMSWire", "KMSShapes.swift")
DISPATCH_OUTPUT = os.path.join(REPO_ROOT, "Sources", "KeyService", "Engine", "KeyServiceEngine+Dispatch.swift")
MODEL_RELPATH = "data/kms/2014-11-01/service-2.json.gz"

# The operations envseal serves, each with the documentation of its `KMSOperation` case (symmetric,
# HMAC and signing keys; every member of their shapes is kept so real clients' requests decode). A new
# operation is one entry here and one `KeyServiceEngine` method named after it (`createKey`).
OPERATION_LIST = [
    ("CreateKey", "creates a KMS key."),
    ("DescribeKey", "returns a key's metadata."),
    ("ListKeys", "lists the keys of the account and Region."),
    ("UpdateKeyDescription", "replaces a key's description."),
    ("EnableKey", "enables a key."),
    ("DisableKey", "disables a key."),
    ("ScheduleKeyDeletion", "schedules a key's deletion after a waiting period."),
    ("CancelKeyDeletion", "cancels a scheduled deletion."),
    ("CreateAlias", "creates an alias for a key."),
    ("UpdateAlias", "points an alias at another key."),
    ("DeleteAlias", "deletes an alias."),
    ("ListAliases", "lists aliases, optionally of one key."),
    ("Encrypt", "encrypts up to 4,096 bytes under a key."),
    ("Decrypt", "decrypts a ciphertext blob."),
    ("ReEncrypt", "decrypts and re-encrypts under another key, server-side."),
    ("GenerateDataKey", "returns a data key in plaintext and encrypted under a key."),
    ("GenerateDataKeyWithoutPlaintext", "returns a data key encrypted under a key only."),
    ("GenerateRandom", "returns random bytes."),
    ("EnableKeyRotation", "turns on automatic rotation."),
    ("DisableKeyRotation", "turns off automatic rotation."),
    ("GetKeyRotationStatus", "tells whether automatic rotation is on, and its period."),
    ("RotateKeyOnDemand", "rotates a key's material now."),
    ("ListKeyRotations", "lists the completed rotations of a key."),
    ("GetKeyPolicy", "returns a key policy."),
    ("PutKeyPolicy", "replaces a key policy."),
    ("ListKeyPolicies", "lists the names of a key's policies (always `default`)."),
    ("CreateGrant", "adds a grant to a key."),
    ("ListGrants", "lists the grants of a key."),
    ("ListRetirableGrants", "lists the grants a principal may retire."),
    ("RetireGrant", "retires a grant (by its retiring or grantee principal)."),
    ("RevokeGrant", "revokes a grant (by a key administrator)."),
    ("TagResource", "adds or replaces tags on a key."),
    ("UntagResource", "removes tags from a key."),
    ("ListResourceTags", "lists the tags of a key."),
    ("GenerateMac", "computes the HMAC of a message under an HMAC key."),
    ("VerifyMac", "checks an HMAC of a message under an HMAC key."),
    ("Sign", "signs a message or digest under an asymmetric signing key."),
    ("Verify", "checks a signature of a message or digest under an asymmetric signing key."),
    ("GetPublicKey", "returns the public key of an asymmetric key (DER SubjectPublicKeyInfo)."),
    ("GetParametersForImport", "returns a wrapping public key and an import token for an EXTERNAL key."),
    ("ImportKeyMaterial", "imports wrapped key material into an EXTERNAL key."),
    ("DeleteImportedKeyMaterial", "deletes an EXTERNAL key's imported material."),
]
OPERATIONS = [name for name, _ in OPERATION_LIST]
OPERATION_DOCS = dict(OPERATION_LIST)

# HTTP status codes that the botocore model does not carry. KMS's model has no
# `error.httpStatusCode` on any exception; Smithy's default is 400 for client errors and 500 for
# `fault` (server) errors. AWS's Smithy model of KMS (as the AWS SDK for JavaScript v3 ships it)
# declares these with @httpError, and envseal answers with them: SDKs pick the exception class
# from `__type`, never from the status, so boto3 raises the same NotFoundException either way.
STATUS_OVERRIDES = {
    "DryRunOperationException": 412,
    "NotFoundException": 404,
    "AlreadyExistsException": 409,
    "DisabledException": 409,
    "KMSInvalidStateException": 409,
}

# Limits that AWS KMS enforces in the service, beyond the model's constraints. They are not
# checked by validate() (the model is the contract of this module); they are appended to the
# members' documentation so that the service implementing them sees them.
SERVICE_NOTES = {
    ("ScheduleKeyDeletionRequest", "PendingWindowInDays"):
        "The model allows 1–365; AWS KMS accepts 7–30 (default 30), which the service must check.",
    ("CreateKeyRequest", "Policy"):
        "The model allows 131,072 characters; AWS KMS limits key policies to 32 KB, checked by the service.",
    ("PutKeyPolicyRequest", "Policy"):
        "The model allows 131,072 characters; AWS KMS limits key policies to 32 KB, checked by the service.",
    ("CreateAliasRequest", "AliasName"):
        "The service also requires the `alias/` prefix and rejects `alias/aws/` names.",
}

SWIFT_KEYWORDS = {
    "associatedtype", "class", "deinit", "enum", "extension", "fileprivate", "func", "import",
    "init", "inout", "internal", "let", "open", "operator", "private", "precedencegroup",
    "protocol", "public", "rethrows", "static", "struct", "subscript", "typealias", "var",
    "break", "case", "catch", "continue", "default", "defer", "do", "else", "fallthrough", "for",
    "guard", "if", "in", "repeat", "return", "throw", "switch", "where", "while", "Any", "as",
    "await", "false", "is", "nil", "self", "Self", "super", "throws", "true", "try", "Type",
}

# Type names that would shadow the standard library or Foundation inside `enum KMS`.
RESERVED_TYPE_NAMES = {
    "Data", "Date", "String", "Int", "Bool", "Double", "Array", "Dictionary", "Set", "Error",
    "Optional", "Result", "Codable", "Sendable", "Equatable", "Hashable", "URL", "UUID",
}

SCALAR_SWIFT = {"string": "String", "blob": "Data", "integer": "Int", "long": "Int",
                "boolean": "Bool", "timestamp": "Date"}

DOC_MAX = 160


class GenError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Naming

def lower_camel(name):
    """AWS member name to a Swift property name: KeyId -> keyId, AWSAccountId -> awsAccountId."""
    m = re.match(r"^([A-Z]+)(.*)$", name)
    if not m:
        result = name
    else:
        head, rest = m.group(1), m.group(2)
        if len(head) == 1 or not rest:
            result = head.lower() + rest
        elif rest[0].islower():
            result = head[:-1].lower() + head[-1] + rest
        else:
            result = head.lower() + rest
    return escape_identifier(result)


def escape_identifier(name):
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
        raise GenError(f"not a Swift identifier: {name!r}")
    return f"`{name}`" if name in SWIFT_KEYWORDS else name


def enum_case_name(value):
    """Enum wire value to a Swift static member: SYMMETRIC_DEFAULT -> symmetricDefault,
    PendingDeletion -> pendingDeletion, RSAES_OAEP_SHA_1 -> rsaesOaepSha1."""
    tokens = [t for t in re.split(r"[^A-Za-z0-9]+", value) if t]
    if not tokens:
        raise GenError(f"enum value without a usable name: {value!r}")
    words = []
    for i, token in enumerate(tokens):
        if token.isupper() or token.isdigit() or re.match(r"^[A-Z0-9]+$", token):
            word = token.lower()
        else:
            word = token[0].lower() + token[1:]
        if i > 0:
            word = word[0].upper() + word[1:]
        words.append(word)
    name = "".join(words)
    if name[0].isdigit():
        name = "_" + name
    return escape_identifier(name)


def error_member_name(shape_name):
    """Exception shape to a KMSErrorType static member: NotFoundException -> notFound,
    KMSInvalidStateException -> kmsInvalidState."""
    base = shape_name[: -len("Exception")] if shape_name.endswith("Exception") else shape_name
    return lower_camel(base)


def path_name(member_name):
    """The name AWS uses for a member in validation messages: first letter lowercased."""
    return member_name[0].lower() + member_name[1:]


# ---------------------------------------------------------------------------------------------
# Documentation

ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "approx.")


def plain_text(doc):
    """Model documentation (HTML) as one line of DocC text: `<code>` as backticks, no tags."""
    text = re.sub(r"</?code>", "`", doc or "")
    text = re.sub(r"</?(p|li|ul|ol|br|note|important|fullname|dd|dt|dl)\b[^>]*>", " ", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = html.unescape(text)
    return re.sub(r"\s+", " ", text).strip()


def first_sentence(doc):
    if not doc:
        return ""
    # A sentence that introduces a list ends at the list: "… any of the following operations:".
    text = plain_text(doc.split("<ul>")[0]).rstrip(":").strip()
    # First period (or ! ?) followed by a space and an uppercase letter, skipping abbreviations.
    end = len(text)
    for m in re.finditer(r"[.!?](?=\s+[A-Z(\"`]|$)", text):
        before = text[: m.end()]
        if any(before.endswith(a) for a in ABBREVIATIONS):
            continue
        end = m.end()
        break
    sentence = text[:end].strip()
    if len(sentence) > DOC_MAX:
        cut = sentence[:DOC_MAX].rsplit(" ", 1)[0].rstrip(",;:")
        sentence = cut + "…"
    if sentence and sentence[-1] not in ".!?…":
        sentence += "."
    return sentence


def doc_line(text, indent):
    text = text.replace("\n", " ").strip()
    return f"{indent}/// {text}\n"


# ---------------------------------------------------------------------------------------------
# Model walking

class Model:
    def __init__(self, model):
        self.model = model
        self.shapes = model["shapes"]
        self.operations = model["operations"]
        for op in OPERATIONS:
            if op not in self.operations:
                raise GenError(f"operation {op} is not in the model")
        self.input_shapes = set()
        self.all_shapes = set()
        for op in OPERATIONS:
            spec = self.operations[op]
            if "input" in spec:
                self._walk(spec["input"]["shape"], self.input_shapes)
                self._walk(spec["input"]["shape"], self.all_shapes)
            if "output" in spec:
                self._walk(spec["output"]["shape"], self.all_shapes)
        self.structures = sorted(n for n in self.all_shapes if self.shapes[n]["type"] == "structure")
        self.enums = sorted(n for n in self.all_shapes if "enum" in self.shapes[n])
        self.exceptions = sorted(n for n, s in self.shapes.items() if s.get("exception"))
        for name in self.structures + self.enums:
            if name in RESERVED_TYPE_NAMES:
                raise GenError(f"shape name {name} would shadow a standard type")

    def _walk(self, name, seen):
        if name in seen:
            return
        seen.add(name)
        shape = self.shapes[name]
        kind = shape["type"]
        if kind == "structure":
            if shape.get("exception"):
                raise GenError(f"exception shape {name} reached as data")
            for member in shape.get("members", {}).values():
                self._walk(member["shape"], seen)
        elif kind == "list":
            self._walk(shape["member"]["shape"], seen)
        elif kind == "map":
            self._walk(shape["key"]["shape"], seen)
            self._walk(shape["value"]["shape"], seen)
        elif kind not in SCALAR_SWIFT:
            raise GenError(f"shape {name} has unsupported type {kind}")

    def swift_type(self, name):
        shape = self.shapes[name]
        kind = shape["type"]
        if kind == "structure" or "enum" in shape:
            return name
        if kind == "list":
            return f"[{self.swift_type(shape['member']['shape'])}]"
        if kind == "map":
            key = self.swift_type(shape["key"]["shape"])
            if key != "String":
                raise GenError(f"map {name} has non-string keys")
            return f"[String: {self.swift_type(shape['value']['shape'])}]"
        return SCALAR_SWIFT[kind]

    def needs_validation(self, name, stack=()):
        """Whether a value of this shape carries any constraint to check."""
        if name in stack:
            return False
        shape = self.shapes[name]
        if any(k in shape for k in ("min", "max", "pattern", "enum")):
            return True
        kind = shape["type"]
        if kind == "structure":
            return any(self.needs_validation(m["shape"], stack + (name,))
                       for m in shape.get("members", {}).values())
        if kind == "list":
            return self.needs_validation(shape["member"]["shape"], stack + (name,))
        if kind == "map":
            for part in ("key", "value"):
                if self.needs_validation(shape[part]["shape"], stack + (name,)):
                    raise GenError(f"map {name} has constrained {part}s: teach the generator")
            return False
        return False


# ---------------------------------------------------------------------------------------------
# Swift emission

def swift_string(text):
    return json.dumps(text, ensure_ascii=False)


class Emitter:
    def __init__(self, model, botocore_version):
        self.m = model
        self.botocore_version = botocore_version
        self.patterns = {}  # static member name (from the shape name) -> pattern source
        self.op_case = {op: lower_camel(op) for op in OPERATIONS}
        self.request_of = {}
        self.response_of = {}
        for op in OPERATIONS:
            spec = self.m.operations[op]
            if "input" not in spec:
                raise GenError(f"operation {op} has no input shape")
            self.request_of[op] = spec["input"]["shape"]
            self.response_of[op] = spec["output"]["shape"] if "output" in spec else None

    # -- whole file --------------------------------------------------------------------------

    def render(self):
        parts = [self.header(), self.namespace(), self.operation_tables()]
        for name in self.m.structures:
            parts.append(self.structure(name))
        for name in self.m.enums:
            parts.append(self.enum(name))
        parts.append(self.error_types())
        parts.append(self.pattern_table())  # last: filled while emitting validators
        return "".join(parts)

    def header(self, imports="package import Foundation\n"):
        meta = self.m.model["metadata"]
        return (
            "// ===========================================================================\n"
            "// GENERATED FILE: do not edit by hand.\n"
            f"// Generated by scripts/gen-kms-shapes.py from botocore {self.botocore_version},\n"
            f"// {MODEL_RELPATH} ({meta['serviceFullName']}, API {meta['apiVersion']},\n"
            f"// protocol {meta['protocol']} {meta['jsonVersion']}, target prefix {meta['targetPrefix']}).\n"
            "// Regenerate with `python3 scripts/gen-kms-shapes.py` (botocore must be importable);\n"
            "// check it is current with `python3 scripts/gen-kms-shapes.py --check`.\n"
            "// ===========================================================================\n"
            "\n"
            + imports +
            "\n"
        )

    def dispatch(self):
        """KeyServiceEngine+Dispatch.swift: each operation's request to its engine method."""
        out = [self.header("package import Foundation\npackage import KMSWire\n")]
        out.append(
            "extension KeyServiceEngine {\n"
            "    /// Handles one KMS JSON 1.1 request: decodes the body for its operation, runs it for the\n"
            "    /// principal, encodes the response. The HTTP server and the CLI's embedded store both call this.\n"
            "    /// - Parameters:\n"
            "    ///   - operation: The operation (from `X-Amz-Target`).\n"
            "    ///   - body: The JSON request body.\n"
            "    ///   - principal: Who is calling (already authenticated).\n"
            "    ///   - requestID: The request's ID for the audit log.\n"
            "    /// - Returns: The JSON response body.\n"
            "    /// - Throws: ``KMSError`` as AWS would answer.\n"
            "    package func handle(\n"
            "        _ operation: KMSOperation, body: Data, by principal: Principal, requestID: String? = nil\n"
            "    ) async throws(KMSError) -> Data {\n"
            "        let engine = self\n"
            "        switch operation {\n")
        for op in OPERATIONS:
            case = self.op_case[op]
            respond = "respond" if self.response_of[op] else "respondEmpty"
            out.append(
                f"        case .{case}: return try await {respond}(body, KMS.{self.request_of[op]}.self) "
                f"{{ (request) async throws(KMSError) in try await engine.{case}(request, by: principal, requestID: requestID) }}\n")
        out.append(
            "        }\n"
            "    }\n"
            "\n"
            "    private func respond<Request: KMSRequest, Response: KMSResponse>(\n"
            "        _ body: Data, _ type: Request.Type, _ call: (Request) async throws(KMSError) -> Response\n"
            "    ) async throws(KMSError) -> Data {\n"
            "        let request = try KMSJSON.decodeRequest(Request.self, from: body)\n"
            "        return try KMSJSON.encodeResponse(try await call(request))\n"
            "    }\n"
            "\n"
            "    /// Operations with no output answer `{}`.\n"
            "    private func respondEmpty<Request: KMSRequest>(\n"
            "        _ body: Data, _ type: Request.Type, _ call: (Request) async throws(KMSError) -> Void\n"
            "    ) async throws(KMSError) -> Data {\n"
            "        let request = try KMSJSON.decodeRequest(Request.self, from: body)\n"
            "        try await call(request)\n"
            "        return Data(\"{}\".utf8)\n"
            "    }\n"
            "}\n")
        return "".join(out)

    def namespace(self):
        return (
            f"/// The request, response and data shapes of the AWS KMS JSON 1.1 API"
            f" ({self.m.model['metadata']['apiVersion']}), generated from botocore's model.\n"
            "///\n"
            "/// Structures are Codable with AWS's member names on the wire (`KeyId`, `CiphertextBlob`, …);\n"
            "/// encode and decode them with ``KMSJSON/encoder()`` and ``KMSJSON/decoder()``.\n"
            "/// String enums are open structs (see ``KMS/KeySpec``): a value the model does not list still\n"
            "/// decodes, so the service can answer it with a `ValidationException` from `validate()`.\n"
            "package enum KMS {}\n"
            "\n"
        )

    # -- operations --------------------------------------------------------------------------

    def operation_tables(self):
        out = ["// MARK: - Operations\n\n"]
        out.append(
            "/// An AWS KMS operation that envseal serves, named as in the `X-Amz-Target` header\n"
            "/// (`TrentService.<Name>`).\n"
            "///\n"
            "/// The cases, the request and response types, and the exceptions the model lists for each\n"
            "/// operation (``requestType``, ``responseType``, ``modeledErrors``) are generated from\n"
            "/// scripts/gen-kms-shapes.py's operation list.\n"
            "package enum KMSOperation: String, Sendable, CaseIterable {\n")
        for op in OPERATIONS:
            out.append(f"    /// `{op}`: {OPERATION_DOCS[op]}\n")
            out.append(f"    case {self.op_case[op]} = \"{op}\"\n")
        out.append("}\n\n")
        out.append("extension KMSOperation {\n")
        out.append("    /// The request structure the operation's JSON body decodes to.\n")
        out.append("    package var requestType: any KMSRequest.Type {\n        switch self {\n")
        for op in OPERATIONS:
            out.append(f"        case .{self.op_case[op]}: return KMS.{self.request_of[op]}.self\n")
        out.append("        }\n    }\n\n")
        out.append("    /// The response structure; ``KMSEmptyResponse`` for operations the model gives no output.\n")
        out.append("    package var responseType: any KMSResponse.Type {\n        switch self {\n")
        for op in OPERATIONS:
            resp = self.response_of[op]
            target = f"KMS.{resp}.self" if resp else "KMSEmptyResponse.self"
            out.append(f"        case .{self.op_case[op]}: return {target}\n")
        out.append("        }\n    }\n\n")
        out.append("    /// The exceptions the model lists for the operation (besides the common AWS errors).\n")
        out.append("    package var modeledErrors: [KMSErrorType] {\n        switch self {\n")
        for op in OPERATIONS:
            errors = [e["shape"] for e in self.m.operations[op].get("errors", [])]
            for e in errors:
                if e not in self.m.exceptions:
                    raise GenError(f"{op} lists unknown error {e}")
            items = ", ".join(f".{error_member_name(e)}" for e in errors)
            out.append(f"        case .{self.op_case[op]}: return [{items}]\n")
        out.append("        }\n    }\n}\n\n")
        for op in OPERATIONS:
            req = self.request_of[op]
            resp = self.response_of[op]
            out.append(f"extension KMS.{req}: KMSRequest {{\n")
            out.append(f"    /// The response type of ``KMSOperation/{self.op_case[op]}``.\n")
            out.append(f"    package typealias Response = {'KMS.' + resp if resp else 'KMSEmptyResponse'}\n")
            out.append("    /// The operation this request belongs to.\n")
            out.append(f"    package static var operation: KMSOperation {{ .{self.op_case[op]} }}\n")
            out.append("}\n\n")
        seen = set()
        for op in OPERATIONS:
            resp = self.response_of[op]
            if resp and resp not in seen:
                seen.add(resp)
                out.append(f"extension KMS.{resp}: KMSResponse {{}}\n")
        out.append("\n")
        return "".join(out)

    # -- structures --------------------------------------------------------------------------

    def type_doc(self, name):
        shape = self.m.shapes[name]
        for op in OPERATIONS:
            if self.request_of[op] == name:
                summary = first_sentence(self.m.operations[op].get("documentation", ""))
                return f"Input of `{op}`: {summary}" if summary else f"Input of `{op}`."
        ops = [op for op in OPERATIONS if self.response_of[op] == name]
        if ops:
            return "Output of " + " and ".join(f"`{op}`" for op in ops) + "."
        summary = first_sentence(shape.get("documentation", ""))
        return summary or f"The `{name}` structure of the KMS model."

    def structure(self, name):
        shape = self.m.shapes[name]
        members = shape.get("members", {})
        required = set(shape.get("required", []))
        for r in required:
            if r not in members:
                raise GenError(f"{name} requires unknown member {r}")
        fields = []
        for member_name, member in members.items():
            swift_type = self.m.swift_type(member["shape"])
            fields.append({
                "wire": member_name,
                "swift": lower_camel(member_name),
                "type": swift_type,
                "required": member_name in required,
                "shape": member["shape"],
                "doc": self.member_doc(member, SERVICE_NOTES.get((name, member_name))),
            })
        out = ["// MARK: - " + name + "\n\nextension KMS {\n"]
        out.append(doc_line(self.type_doc(name), "    "))
        out.append(f"    package struct {name}: Codable, Sendable, Equatable {{\n")
        for f in fields:
            out.append(doc_line(f["doc"], "        "))
            opt = "" if f["required"] else "?"
            out.append(f"        package var {f['swift']}: {f['type']}{opt}\n")
        if fields:
            out.append("\n")
        out.append("        /// Creates the value; members the model does not require default to `nil`.\n")
        params = []
        for f in fields:
            if f["required"]:
                params.append(f"{f['swift']}: {f['type']}")
            else:
                params.append(f"{f['swift']}: {f['type']}? = nil")
        if params:
            out.append("        package init(\n")
            out.append(",\n".join("            " + p for p in params))
            out.append("\n        ) {\n")
            for f in fields:
                out.append(f"            self.{f['swift']} = {f['swift']}\n")
            out.append("        }\n")
        else:
            out.append("        package init() {}\n")
        if fields:
            out.append("\n        enum CodingKeys: String, CodingKey {\n")
            for f in fields:
                out.append(f"            case {f['swift']} = {swift_string(f['wire'])}\n")
            out.append("        }\n")
        out.append(self.coding(name, fields))
        if name in self.request_of.values() or name in self.response_of.values():
            out.append(self.fast_decoder(name, fields))
        if name in self.response_of.values():
            out.append(self.fast_encoder(name, fields))
        out.append("    }\n}\n\n")
        if name in self.m.input_shapes:
            out.append(self.validator(name, fields))
        return "".join(out)

    # -- fast JSON -----------------------------------------------------------------------------

    def fast_kind(self, f):
        """How the fast JSON coders read and write a member, or None when they leave the whole
        body to Foundation's coders (structures, lists of structures, timestamps, other maps)."""
        shape = self.m.shapes[f["shape"]]
        kind = shape["type"]
        if kind == "string":
            return "enum" if "enum" in shape else "string"
        if kind == "blob":
            return "blob"
        if kind in ("integer", "long"):
            return "int"
        if kind == "boolean":
            return "bool"
        if kind == "list":
            element = self.m.shapes[shape["member"]["shape"]]
            if element["type"] == "string":
                return "enums" if "enum" in element else "strings"
            return None
        if kind == "map" and f["type"] == "[String: String]":
            return "map"
        return None

    def fast_decoder(self, name, fields):
        """`fastDecoded(from:)`: the request or response read by KMSJSONReader, or nil to leave the body to
        JSONDecoder. A member the reader does not handle is simply not matched, so a body that
        holds it goes to JSONDecoder like an unknown member does."""
        reads = {
            "string": "reader.readString()", "enum": "reader.readString()",
            "blob": "reader.readData()", "int": "reader.readInt()", "bool": "reader.readBool()",
            "strings": "reader.readStringArray()", "enums": "reader.readStringArray()",
            "map": "reader.readStringMap()",
        }
        out = ["\n"]
        out.append("        /// The value read from `reader` if the body stays inside ``KMSJSONReader``'s subset, else\n")
        out.append("        /// `nil`, and JSONDecoder reads it; never a value JSONDecoder would not decode the same way.\n")
        out.append("        package static func fastDecoded(from reader: inout KMSJSONReader) -> Self? {\n")
        out.append("            guard reader.beginObject() else { return nil }\n")
        for i, f in enumerate(fields):
            if self.fast_kind(f) is None:
                out.append(f"            let v{i}: {f['type']}? = nil\n")
            else:
                out.append(f"            var v{i}: {f['type']}?\n")
        readable = any(self.fast_kind(f) is not None for f in fields)
        out.append("            var first = true\n")
        out.append("            while true {\n")
        out.append("                guard let more = reader.nextElement(&first, closing: UInt8(ascii: \"}\")) else { return nil }\n")
        out.append("                if !more { break }\n")
        if readable:
            out.append("                guard let key = reader.readKey() else { return nil }\n")
        branch = "if"
        for i, f in enumerate(fields):
            kind = self.fast_kind(f)
            if kind is None:
                continue
            if not re.match(r"^[A-Za-z0-9_]+$", f["wire"]):
                raise GenError(f"member name {f['wire']} needs escaping in JSON")
            out.append(f"                {branch} reader.key(key, is: {swift_string(f['wire'])}) {{\n")
            out.append(f"                    guard v{i} == nil, let value = {reads[kind]} else {{ return nil }}\n")
            if kind == "enum":
                value = f"{f['type']}(rawValue: value)"
            elif kind == "enums":
                value = f"value.map({f['type'][1:-1]}.init(rawValue:))"
            else:
                value = "value"
            out.append(f"                    v{i} = {value}\n")
            branch = "} else if"
        if branch == "if":
            out.append("                return nil\n")
        else:
            out.append("                } else {\n                    return nil\n                }\n")
        out.append("            }\n")
        required = [(i, f) for i, f in enumerate(fields) if f["required"]]
        if required:
            names = ", ".join(f"let v{i}" for i, _ in required)
            out.append(f"            guard {names} else {{ return nil }}\n")
        if fields:
            args = ", ".join(f"{f['swift']}: v{i}" for i, f in enumerate(fields))
            out.append(f"            return Self({args})\n")
        else:
            out.append("            return Self()\n")
        out.append("        }\n")
        return "".join(out)

    def fast_encoder(self, name, fields):
        """`fastEncoded()`: the response written by KMSJSONWriter, byte for byte what
        KMSJSON.encoder() writes, or nil (always, for a shape it cannot write) to use the encoder."""
        out = ["\n"]
        out.append("        /// The response as ``KMSJSON/encoder()`` writes it, without the encoder; `nil` when this\n")
        out.append("        /// shape has members the writer does not handle.\n")
        out.append("        package func fastEncoded() -> Data? {\n")
        wires = [f["wire"] for f in fields]
        by_bytes = sorted(wires, key=lambda w: w.encode("utf-8"))
        by_case = sorted(wires, key=lambda w: (w.lower(), w))
        writable = (all(self.fast_kind(f) not in (None, "map") for f in fields)
                    and all(re.match(r"^[A-Za-z]+$", w) for w in wires)
                    and by_bytes == by_case and len({w.lower() for w in wires}) == len(wires))
        if not writable:
            out.append("            nil\n        }\n")
            return "".join(out)
        out.append("            var writer = KMSJSONWriter()\n")
        for wire in by_bytes:
            f = next(f for f in fields if f["wire"] == wire)
            kind = self.fast_kind(f)
            expr = {"enum": "value.rawValue", "enums": "value.map(\\.rawValue)"}.get(kind, "value")
            if f["required"]:
                out.append(f"            do {{ let value = self.{f['swift']}; writer.member({swift_string(wire)}, {expr}) }}\n")
            else:
                out.append(f"            if let value = self.{f['swift']} {{ writer.member({swift_string(wire)}, {expr}) }}\n")
        out.append("            return writer.finish()\n        }\n")
        return "".join(out)

    # -- coding ------------------------------------------------------------------------------

    def member_coding_kind(self, f):
        """How a member is coded: "enum" (its wire string), "map" (an optional object of
        strings, read through one nested container) or "plain" (as Codable synthesis would)."""
        shape = self.m.shapes[f["shape"]]
        if "enum" in shape:
            return "enum"
        if shape["type"] == "map" and f["type"] == "[String: String]" and not f["required"]:
            return "map"
        return "plain"

    def coding(self, name, fields):
        """`init(from:)` and `encode(to:)` for a structure with an enum or string-map member.

        What synthesis would write, except that an enum member is read and written as its wire
        string and an optional string map is read key by key from one nested container: the same
        JSON and the same errors (at the same coding paths), without Foundation's generic path for
        the enum's and the dictionary's own Codable (a nested coder each, dynamic casts). Other
        structures keep the synthesized conformance."""
        kinds = [self.member_coding_kind(f) for f in fields]
        if all(k == "plain" for k in kinds):
            return ""
        dec, enc = [], []
        for f, kind in zip(fields, kinds):
            prop = f["swift"]
            key = "." + prop
            if kind == "enum":
                if f["required"]:
                    dec.append(f"            self.{prop} = {f['type']}(rawValue: try container.decode(String.self, forKey: {key}))\n")
                    enc.append(f"            try container.encode(self.{prop}.rawValue, forKey: {key})\n")
                else:
                    dec.append(f"            self.{prop} = try container.decodeIfPresent(String.self, forKey: {key}).map({f['type']}.init(rawValue:))\n")
                    enc.append(f"            try container.encodeIfPresent(self.{prop}?.rawValue, forKey: {key})\n")
            elif kind == "map":
                dec.append(f"            self.{prop} = try container.decodeStringMapIfPresent(forKey: {key})\n")
                enc.append(f"            try container.encodeIfPresent(self.{prop}, forKey: {key})\n")
            elif f["required"]:
                dec.append(f"            self.{prop} = try container.decode({f['type']}.self, forKey: {key})\n")
                enc.append(f"            try container.encode(self.{prop}, forKey: {key})\n")
            else:
                dec.append(f"            self.{prop} = try container.decodeIfPresent({f['type']}.self, forKey: {key})\n")
                enc.append(f"            try container.encodeIfPresent(self.{prop}, forKey: {key})\n")
        out = ["\n        /// Decodes the value from its JSON object; enum members as their wire strings.\n"]
        out.append("        package init(from decoder: any Decoder) throws {\n")
        out.append("            let container = try decoder.container(keyedBy: CodingKeys.self)\n")
        out.extend(dec)
        out.append("        }\n\n")
        out.append("        /// Encodes the value as its JSON object, `nil` members omitted.\n")
        out.append("        package func encode(to encoder: any Encoder) throws {\n")
        out.append("            var container = encoder.container(keyedBy: CodingKeys.self)\n")
        out.extend(enc)
        out.append("        }\n")
        return "".join(out)

    def member_doc(self, member, note=None):
        text = first_sentence(member.get("documentation", ""))
        if note:
            text = f"{text} {note}".strip()
        if member.get("deprecated"):
            note = plain_text(member.get("deprecatedMessage", "")) or "Deprecated."
            text = f"Deprecated in the model: {note}"
        shape = self.m.shapes[member["shape"]]
        if not text:
            text = first_sentence(shape.get("documentation", "")) or "See the KMS API reference."
        return text

    # -- validation --------------------------------------------------------------------------

    def validator(self, name, fields):
        body = []
        for f in fields:
            if not self.m.needs_validation(f["shape"]):
                continue
            value = f["swift"].strip("`")
            field_expr = swift_string(path_name(f["wire"]))
            if f["required"]:
                body.extend(self.check_value(f["shape"], f"self.{value}", "path", field_expr, "        "))
            else:
                body.append(f"        if let {value} = self.{value} {{\n")
                body.extend(self.check_value(f["shape"], value, "path", field_expr, "            "))
                body.append("        }\n")
        out = [f"extension KMS.{name} {{\n"]
        out.append("    /// Checks the model's constraints (lengths, ranges, patterns, enum values) on this value\n")
        out.append("    /// and its nested members; throws one `ValidationException` listing every violation.\n")
        out.append("    package func validate() throws(KMSError) {\n")
        out.append("        var validation = KMSValidation()\n")
        out.append("        validate(into: &validation, path: \"\")\n")
        out.append("        try validation.finish()\n")
        out.append("    }\n\n")
        out.append("    func validate(into validation: inout KMSValidation, path: String) {\n")
        out.extend(body)
        out.append("    }\n}\n\n")
        return "".join(out)

    def pattern_name(self, shape_name, source):
        name = shape_name[0].lower() + shape_name[1:]
        self.patterns[name] = source
        return name

    def check_value(self, shape_name, expr, path_expr, field_expr, indent, depth=0):
        """Swift lines checking the (non-optional) value `expr` of shape `shape_name`."""
        shape = self.m.shapes[shape_name]
        kind = shape["type"]
        lines = []
        lo = shape.get("min")
        hi = shape.get("max")
        bounds = f"min: {'nil' if lo is None else lo}, max: {'nil' if hi is None else hi}"
        at = f"path: {path_expr}, field: {field_expr}"
        if kind == "string":
            echo = "false" if shape.get("sensitive") else "true"
            if lo is not None or hi is not None:
                lines.append(f"{indent}validation.length(of: {expr}, {bounds}, {at})\n")
            if "pattern" in shape:
                pat = self.pattern_name(shape_name, shape["pattern"])
                lines.append(f"{indent}validation.pattern(KMSPatterns.{pat}, {expr}, echo: {echo}, {at})\n")
            if "enum" in shape:
                lines.append(f"{indent}validation.enumValue({expr}.rawValue, known: KMS.{shape_name}.knownRawValues, "
                             f"echo: {echo}, {at})\n")
        elif kind == "blob":
            if lo is not None or hi is not None:
                lines.append(f"{indent}validation.length(of: {expr}, {bounds}, {at})\n")
        elif kind in ("integer", "long"):
            if lo is not None or hi is not None:
                lines.append(f"{indent}validation.range({expr}, {bounds}, {at})\n")
        elif kind == "list":
            if lo is not None or hi is not None:
                lines.append(f"{indent}validation.count({expr}.count, {bounds}, {at})\n")
            member = shape["member"]["shape"]
            if self.m.needs_validation(member):
                index = f"i{depth}"
                element = f"e{depth}"
                lines.append(f"{indent}for ({index}, {element}) in {expr}.enumerated() {{\n")
                element_field = f"KMSValidation.member(of: {field_expr}, index: {index})"
                lines.extend(self.check_value(member, element, path_expr, element_field, indent + "    ", depth + 1))
                lines.append(f"{indent}}}\n")
        elif kind == "map":
            if lo is not None or hi is not None:
                lines.append(f"{indent}validation.count({expr}.count, {bounds}, {at})\n")
            # needs_validation() already refused constrained keys and values.
        elif kind == "structure":
            if self.m.needs_validation(shape_name):
                lines.append(f"{indent}{expr}.validate(into: &validation, path: KMSValidation.join({path_expr}, {field_expr}))\n")
        elif kind in ("boolean", "timestamp"):
            pass
        else:
            raise GenError(f"cannot validate {shape_name} of type {kind}")
        if kind not in ("string",) and "pattern" in shape:
            raise GenError(f"pattern on non-string shape {shape_name}")
        return lines

    # -- enums -------------------------------------------------------------------------------

    def enum(self, name):
        shape = self.m.shapes[name]
        values = shape["enum"]
        names = [enum_case_name(v) for v in values]
        if len(set(names)) != len(names):
            raise GenError(f"enum {name} has colliding Swift names: {names}")
        doc = first_sentence(shape.get("documentation", "")) or f"The `{name}` values of the KMS model."
        out = ["// MARK: - " + name + "\n\nextension KMS {\n"]
        out.append(doc_line(doc, "    "))
        out.append("    ///\n")
        if shape.get("deprecated"):
            out.append(doc_line("Deprecated in the model: " + plain_text(shape.get("deprecatedMessage", "")), "    "))
            out.append("    ///\n")
        out.append("    /// An open set: a value the model does not list still decodes (``isKnown`` is `false`),\n")
        out.append("    /// so that `validate()` can reject it with AWS's `ValidationException`.\n")
        out.append(f"    package struct {name}: RawRepresentable, Codable, Sendable, Hashable, CustomStringConvertible {{\n")
        out.append("        /// The value on the wire.\n")
        out.append("        package let rawValue: String\n\n")
        out.append("        /// Wraps a wire value, known to the model or not.\n")
        out.append("        package init(rawValue: String) {\n            self.rawValue = rawValue\n        }\n\n")
        for value, case in zip(values, names):
            out.append(f"        /// `{value}`.\n")
            out.append(f"        package static let {case} = {name}(rawValue: {swift_string(value)})\n")
        out.append("\n        /// Every value the model lists, in model order.\n")
        items = ", ".join(f".{c}" for c in names)
        out.append(f"        package static let knownValues: [{name}] = [{items}]\n\n")
        out.append("        /// The wire strings of ``knownValues``.\n")
        raw = ", ".join(swift_string(v) for v in values)
        out.append(f"        static let knownRawValues: [String] = [{raw}]\n\n")
        out.append("        /// Whether the model lists this value.\n")
        out.append("        package var isKnown: Bool { Self.knownRawValues.contains(rawValue) }\n\n")
        out.append("        /// The wire value.\n")
        out.append("        package var description: String { rawValue }\n")
        out.append("    }\n}\n\n")
        return "".join(out)

    # -- errors ------------------------------------------------------------------------------

    def error_types(self):
        out = ["// MARK: - Modeled exceptions\n\n"]
        out.append("extension KMSErrorType {\n")
        names = set()
        for name in self.m.exceptions:
            shape = self.m.shapes[name]
            member = error_member_name(name)
            if member in names:
                raise GenError(f"error member name collision: {member}")
            names.add(member)
            doc = first_sentence(shape.get("documentation", "")) or f"`{name}`."
            out.append(doc_line(f"`{name}`: {doc}", "    "))
            out.append(f"    public static let {member} = KMSErrorType(rawValue: {swift_string(name)})\n")
        out.append("\n    /// Every exception shape in the KMS model, sorted by name.\n")
        items = ", ".join(f".{error_member_name(n)}" for n in self.m.exceptions)
        out.append(f"    public static let modeledExceptions: [KMSErrorType] = [{items}]\n\n")
        out.append("    /// HTTP status of each modeled exception: the model's `error.httpStatusCode` where it has one,\n")
        out.append("    /// else 500 for `fault` (server) shapes and 400 for the rest, with the overrides documented in\n")
        out.append("    /// scripts/gen-kms-shapes.py (STATUS_OVERRIDES).\n")
        out.append("    static let modeledHTTPStatus: [String: Int] = [\n")
        for name in self.m.exceptions:
            out.append(f"        {swift_string(name)}: {self.status(name)},\n")
        out.append("    ]\n}\n\n")
        return "".join(out)

    def status(self, name):
        shape = self.m.shapes[name]
        error = shape.get("error", {})
        if "httpStatusCode" in error:
            return int(error["httpStatusCode"])
        if name in STATUS_OVERRIDES:
            return STATUS_OVERRIDES[name]
        return 500 if shape.get("fault") else 400

    # -- patterns ----------------------------------------------------------------------------

    def pattern_table(self):
        out = ["// MARK: - Patterns\n\n"]
        out.append("/// The model's `pattern` constraints on input members, matched against the whole value.\n")
        out.append("enum KMSPatterns {\n")
        for member, source in sorted(self.patterns.items()):
            if '"#' in source:
                raise GenError(f"pattern cannot be a raw string literal: {source}")
            out.append(f"    static let {member} = KMSPattern(#\"{source}\"#)\n")
        out.append("\n    /// Every pattern above, for tests.\n")
        items = ", ".join(sorted(self.patterns))
        out.append(f"    static let all: [KMSPattern] = [{items}]\n")
        out.append("}\n")
        return "".join(out)


# ---------------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if the output file is stale")
    parser.add_argument("--output", default=OUTPUT, help="where to write the Swift file")
    args = parser.parse_args()

    model_path = os.path.join(os.path.dirname(botocore.__file__), *MODEL_RELPATH.split("/"))
    with gzip.open(model_path, "rt", encoding="utf-8") as f:
        model = json.load(f)
    try:
        emitter = Emitter(Model(model), botocore.__version__)
        files = {args.output: emitter.render(), DISPATCH_OUTPUT: emitter.dispatch()}
    except GenError as e:
        print(f"gen-kms-shapes: {e}", file=sys.stderr)
        return 2

    if args.check:
        stale = 0
        for path, text in files.items():
            try:
                with open(path, encoding="utf-8") as f:
                    current = f.read()
            except FileNotFoundError:
                current = None
            if current != text:
                print(f"gen-kms-shapes: {os.path.relpath(path, REPO_ROOT)} is stale; "
                      "run python3 scripts/gen-kms-shapes.py", file=sys.stderr)
                stale = 1
        return stale
    for path, text in files.items():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
