#!/usr/bin/env bash
# Sets up jobsd and runs every test suite under ctest. Extra arguments go to ctest
# (e.g. scripts/test.sh -R api).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

# The integration tests use a RabbitMQ node of their own (var/test-rabbitmq, port 5682 unless
# JOBSD_TEST_AMQP_PORT says otherwise), stopped again when the tests end, pass or fail. Its
# management API (the queue view's source) listens on the AMQP port + 10000.
# Likewise a throwaway PostgreSQL cluster (var/test-postgres, a free loopback port), whose URL
# reaches the tests through the build's JOBSD_TEST_PG_URL.
broker_dir=var/test-rabbitmq
broker_port=${JOBSD_TEST_AMQP_PORT:-5682}
pg_dir=var/test-postgres
# The chaos test (cluster_chaos_tests) starts and stops its own cluster in var/test-cluster; if
# ctest is interrupted while it runs, the trap stops that cluster too.
trap 'bash scripts/rabbitmq.sh stop "$broker_dir" >/dev/null 2>&1 || true
      bash scripts/postgres.sh stop "$pg_dir" >/dev/null 2>&1 || true
      bash scripts/cluster.sh stop var/test-cluster >/dev/null 2>&1 || true' EXIT
bash scripts/postgres.sh start "$pg_dir"
# Every run starts from an empty node: the queues a whole run leaves behind (hundreds) would slow
# the next run's start and logins until the node stops answering in time.
bash scripts/rabbitmq.sh stop "$broker_dir" >/dev/null 2>&1 || true
rm -rf "$broker_dir"
pg_url=$(bash scripts/postgres.sh url "$pg_dir")
cmake -S . -B build -DJOBSD_TEST_AMQP_PORT="$broker_port" -DJOBSD_TEST_PG_URL="$pg_url" >/dev/null
# A loaded two-core machine (CI, parallel builds) can take well over a minute to boot the node.
JOBSD_RABBITMQ_START_TIMEOUT=${JOBSD_RABBITMQ_START_TIMEOUT:-180} \
  bash scripts/rabbitmq.sh start "$broker_dir" "$broker_port" --management "$((broker_port + 10000))"

ctest --test-dir build --output-on-failure -j2 "$@"

# A second configuration, with clang: the unit suites of model/, queue/, store/ and worker/ under
# AddressSanitizer and UndefinedBehaviorSanitizer, and both libFuzzer targets for a bounded time
# over their seed corpus (tests/fuzz/). Skipped when ctest arguments narrow the run.
if [ "$#" -eq 0 ]; then
  werror=OFF
  [ "${CI:-}" = "true" ] && werror=ON
  CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -DJOBSD_FUZZ=ON -DJOBSD_BUILD_BENCH=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DJOBSD_WERROR="$werror" >/dev/null
  cmake --build build-fuzz -j"$(nproc)" --target fuzz_create_request fuzz_request_path model_tests queue_tests store_tests \
    worker_tests
  ctest --test-dir build-fuzz --output-on-failure -j2 \
    -R '^(fuzz_create_request|fuzz_request_path|model_tests|queue_tests|store_tests|worker_tests)$'
fi
