#!/usr/bin/env bash
# Validates deploy/nginx.conf with Debian's nginx (`nginx -t`) on a temporary copy whose
# certificate paths point at a throw-away self-signed certificate and whose pid and log files
# live in a temporary directory. Needs nginx and openssl; run as root (the config names a user).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v nginx >/dev/null || { echo "nginx is not installed: apt-get install -y nginx" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
  -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
sed -E \
  -e "s#/etc/letsencrypt/live/[^;]*/fullchain\.pem#$tmp/cert.pem#" \
  -e "s#/etc/letsencrypt/live/[^;]*/privkey\.pem#$tmp/key.pem#" \
  -e "s#^pid .*#pid $tmp/nginx.pid;#" \
  -e "s#(access_log|error_log) /var/log/nginx/#\1 $tmp/#" \
  deploy/nginx.conf >"$tmp/nginx.conf"
grep -q 'ip_hash;' "$tmp/nginx.conf"
nginx -t -q -p "$tmp" -c "$tmp/nginx.conf"
echo "deploy/nginx.conf: syntax ok"
