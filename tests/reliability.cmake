# Issue 14's suites: what is kept when the database, the broker or a process misbehaves.
# Included last from tests/CMakeLists.txt; every suite links jobsd_test_support (support.cmake).

# The store under concurrency and failures: SQLite files (below a VFS that can fail writes) and
# the test PostgreSQL cluster that scripts/test.sh starts.
jobsd_test(store_reliability_tests 300 store_reliability_tests.cpp support/faulty_vfs.cpp)
target_link_libraries(store_reliability_tests PRIVATE jobs_store jobsd_test_support SQLite::SQLite3)
set_tests_properties(store_reliability_tests PROPERTIES RESOURCE_LOCK postgres
                     ENVIRONMENT "JOBSD_TEST_PG_URL=${JOBSD_TEST_PG_URL}")

# The rest drive jobsd, jobsctl, workers and jobs-bench as processes: not in a configuration
# without the bench (the clang/fuzz build).
if(NOT TARGET jobs-bench)
  return()
endif()

# Black-box suites on the shared test broker (and the test PostgreSQL cluster): a small library
# over jobsd_test_support with the node's control script, case-unique names and a jobsd child
# publishing under them. command_runner.cpp is also compiled into cluster_chaos_tests (cluster.cmake),
# which does not link this library.
add_library(jobsd_test_broker_fixture STATIC
  ${CMAKE_CURRENT_LIST_DIR}/support/broker_fixture.cpp
  ${CMAKE_CURRENT_LIST_DIR}/support/command_runner.cpp)
target_link_libraries(jobsd_test_broker_fixture PUBLIC jobsd_test_support Boost::json
                      PRIVATE jobsd_warnings)

set(JOBSD_RELIABILITY_ENV
  "JOBSD_BIN=$<TARGET_FILE:jobsd>"
  "JOBSCTL_BIN=$<TARGET_FILE:jobsctl>"
  "JOBS_WORKER_BIN=$<TARGET_FILE:jobs-worker>"
  "JOBS_BENCH_BIN=$<TARGET_FILE:jobs-bench>"
  "JOBSD_BENCH_MIX=${PROJECT_SOURCE_DIR}/conf/bench/mix.json"
  "JOBSD_TEST_DATA=${CMAKE_CURRENT_LIST_DIR}/data"
  "JOBSD_TEST_AMQP_URL=${JOBSD_TEST_AMQP_URL}"
  "JOBSD_TEST_MANAGEMENT_URL=${JOBSD_TEST_MANAGEMENT_URL}"
  "JOBSD_RABBITMQ_SCRIPT=${PROJECT_SOURCE_DIR}/scripts/rabbitmq.sh"
  "JOBSD_TEST_RABBITMQ_DIR=${PROJECT_SOURCE_DIR}/var/test-rabbitmq"
  "JOBSD_TEST_PG_URL=${JOBSD_TEST_PG_URL}"
  "JOBSD_POSTGRES_SCRIPT=${PROJECT_SOURCE_DIR}/scripts/postgres.sh"
  "JOBSD_TEST_POSTGRES_DIR=${PROJECT_SOURCE_DIR}/var/test-postgres"
  "JOBSD_TEST_OUTPUT_DIR=${CMAKE_CURRENT_BINARY_DIR}/output")

function(jobsd_reliability_test name timeout locks)
  add_executable(${name} ${CMAKE_CURRENT_LIST_DIR}/${name}.cpp)
  target_compile_definitions(${name} PRIVATE BOOST_TEST_DYN_LINK)
  target_link_libraries(${name} PRIVATE jobsd_test_broker_fixture Boost::unit_test_framework jobsd_warnings ${ARGN})
  add_dependencies(${name} jobsd jobsctl jobs-worker jobs-bench)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES TIMEOUT ${timeout} ENVIRONMENT "${JOBSD_RELIABILITY_ENV}")
  if(locks)
    set_tests_properties(${name} PROPERTIES RESOURCE_LOCK "${locks}")
  endif()
endfunction()

jobsd_reliability_test(reliability_tests 600 rabbitmq jobs_queue)
jobsd_reliability_test(reliability_pg_tests 900 "rabbitmq;postgres")
# Its overload case measures the order jobs are published in under a load it makes itself (two
# jobsd, a broker slower than ingestion); a neighbour test's load would be measured with it.
set_tests_properties(reliability_pg_tests PROPERTIES RUN_SERIAL TRUE)
jobsd_reliability_test(shutdown_tests 120 "" SQLite::SQLite3)
jobsd_reliability_test(worker_reliability_tests 300 rabbitmq jobs_worker)

# The single-node chaos test: jobsd killed five times, a worker killed, the memory alarm, the
# broker stopped and started, under jobs-bench load. Alone: it loads both cores and stops the node.
jobsd_reliability_test(chaos_tests 600 rabbitmq SQLite::SQLite3)
set_tests_properties(chaos_tests PROPERTIES RUN_SERIAL TRUE)
