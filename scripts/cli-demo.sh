#!/usr/bin/env bash
# Shows the aws CLI and boto3 working against an OpenIVS server, as a user would run them, and fails on any
# surprise. Usage: scripts/cli-demo.sh [endpoint]   (default http://127.0.0.1:8080; the server must be running)
set -euo pipefail
E=${1:-${OPENIVS_ENDPOINT:-http://127.0.0.1:8080}}
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-AKIDEXAMPLE} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-secret}
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-west-2} AWS_PAGER=""
ivs() { aws ivs --endpoint-url "$E" --output json "$@"; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d' + sys.argv[1]))" "$1"; }

echo "== aws CLI"
created=$(ivs create-channel --name cli-demo --latency-mode LOW --type BASIC --tags team=video)
arn=$(echo "$created" | field "['channel']['arn']")
key=$(echo "$created" | field "['streamKey']['value']")
echo "created $arn (stream key ${key:0:20}...)"
[[ $key == sk_${AWS_DEFAULT_REGION}_* ]] || { echo "unexpected stream key format"; exit 1; }
[[ $(ivs get-channel --arn "$arn" | field "['channel']['type']") == BASIC ]] || { echo "get-channel: wrong type"; exit 1; }
ivs list-channels --filter-by-name cli-demo | field "['channels'][0]['arn']" | grep -qx "$arn"
ivs tag-resource --resource-arn "$arn" --tags stage=demo
[[ $(ivs list-tags-for-resource --resource-arn "$arn" | field "['tags']['stage']") == demo ]]
ivs untag-resource --resource-arn "$arn" --tag-keys stage
[[ $(ivs list-tags-for-resource --resource-arn "$arn" | field "['tags'].get('stage','gone')") == gone ]]
if out=$(ivs get-stream --channel-arn "$arn" 2>&1); then echo "get-stream on an offline channel succeeded"; exit 1; fi
grep -q ChannelNotBroadcasting <<<"$out"
ivs delete-channel --arn "$arn"
if ivs get-channel --arn "$arn" >/dev/null 2>&1; then echo "channel still there after delete"; exit 1; fi
echo "aws CLI: create, get, list, tag, untag, get-stream (offline), delete: ok"

echo "== boto3"
python3 - "$E" <<'PY'
import sys, boto3, botocore
c = boto3.client("ivs", endpoint_url=sys.argv[1])
ch = c.create_channel(name="boto3-demo", authorized=True)["channel"]
assert ch["authorized"] is True and ch["playbackUrl"].endswith(".m3u8"), ch
pages = list(c.get_paginator("list_channels").paginate(PaginationConfig={"PageSize": 1}))
assert any(s["arn"] == ch["arn"] for p in pages for s in p["channels"])
try:
    c.create_stream_key(channelArn=ch["arn"])
    raise SystemExit("second stream key accepted")
except c.exceptions.ServiceQuotaExceededException as e:
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 402
try:
    c.create_channel(name="not a valid name")
    raise SystemExit("invalid name accepted")
except c.exceptions.ValidationException as e:
    assert "name" in str(e), e
c.delete_channel(arn=ch["arn"])
print("boto3: create, paginate, quota error, validation error, delete: ok")
PY
