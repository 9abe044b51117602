#!/usr/bin/env bash
# Installs (if needed) and starts the services the test suites use, on loopback only:
# PostgreSQL and Redis from Debian's packages, FerretDB 1.x (MongoDB protocol, SQLite backend),
# gofakes3 (an S3-compatible server speaking the S3 REST API over HTTP, in-memory buckets).
# Prints the environment to export:  eval "$(bash scripts/test-services.sh)"
set -euo pipefail
log() { echo "[services] $*" >&2; }

PG_PORT=${PG_PORT:-5432}
REDIS_PORT=${REDIS_PORT:-6379}
MONGO_PORT=${MONGO_PORT:-27017}
S3_PORT=${S3_PORT:-9310}
STATE_DIR=${SERVICES_STATE_DIR:-/tmp/chatbot-test-services}
FERRETDB_VERSION=v1.24.2
GOFAKES3_VERSION=v1.2.0
mkdir -p "$STATE_DIR"

need_apt=()
command -v pg_ctlcluster >/dev/null 2>&1 || need_apt+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing ${need_apt[*]} with apt-get"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >&2
fi

# PostgreSQL: Debian's default cluster, password auth on 127.0.0.1.
PG_VERSION=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | grep -q "^$PG_VERSION main"; then
  pg_createcluster "$PG_VERSION" main >&2
fi
if ! pg_lsclusters -h | awk -v v="$PG_VERSION" '$1==v && $2=="main" {print $4}' | grep -q online; then
  log "starting PostgreSQL $PG_VERSION"
  pg_ctlcluster "$PG_VERSION" main start >&2
fi
for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p "$PG_PORT" && break; sleep 1; done
su postgres -c "psql -q -p $PG_PORT -c \"ALTER USER postgres PASSWORD 'postgres'\"" >&2
su postgres -c "psql -q -p $PG_PORT -tc \"SELECT 1 FROM pg_database WHERE datname='chatbot_test'\"" | grep -q 1 \
  || su postgres -c "psql -q -p $PG_PORT -c 'CREATE DATABASE chatbot_test'" >&2

# Redis.
if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
  log "starting Redis"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --save '' --appendonly no \
    --dir "$STATE_DIR" --logfile "$STATE_DIR/redis.log" >&2
fi
for _ in $(seq 1 30); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.5; done

# FerretDB (MongoDB wire protocol).
GOBIN_DIR=$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin
FERRETDB="$GOBIN_DIR/ferretdb"
if ! "$FERRETDB" --version >/dev/null 2>&1; then
  # `go install` alone builds a binary that panics: FerretDB embeds build/version/version.txt,
  # which its release process generates. Build from the module source with that file written.
  log "building FerretDB $FERRETDB_VERSION from the Go module proxy (first time only)"
  (
    cd /tmp
    go mod download "github.com/FerretDB/FerretDB@$FERRETDB_VERSION"
    src=$(go env GOMODCACHE)/github.com/!ferret!d!b/!ferret!d!b@$FERRETDB_VERSION
    work=$(mktemp -d)
    cp -r "$src/." "$work/" && chmod -R u+w "$work"
    echo "$FERRETDB_VERSION" >"$work/build/version/version.txt"
    mkdir -p "$GOBIN_DIR"
    cd "$work" && go build -o "$FERRETDB" ./cmd/ferretdb
    rm -rf "$work"
  ) >&2
fi
if ! (exec 3<>"/dev/tcp/127.0.0.1/$MONGO_PORT") 2>/dev/null; then
  log "starting FerretDB on 127.0.0.1:$MONGO_PORT"
  mkdir -p "$STATE_DIR/ferretdb"
  nohup "$FERRETDB" --listen-addr="127.0.0.1:$MONGO_PORT" --handler=sqlite \
    --sqlite-url="file:$STATE_DIR/ferretdb/" --state-dir="$STATE_DIR/ferretdb" --telemetry=disable --log-level=error \
    >"$STATE_DIR/ferretdb.log" 2>&1 &
  for _ in $(seq 1 30); do (exec 3<>"/dev/tcp/127.0.0.1/$MONGO_PORT") 2>/dev/null && break; sleep 0.5; done
fi

# gofakes3 (S3 REST API). Suites create a bucket of their own; the memory backend keeps nothing.
GOFAKES3="$GOBIN_DIR/gofakes3"
if [ ! -x "$GOFAKES3" ]; then
  log "installing gofakes3 $GOFAKES3_VERSION from the Go module proxy (first time only)"
  GOBIN="$GOBIN_DIR" go install "github.com/johannesboyne/gofakes3/cmd/gofakes3@$GOFAKES3_VERSION" >&2
fi
if ! (exec 3<>"/dev/tcp/127.0.0.1/$S3_PORT") 2>/dev/null; then
  log "starting gofakes3 on 127.0.0.1:$S3_PORT"
  nohup "$GOFAKES3" -host "127.0.0.1:$S3_PORT" -backend memory -quiet \
    >"$STATE_DIR/gofakes3.log" 2>&1 &
  for _ in $(seq 1 30); do (exec 3<>"/dev/tcp/127.0.0.1/$S3_PORT") 2>/dev/null && break; sleep 0.5; done
fi

echo "export TEST_POSTGRES_URL=postgres://postgres:postgres@127.0.0.1:$PG_PORT/chatbot_test"
echo "export TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT"
echo "export TEST_MONGO_URI=mongodb://127.0.0.1:$MONGO_PORT/chatbot_test"
echo "export TEST_S3_ENDPOINT=http://127.0.0.1:$S3_PORT"
echo "export TEST_S3_REGION=us-east-1"
echo "export TEST_S3_ACCESS_KEY_ID=test-access-key"
echo "export TEST_S3_SECRET_ACCESS_KEY=test-secret-access-key"
