#!/usr/bin/env python3
"""Fails when a module other than EnvSeal declares something `public` that is not API.

What a function author sees is EnvSeal's own API and the few declarations of the modules below it
that Sources/EnvSeal/PublicAPI.swift re-exports on purpose. Everything else of those modules is
`package`: the executables, benches and tests are in this package and reach it all the same. This
scans the Swift sources of every target but EnvSeal and reports:
  * a `public` declaration (or member) outside the top-level declarations listed in ALLOWED, or
    outside an extension of one of them in the module that declares it;
  * a `public import` in a file that declares nothing public (with InternalImportsByDefault, a
    leak of a dependency shows as one).
Comments and string literals are skipped.

`--self-test` first runs the check on doctored sources (a public struct, a public member of an
internal type, a `public extension`, a needless `public import`; and, which must pass, `public`
in comments and strings and the members of an allowed type) and fails unless each is judged right,
so the check cannot rot into one that always passes.
"""
import os
import re
import sys

# The library; its API is public by design.
LIBRARY = "EnvSeal"
# Module -> the top-level declarations that stay public: those EnvSeal re-exports, and what their
# API needs (SymmetricKey: DataKey's protocol; FormatError, DotenvError: what EncryptionContext and
# DotenvFile throw). Their members, and those of their extensions in the same module, stay public.
ALLOWED = {
    "SodiumKit": {"SecureBytes", "SodiumError", "DataKey", "SymmetricKey"},
    "EnvSealFormat": {"EncryptionContext", "DotenvFile", "DotenvError", "FormatError"},
    "KMSWire": {"KMSError", "KMSErrorType"},
    "KMSClient": {"KMSTransportError"},
    "SealedDotenv": {"DataKeyProvider", "GeneratedDataKey", "UnwrappedDataKey"},
}
# Library-style targets outside Sources/.
EXTRA_MODULE_DIRS = ["Tests/TestSupport", "Fuzz/FuzzSupport"]

DECL_KEYWORDS = {"struct", "class", "enum", "protocol", "extension", "actor", "typealias", "func",
                 "var", "let", "init", "subscript", "macro", "associatedtype", "operator",
                 "precedencegroup", "import"}
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|`[^`]*`")
RAW_QUOTE = re.compile(r'#+"')


def tokens(text):
    """(kind, word, offset) for the code of a Swift file: identifiers, `{` and `}`; comments and
    string literals (with their interpolations) are skipped."""
    n, i, out = len(text), 0, []

    def skip_string(i):
        hashes = 0
        while text[i] == "#":
            hashes, i = hashes + 1, i + 1
        multi = text.startswith('"""', i)
        i += 3 if multi else 1
        close, escape = ('"""' if multi else '"') + "#" * hashes, "\\" + "#" * hashes
        while i < n:
            if text.startswith(escape, i):
                j = i + len(escape)
                i = skip_interpolation(j + 1) if j < n and text[j] == "(" else j + 1
            elif text.startswith(close, i):
                return i + len(close)
            elif not multi and text[i] == "\n":
                return i
            else:
                i += 1
        return i

    def skip_interpolation(i):
        depth = 1
        while i < n and depth:
            if text[i] == '"' or RAW_QUOTE.match(text, i):
                i = skip_string(i)
                continue
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        return i

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        elif c == '"' or RAW_QUOTE.match(text, i):
            i = skip_string(i)
        elif c in "{}":
            out.append((c, c, i))
            i += 1
        else:
            m = IDENT.match(text, i)
            if m:
                code_ident = i == 0 or not (text[i - 1].isalnum() or text[i - 1] in "_$#@.")
                out.append(("ident" if code_ident else "other", m.group(0).strip("`"), i))
                i = m.end()
            else:
                i += 1
    return out


def public_declarations(text):
    """(line, owner, keyword) for each `public` in code: `owner` is the name of the top-level
    declaration it belongs to (for an extension, the extended type's first name component)."""
    words = tokens(text)
    found, depth, context, pending = [], 0, None, None

    def declaration_after(idx):
        for j in range(idx + 1, len(words)):
            kind, word, _ = words[j]
            if kind != "ident":
                return None, None
            if word in DECL_KEYWORDS:
                k = j + 1
                while k < len(words) and words[k][0] == "ident" and words[k][1] in DECL_KEYWORDS | {"final"}:
                    k += 1
                return word, words[k][1] if k < len(words) and words[k][0] == "ident" else None
        return None, None

    for idx, (kind, word, offset) in enumerate(words):
        if kind == "{":
            if depth == 0:
                context = pending
            depth += 1
        elif kind == "}":
            depth = max(0, depth - 1)
            if depth == 0:
                context = pending = None
        elif kind == "ident" and depth == 0 and word in DECL_KEYWORDS:
            if idx + 1 < len(words) and words[idx + 1][0] == "ident":
                pending = words[idx + 1][1]
        if kind == "ident" and word == "public":
            keyword, name = declaration_after(idx)
            found.append((text.count("\n", 0, offset) + 1, context if depth else name, keyword))
    return found


def check_file(module, relpath, text):
    """Problems of one file of `module`."""
    if module == LIBRARY:
        return []
    allowed = ALLOWED.get(module, set())
    publics = public_declarations(text)
    problems = []
    declares_public = any(keyword != "import" and owner in allowed for _, owner, keyword in publics)
    for line, owner, keyword in publics:
        if keyword == "import":
            if not declares_public:
                problems.append(f"{relpath}:{line}: `public import` in a file of {module} that declares "
                                "nothing public: make it `package import` or `import`")
        elif owner not in allowed:
            problems.append(f"{relpath}:{line}: `public` in {owner or 'a declaration'} of {module}, which "
                            "EnvSeal does not re-export: make it `package` (or re-export it in "
                            "Sources/EnvSeal/PublicAPI.swift and add it to ALLOWED in this script)")
    return problems


def module_dirs(root):
    sources = os.path.join(root, "Sources")
    found = [(name, os.path.join(sources, name)) for name in sorted(os.listdir(sources))
             if os.path.isdir(os.path.join(sources, name))]
    found += [(os.path.basename(rel), os.path.join(root, rel)) for rel in EXTRA_MODULE_DIRS
              if os.path.isdir(os.path.join(root, rel))]
    return found


def check_tree(root):
    problems, count = [], 0
    for module, folder in module_dirs(root):
        for dirpath, _, files in os.walk(folder):
            for name in sorted(files):
                if name.endswith(".swift"):
                    path = os.path.join(dirpath, name)
                    with open(path, encoding="utf-8") as f:
                        text = f.read()
                    if module != LIBRARY:
                        count += sum(1 for _, _, k in public_declarations(text) if k != "import")
                    problems += check_file(module, os.path.relpath(path, root), text)
    return problems, count


def self_test():
    cases = [
        # (label, module, source, should be flagged)
        ("a public struct", "KMSWire", "public struct Leak {}\n", True),
        ("a public member of an internal type", "KeyService",
         "package struct Engine {\n    public func run() {}\n}\n", True),
        ("a public extension", "SodiumKit", "public extension Array where Element == UInt8 {}\n", True),
        ("a public member of an extension of an internal type", "EnvSealFormat",
         "extension SealedValue {\n    public var size: Int { 0 }\n}\n", True),
        ("a public import in a file with nothing public", "KeyServer",
         "public import Foundation\npackage func now() -> Date { Date() }\n", True),
        ("an allowed type declared elsewhere", "KeyService", "public struct KMSError {}\n", True),
        ("public in comments and strings", "KMSWire",
         '// public struct A {}\n/* public /* nested */ func b() */\nlet s = "public \\("x") func"\n'
         'let m = """\n    public var c = 1\n    """\nlet r = #"public "struct" D"#\n', False),
        ("the members of an allowed type and of its extension", "SodiumKit",
         "public import Foundation\npublic final class SecureBytes {\n    public let count: Int\n"
         "    var text: String { \"{\" }\n    public init() { count = 0 }\n}\n"
         "extension SecureBytes: Equatable {\n    public static func == (a: SecureBytes, b: SecureBytes) -> Bool { true }\n}\n",
         False),
        ("a library declaration", LIBRARY, "public struct SealedEnvironment {}\n", False),
    ]
    ok = True
    for label, module, source, flagged in cases:
        problems = check_file(module, "Sources/Test.swift", source)
        if bool(problems) == flagged:
            print(f"self-test: {'caught' if flagged else 'accepted'} {label}")
        else:
            print(f"self-test: WRONG on {label}: {problems or 'nothing reported'}")
            ok = False
    return ok


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if "--self-test" in sys.argv and not self_test():
        print("check-public-api: the self-test failed: the check would judge a declaration wrongly")
        return 1
    problems, count = check_tree(root)
    for problem in problems:
        print(f"check-public-api: error: {problem}")
    if problems:
        return 1
    print(f"check-public-api: {count} public declarations outside EnvSeal, all re-exported API")
    return 0


if __name__ == "__main__":
    sys.exit(main())
