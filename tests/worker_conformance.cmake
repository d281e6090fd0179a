# One conformance suite for every worker implementation (tests/worker_conformance/, Python with
# Debian's python3-pika): the worker contract of worker/README.md checked through the test broker,
# with the suite playing jobsd. One entry per implementation, the same cases, the worker given by
# its start command; a third implementation adds an entry here with its own command.
set(JOBSD_WORKER_CONFORMANCE ${CMAKE_CURRENT_SOURCE_DIR}/worker_conformance)
set(JOBSD_WORKER_CONFORMANCE_ENV
  "JOBSD_TEST_AMQP_URL=${JOBSD_TEST_AMQP_URL}"
  "JOBSD_RABBITMQ_SCRIPT=${PROJECT_SOURCE_DIR}/scripts/rabbitmq.sh"
  "JOBSD_TEST_RABBITMQ_DIR=${PROJECT_SOURCE_DIR}/var/test-rabbitmq"
  "PYTHONPATH=${PROJECT_SOURCE_DIR}/workers/python:${JOBSD_WORKER_CONFORMANCE}")
add_test(NAME worker_conformance_cpp
  COMMAND /usr/bin/python3 ${JOBSD_WORKER_CONFORMANCE}/conformance.py --implementation jobs-worker
    --start "exec $<TARGET_FILE:jobs-worker> --handler exec --command 'exec /usr/bin/python3 ${JOBSD_WORKER_CONFORMANCE}/exec_handler.py'")
add_test(NAME worker_conformance_python
  COMMAND /usr/bin/python3 ${JOBSD_WORKER_CONFORMANCE}/conformance.py --implementation python
    --start "exec /usr/bin/python3 -m jobsd_worker --handler python_handler:handle")
# `jobs-worker --handler http` against a model server that follows each job's script. One request,
# one answer: no progress reports and no view of the message beyond the input, so the cases that
# need progress events (success, progress_rises, cancel_running, which waits for one) or the
# message's passthrough member (success) do not apply; every other case does.
add_test(NAME worker_conformance_http
  COMMAND /usr/bin/python3 ${JOBSD_WORKER_CONFORMANCE}/conformance.py --implementation http
    --start "exec sh ${JOBSD_WORKER_CONFORMANCE}/http_worker.sh $<TARGET_FILE:jobs-worker>"
    --case trace_context --case failure --case retryable_failure --case cancelled_before_delivery --case expired
    --case redelivery_of_done_job --case final_event_unroutable --case poison_message --case url_list
    --case broker_restart --case graceful_stop)
# The broker-restart case stops and starts the shared test node: no other broker test at once.
set_tests_properties(worker_conformance_cpp worker_conformance_python worker_conformance_http PROPERTIES
  TIMEOUT 600 RESOURCE_LOCK rabbitmq ENVIRONMENT "${JOBSD_WORKER_CONFORMANCE_ENV}")
# The Python library's parts without I/O, and the example tts handler run directly with espeak-ng
# (workers/python/tests).
add_test(NAME python_worker_unit_tests
  COMMAND /usr/bin/python3 -m unittest discover -s ${PROJECT_SOURCE_DIR}/workers/python/tests -p "test_*.py")
set_tests_properties(python_worker_unit_tests PROPERTIES TIMEOUT 60)
