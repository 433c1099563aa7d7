"""The AWS Lambda console's encryption-helper way of opening secrets, for bench/run.py to time.

    console_helper.py NAME...

Decrypts each named variable of the environment with its own KMS Decrypt call and the context
{"LambdaFunctionName": AWS_LAMBDA_FUNCTION_NAME}, as the console's generated Python snippet does
at module level (boto3 reads the endpoint, region and credentials from the standard AWS
variables). The snippet builds a client per variable; this builds one and reuses it, which only
makes this way faster. With BENCH_PRINT=NAME it prints that variable's plaintext, so the harness
can check that the values really open.
"""
import os
import sys
from base64 import b64decode

import boto3

kms = boto3.client("kms")
function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
DECRYPTED = {}
for name in sys.argv[1:]:
    DECRYPTED[name] = kms.decrypt(
        CiphertextBlob=b64decode(os.environ[name]),
        EncryptionContext={"LambdaFunctionName": function_name},
    )["Plaintext"].decode("utf-8")

if os.environ.get("BENCH_PRINT"):
    print(DECRYPTED[os.environ["BENCH_PRINT"]])
