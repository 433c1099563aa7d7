// Fuzzes the key-policy parser. Any text parses or throws a PolicyError; a policy that parses
// parses again to an equal policy, and evaluating it against a few fixed requests never traps.
import FuzzSupport
import KeyService

@_cdecl("FuzzKeyPolicy_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runLibFuzzer(argc, argv, testOneInput)
}

let requests: [AuthorizationRequest] = [
    AuthorizationRequest(
        principalARN: "arn:aws:iam::111122223333:user/billing-fn", principalAccount: "111122223333",
        action: "kms:Decrypt", resourceARN: "arn:aws:kms:us-east-1:111122223333:key/5b7c2a90-3e1f-4d6a-8b2c-9f0e1d2c3b4a",
        encryptionContext: ["LambdaFunctionName": "billing", "envseal:file": "app.env"],
        extraConditionKeys: ["kms:ViaService": ["lambda.us-east-1.amazonaws.com"]]),
    AuthorizationRequest(
        principalARN: "arn:aws:iam::111122223333:user/admin", principalAccount: "111122223333",
        action: "kms:PutKeyPolicy", resourceARN: "arn:aws:kms:us-east-1:111122223333:key/5b7c2a90-3e1f-4d6a-8b2c-9f0e1d2c3b4a"),
    AuthorizationRequest(
        principalARN: "arn:aws:sts::444455556666:assumed-role/r/s", principalAccount: "444455556666",
        action: "kms:GenerateDataKey", resourceARN: "arn:aws:kms:eu-west-1:111122223333:key/x",
        encryptionContext: [:], extraConditionKeys: ["kms:GrantOperations": ["Decrypt", "Encrypt"]]),
    AuthorizationRequest(
        principalARN: "service:lambda.amazonaws.com", principalAccount: "111122223333",
        action: "kms:Encrypt", resourceARN: "*", encryptionContext: ["a*": "?", "": "${aws:username}"]),
    // Values for the numeric, date and IP address operators, well-formed and not.
    AuthorizationRequest(
        principalARN: "arn:aws:iam::111122223333:user/billing-fn", principalAccount: "111122223333",
        action: "kms:ScheduleKeyDeletion", resourceARN: "arn:aws:kms:us-east-1:111122223333:key/5b7c2a90-3e1f-4d6a-8b2c-9f0e1d2c3b4a",
        extraConditionKeys: [
            "aws:SourceIp": ["::ffff:10.0.0.1"], "aws:CurrentTime": ["2026-12-07T18:30:00Z"], "aws:EpochTime": ["not a time"],
            "kms:ScheduleKeyDeletionPendingWindowInDays": ["7", "1e999"],
        ]),
]

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let json = String(decoding: inputBytes(data, size), as: UTF8.self)
    guard let policy = try? KeyPolicy(json: json) else { return 0 }
    check(!policy.statements.isEmpty, "a policy with no statement parsed")
    check((try? KeyPolicy(json: policy.json)) == policy, "a policy parses differently the second time")
    for request in requests {
        _ = policy.evaluate(request)
    }
    return 0
}
