#!/usr/bin/env bash
# Sets up jobsd and runs every test suite under ctest. Extra arguments go to ctest
# (e.g. scripts/test.sh -R api).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

# The integration tests use a RabbitMQ node of their own (var/test-rabbitmq, port 5682), stopped
# again when the tests end, pass or fail.
broker_dir=var/test-rabbitmq
bash scripts/rabbitmq.sh start "$broker_dir" 5682
trap 'bash scripts/rabbitmq.sh stop "$broker_dir" >/dev/null 2>&1 || true' EXIT

ctest --test-dir build --output-on-failure -j2 "$@"
