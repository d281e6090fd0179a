#!/usr/bin/env bash
# scripts/rabbitmq.sh puts a node's epmd below Linux's ephemeral ports (32768 up): there, any
# outgoing connection may hold the port at the moment a node starts, and epmd -daemon then exits
# without a word, so the node died with Erlang's 'nodistribution'. This test holds the epmd port
# the script derives (AMQP_PORT+23000) with an established connection, as an outgoing one would,
# and expects the start to refuse with a message naming the port, before any node boots.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/server-lib.sh
. "$root/scripts/server-lib.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }

dir=$(mktemp -d -p "${TMPDIR:-/tmp}" epmd-port.XXXXXX)
holder=""
cleanup() {
    [[ -n $holder ]] && kill "$holder" 2>/dev/null || true
    bash "$root/scripts/rabbitmq.sh" stop "$dir" >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT

amqp=""
for p in $(shuf -i 1100-1899 -n 100); do  # derived ports 21100-24899: no other test's
    if ! port_busy "$p" && ! port_busy $((p + 20000)) && ! port_busy $((p + 23000)); then amqp=$p; break; fi
done
[[ -n $amqp ]] || fail "no free ports"
epmd=$((amqp + 23000))
(( epmd < 32768 )) || fail "the derived epmd port $epmd is in the ephemeral range"

# A connection from 127.0.0.1:$epmd to a listener of its own, held until killed.
/usr/bin/python3 -c '
import socket, sys, time
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
c = socket.socket(); c.bind(("127.0.0.1", int(sys.argv[1]))); c.connect(srv.getsockname())
conn, _ = srv.accept()
print("held", flush=True)
time.sleep(120)
' "$epmd" >"$dir.held" &
holder=$!
for _ in $(seq 50); do [[ -s $dir.held ]] && break; sleep 0.1; done
rm -f "$dir.held"
[[ -n $(ss -Htan "sport = :$epmd") ]] || fail "could not hold 127.0.0.1:$epmd"

t0=$SECONDS
if out=$(bash "$root/scripts/rabbitmq.sh" start "$dir" "$amqp" 2>&1); then
    fail "the node started although its epmd port $epmd was held: $out"
fi
grep -qF "epmd is not listening on 127.0.0.1:$epmd" <<<"$out" ||
    fail "the refusal does not name the epmd port: $out"
[[ ! -s $dir/rabbitmq.pid ]] || fail "a node booted although epmd could not listen"
echo "PASS: a held epmd port ($epmd) is refused in $((SECONDS - t0)) s with: $(head -n 1 <<<"$out")"
