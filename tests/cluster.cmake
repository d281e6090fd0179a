# The cluster's chaos test: scripts/cluster.sh starts its own three RabbitMQ nodes, PostgreSQL,
# three jobsd, HAProxy and workers in var/test-cluster (ports from JOBSD_TEST_CLUSTER_BASE_PORT),
# so it needs nothing scripts/test.sh starts. Included from tests/CMakeLists.txt after api.cmake,
# whose jobsd_test_support (the HTTP client) it reuses.
if(NOT TARGET PostgreSQL::PostgreSQL)
  find_package(PostgreSQL REQUIRED)
endif()

# Apart from the demo cluster (5800) and every other checkout's: 6 ports a test broker port.
# (scripts/cluster.sh --base-port; 5812 for the default test port 5682.)
math(EXPR JOBSD_TEST_CLUSTER_BASE_PORT "5800 + 6 * (${JOBSD_TEST_AMQP_PORT} - 5680)")

add_executable(cluster_chaos_tests
  ${CMAKE_CURRENT_LIST_DIR}/cluster_chaos_tests.cpp
  ${CMAKE_CURRENT_LIST_DIR}/support/chaos_timeline.cpp
  ${CMAKE_CURRENT_LIST_DIR}/support/command_runner.cpp
  ${CMAKE_CURRENT_LIST_DIR}/support/metrics_sampler.cpp)
target_compile_definitions(cluster_chaos_tests PRIVATE BOOST_TEST_DYN_LINK)
target_link_libraries(cluster_chaos_tests
  PRIVATE jobsd_test_support PostgreSQL::PostgreSQL Boost::json Boost::unit_test_framework jobsd_warnings)
add_dependencies(cluster_chaos_tests jobsd jobs-worker jobs-bench)
add_test(NAME cluster_chaos_tests COMMAND cluster_chaos_tests)
# Alone: it loads both cores, and its recovery times should not measure other tests. The timeout
# only bounds a hang: it takes about 4 minutes, and its cluster start is allowed 10 on a crowded machine.
set_tests_properties(cluster_chaos_tests PROPERTIES
  TIMEOUT 1200
  RUN_SERIAL TRUE
  ENVIRONMENT "JOBSD_BIN_DIR=$<TARGET_FILE_DIR:jobsd>;JOBS_BENCH_BIN=$<TARGET_FILE:jobs-bench>;JOBSD_BENCH_MIX=${PROJECT_SOURCE_DIR}/conf/bench/mix.json;JOBSD_CLUSTER_SCRIPT=${PROJECT_SOURCE_DIR}/scripts/cluster.sh;JOBSD_CLUSTER_DIR=${PROJECT_SOURCE_DIR}/var/test-cluster;JOBSD_CLUSTER_BASE_PORT=${JOBSD_TEST_CLUSTER_BASE_PORT};JOBSD_TEST_OUTPUT_DIR=${CMAKE_CURRENT_BINARY_DIR}/output")
