#!/usr/bin/env python3
"""Writes a wrk Lua script that replays one SigV4-signed KMS request.

The request is signed by botocore itself, so the load generator measures exactly what an AWS
SDK sends; the signature stays valid for the server's ±5-minute window, longer than any run.

    presign.py ENDPOINT CREDENTIALS_FILE OPERATION JSON_BODY OUT.lua
"""
import configparser
import sys
from urllib.parse import urlparse

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def main():
    endpoint, credentials_file, operation, body, out = sys.argv[1:6]
    profile = configparser.ConfigParser()
    profile.read(credentials_file)
    section = profile["default"]
    credentials = Credentials(section["aws_access_key_id"], section["aws_secret_access_key"])
    region = section.get("region", "us-east-1")
    request = AWSRequest(method="POST", url=endpoint + "/", data=body.encode(), headers={
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": f"TrentService.{operation}",
        "Host": urlparse(endpoint).netloc,
    })
    SigV4Auth(credentials, "kms", region).add_auth(request)
    headers = "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in request.headers.items())
    escaped = body.replace("\\", "\\\\").replace('"', '\\"')
    with open(out, "w") as f:
        f.write(f'wrk.method = "POST"\nwrk.body = "{escaped}"\n{headers}')


if __name__ == "__main__":
    main()
