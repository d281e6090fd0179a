# End-to-end tests: jobsd, jobs-worker processes and the real test broker (scripts/test.sh
# starts it in var/test-rabbitmq on port JOBSD_TEST_AMQP_PORT, 5682 by default).
# Included from tests/CMakeLists.txt.

add_executable(e2e_tests ${CMAKE_CURRENT_LIST_DIR}/e2e_tests.cpp)
target_compile_definitions(e2e_tests PRIVATE BOOST_TEST_DYN_LINK)
target_link_libraries(e2e_tests PRIVATE jobsd_test_support Boost::json Boost::unit_test_framework jobsd_warnings)
add_dependencies(e2e_tests jobsd jobs-worker)
add_test(NAME e2e_tests COMMAND e2e_tests)
set_tests_properties(e2e_tests PROPERTIES
  TIMEOUT 600
  RESOURCE_LOCK rabbitmq
  ENVIRONMENT "${JOBSD_TEST_ENV};JOBS_WORKER_BIN=$<TARGET_FILE:jobs-worker>")
