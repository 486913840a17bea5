#!/usr/bin/env python3
"""Sign test requests with botocore and print them as JSON.

Used by botocore_test.go: the Go test replays every request through
sigv4.Verifier. Usage: botocore_sign.py TIMESTAMP ENDPOINT
  TIMESTAMP  signing time, yyyymmddThhmmssZ (botocore's clock is pinned to it)
  ENDPOINT   scheme://host:port the requests are addressed to

Output: a JSON list of {name, method, url, headers: [[name, value], ...],
body (string), presigned, access_key, secret_key, unsigned_header}.
botocore never signs User-Agent by default; the signers here do, the way
other SDKs sign it, so the verifier is tested on a header the Go SDK skips.
"""
import datetime
import json
import sys

import botocore.auth
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

TIMESTAMP, ENDPOINT = sys.argv[1], sys.argv[2].rstrip("/")
FIXED_NOW = datetime.datetime.strptime(TIMESTAMP, "%Y%m%dT%H%M%SZ")
botocore.auth.get_current_datetime = lambda *a, **k: FIXED_NOW

ACCESS_KEY = "AKIDBOTOCORE"
SECRET_KEY = "botocore/Secret+Key/EXAMPLEKEY0123456789"
SESSION_TOKEN = "FQoGZXIvYXdzEXAMPLE//session+token=="
REGION = "us-west-2"
SERVICE = "ivs"
USER_AGENT = "Boto3/1.35.0 md/Botocore#1.43.11 ua/2.0 os/linux#6.1  lang/python#3.11.7 cfg/retry-mode#legacy Botocore/1.43.11"
ARN_PATH = "/tags/arn%3Aaws%3Aivs%3Aus-west-2%3A123456789012%3Achannel%2FabcdABCD1234"


class UserAgentSigning:
    """Mixin: sign User-Agent too (botocore's blacklist skips it)."""

    def headers_to_sign(self, request):
        header_map = super().headers_to_sign(request)
        ua = request.headers.get("User-Agent")
        if ua is not None and "user-agent" not in header_map:
            header_map["user-agent"] = ua
        return header_map


class UASigV4Auth(UserAgentSigning, SigV4Auth):
    pass


class UASigV4QueryAuth(UserAgentSigning, SigV4QueryAuth):
    pass


def creds(token=False):
    return Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN if token else None)


def emit(out, name, request, presigned=False):
    prepared = request.prepare()
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    out.append(
        {
            "name": name,
            "method": prepared.method,
            "url": prepared.url,
            "headers": [[k, v] for k, v in prepared.headers.items()],
            "body": body.decode("utf-8"),
            "presigned": presigned,
            "access_key": ACCESS_KEY,
            "secret_key": SECRET_KEY,
        }
    )


def main():
    out = []
    json_headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        # Leading, trailing and repeated inner spaces: canonicalized to "a b c".
        "X-Openivs-Spaces": "  a   b c  ",
    }
    body = json.dumps({"name": "botocore-channel", "latencyMode": "LOW", "type": "STANDARD", "tags": {"k": "v w"}})

    for token in (False, True):
        suffix = "+token" if token else ""
        req = AWSRequest(method="POST", url=ENDPOINT + "/CreateChannel", headers=dict(json_headers), data=body)
        UASigV4Auth(creds(token), SERVICE, REGION).add_auth(req)
        emit(out, "POST CreateChannel" + suffix, req)

        for method in ("GET", "DELETE"):
            url = ENDPOINT + ARN_PATH + "?tagKeys=a&tagKeys=b%20c"
            req = AWSRequest(method=method, url=url, headers={"User-Agent": USER_AGENT})
            UASigV4Auth(creds(token), SERVICE, REGION).add_auth(req)
            emit(out, method + " tags" + suffix, req)

    # Reserved and non-ASCII characters in the query, encoded the way
    # botocore's serializers encode them (unreserved characters left alone).
    url = ENDPOINT + "/ListChannels?nextToken=abc%2Bdef%2F%3D%3D&filterByName=caf%C3%A9~x.y_z-1&maxResults=10"
    req = AWSRequest(method="GET", url=url, headers={"User-Agent": USER_AGENT})
    UASigV4Auth(creds(), SERVICE, REGION).add_auth(req)
    emit(out, "GET reserved query", req)

    # With a Date header botocore signs Date instead of adding X-Amz-Date.
    req = AWSRequest(method="POST", url=ENDPOINT + "/GetChannel",
                     headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, "Date": "x"},
                     data='{"arn":"arn:aws:ivs:us-west-2:123456789012:channel/abcdABCD1234"}')
    UASigV4Auth(creds(), SERVICE, REGION).add_auth(req)
    emit(out, "POST Date header", req)

    # Payload signing disabled: X-Amz-Content-SHA256: UNSIGNED-PAYLOAD.
    req = AWSRequest(method="POST", url=ENDPOINT + "/CreateChannel", headers=dict(json_headers), data=body)
    req.context["payload_signing_enabled"] = False
    UASigV4Auth(creds(), SERVICE, REGION).add_auth(req)
    emit(out, "POST unsigned payload", req)

    # Presigned URLs (the signature travels in the query string).
    for token in (False, True):
        suffix = "+token" if token else ""
        req = AWSRequest(method="GET", url=ENDPOINT + ARN_PATH + "?tagKeys=b%20c", headers={"User-Agent": USER_AGENT})
        UASigV4QueryAuth(creds(token), SERVICE, REGION, expires=300).add_auth(req)
        emit(out, "presigned GET tags" + suffix, req, presigned=True)

    req = AWSRequest(method="GET", url=ENDPOINT + "/ListChannels")
    SigV4QueryAuth(creds(), SERVICE, REGION, expires=3600).add_auth(req)
    emit(out, "presigned GET host only", req, presigned=True)

    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
