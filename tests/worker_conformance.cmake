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
    --start "exec $<TARGET_FILE:jobs-worker> --handler exec --kill-grace-ms 2000 --command 'exec /usr/bin/python3 ${JOBSD_WORKER_CONFORMANCE}/exec_handler.py'")
add_test(NAME worker_conformance_python
  COMMAND /usr/bin/python3 ${JOBSD_WORKER_CONFORMANCE}/conformance.py --implementation python
    --start "exec /usr/bin/python3 -m jobsd_worker --handler python_handler:handle")
# The broker-restart case stops and starts the shared test node: no other broker test at once.
set_tests_properties(worker_conformance_cpp worker_conformance_python PROPERTIES
  TIMEOUT 600 RESOURCE_LOCK rabbitmq ENVIRONMENT "${JOBSD_WORKER_CONFORMANCE_ENV}")
# The Python library's parts without I/O, and the example tts handler run directly with espeak-ng
# (workers/python/tests).
add_test(NAME python_worker_unit_tests
  COMMAND /usr/bin/python3 -m unittest discover -s ${PROJECT_SOURCE_DIR}/workers/python/tests -p "test_*.py")
set_tests_properties(python_worker_unit_tests PROPERTIES TIMEOUT 60)
