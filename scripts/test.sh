#!/usr/bin/env bash
# Installs what the tests need (once; later runs find it installed) and runs every test of the project:
# formatting and vet, unit tests with the race detector, fuzz seed corpora, and the end-to-end suites that drive
# the real binary with the AWS SDK for Go, the aws CLI and boto3.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS=${GOFLAGS:--buildvcs=false}

log() { printf '\n== %s\n' "$*"; }

log "prerequisites"
need_apt=()
command -v go >/dev/null || { echo "Go 1.26 is required (https://go.dev/dl/)"; exit 1; }
python3 -c 'import boto3, botocore' 2>/dev/null || need_apt+=(python3 python3-boto3 python3-botocore)
command -v aws >/dev/null || need_apt+=(awscli)
command -v ffmpeg >/dev/null || need_apt+=(ffmpeg) # the encoder of the ingest tests
[ -x /usr/bin/chromium ] || need_apt+=(chromium) # the browser of the player tests
if ((${#need_apt[@]})); then
  echo "installing: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
  # Debian's python3 has the packages just installed; put it first if the default python3 lacks them.
  python3 -c 'import boto3' 2>/dev/null || export PATH="/usr/bin:$PATH"
fi
python3 -c 'import boto3, botocore; print("python3", boto3.__version__, "botocore", botocore.__version__)'
aws --version
ffmpeg -hide_banner -version | head -1
# The player harness's npm packages (hls.js, amazon-ivs-player, playwright-core), when missing or older than the lock.
if [ ! -d test/player/node_modules ] || [ test/player/package-lock.json -nt test/player/node_modules ]; then
  (cd test/player && npm ci --no-audit --no-fund) && touch test/player/node_modules
fi
# The real S3 server of the recording tests (versitygw, built once into the git-ignored .bin).
if [ ! -x .bin/versitygw ]; then
  echo "installing versitygw into .bin (once; about 2 minutes)"
  GOBIN="$PWD/.bin" go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
fi
.bin/versitygw --version 2>/dev/null | head -1 || true
/usr/bin/chromium --version
node --version
go version

log "gofmt and go vet"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change:"; echo "$unformatted"; exit 1; fi
go vet ./...

log "unit tests (race detector) and fuzz seed corpora, the bench tools' tests too"
go test -race -count=1 ./internal/... ./cmd/... ./bench/...

log "end-to-end tests (real binary, AWS SDK, aws CLI, boto3)"
go test -count=1 -timeout 20m ./test/...

log "all tests passed"
