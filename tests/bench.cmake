# jobs-bench suites: unit tests of its sans-I/O cores, and black-box runs of the jobs-bench binary
# against a real jobsd and RabbitMQ. Included from tests/CMakeLists.txt.
if(NOT JOBSD_BUILD_BENCH)
  return()  # the option that leaves jobs-bench out of the build leaves its tests out with it
endif()

jobsd_test(bench_tests 120 ${CMAKE_CURRENT_LIST_DIR}/bench_tests.cpp)
target_link_libraries(bench_tests PRIVATE jobs_bench_core)
set_tests_properties(bench_tests PROPERTIES ENVIRONMENT "JOBSD_BENCH_CONF_DIR=${PROJECT_SOURCE_DIR}/conf/bench")

add_executable(bench_integration_tests ${CMAKE_CURRENT_LIST_DIR}/bench_integration_tests.cpp)
target_compile_definitions(bench_integration_tests PRIVATE BOOST_TEST_DYN_LINK)
target_link_libraries(bench_integration_tests
  PRIVATE jobsd_test_support Boost::unit_test_framework Boost::json jobsd_warnings)
# Building the test builds the two binaries it runs.
add_dependencies(bench_integration_tests jobsd jobs-bench)
add_test(NAME bench_integration_tests COMMAND bench_integration_tests)
set_tests_properties(bench_integration_tests PROPERTIES
  TIMEOUT 180
  RESOURCE_LOCK rabbitmq
  ENVIRONMENT "${JOBSD_TEST_ENV};JOBS_BENCH_BIN=$<TARGET_FILE:jobs-bench>;JOBSD_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
