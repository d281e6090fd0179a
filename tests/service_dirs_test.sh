#!/usr/bin/env bash
# The servers the scripts run as their own system users (scripts/rabbitmq.sh as `rabbitmq`,
# scripts/postgres.sh as `postgres`) start from a checkout under a private directory: root's
# home, or one mktemp -d made (0700). Each script gives the directories above its data search
# permission (scripts/server-lib.sh); without that, the broker cannot read its Erlang cookie
# and initdb cannot reach its data. Root only: as another user the servers run as that user.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/server-lib.sh
. "$root/scripts/server-lib.sh"
[[ $(id -u) == 0 ]] || { echo "SKIP: the servers run as their own users only when started as root"; exit 77; }

base=$root/var/test-service-dirs
mkdir -p "$base"
# One private directory for each server, so that neither passes on what the other's script gave.
rmq_private=$(mktemp -d -p "$base")  # 0700, as a checkout under /root is
pg_private=$(mktemp -d -p "$base")
rmq_dir=$rmq_private/checkout/var/rabbitmq
pg_dir=$pg_private/checkout/var/postgres
mkdir -p "$rmq_dir" "$pg_dir"
cleanup() {
    bash "$root/scripts/rabbitmq.sh" stop "$rmq_dir" >/dev/null 2>&1 || true
    bash "$root/scripts/postgres.sh" stop "$pg_dir" >/dev/null 2>&1 || true
    rm -rf "$rmq_private" "$pg_private"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
[[ $(stat -c %a "$rmq_private") == 700 && $(stat -c %a "$pg_private") == 700 ]] ||
    fail "mktemp -d did not make private directories"

# Free ports: the broker's AMQP port and the two the script derives from it (distribution +20000,
# epmd +23000), and PostgreSQL's. All below the ephemeral range (32768 up) and apart from the
# ports the other tests' services take (AMQP 5673-5917, +10000, +20000, +21000, +23000; PostgreSQL
# 25432 up and 29800 up).
amqp="" pg_port=""
for p in $(shuf -i 3000-3599 -n 200); do
    if ! port_busy "$p" && ! port_busy $((p + 20000)) && ! port_busy $((p + 23000)); then amqp=$p; break; fi
done
for p in $(shuf -i 19000-19999 -n 200); do
    if ! port_busy "$p"; then pg_port=$p; break; fi
done
[[ -n $amqp && -n $pg_port ]] || fail "no free ports"

bash "$root/scripts/rabbitmq.sh" start "$rmq_dir" "$amqp" ||
    fail "the broker did not start with its data under a private directory"
bash "$root/scripts/rabbitmq.sh" status "$rmq_dir" >/dev/null || fail "the broker's status check failed"
runuser -u rabbitmq -- test -r "$rmq_dir/.erlang.cookie" || fail "the broker's cookie is out of its user's reach"
bash "$root/scripts/rabbitmq.sh" stop "$rmq_dir" >/dev/null

bash "$root/scripts/postgres.sh" start "$pg_dir" "$pg_port" ||
    fail "PostgreSQL did not start with its data under a private directory"
bash "$root/scripts/postgres.sh" status "$pg_dir" || fail "PostgreSQL's status check failed"
bash "$root/scripts/postgres.sh" stop "$pg_dir" >/dev/null

# What was given is search permission, not the right to list.
for private in "$rmq_private" "$pg_private"; do
    mode=$(stat -c %a "$private")
    [[ $mode == 701 ]] || fail "$private has mode $mode, expected 701 (search only for others)"
done
echo "PASS: both servers started under private directories (now mode 701)"
