# Webhooks end to end: jobsd, jobs-worker, the test broker, the test PostgreSQL cluster (one case)
# and receivers started by the tests (C++ in tests/support/webhook_receiver, Python in
# tests/webhook_receiver.py). Included from tests/CMakeLists.txt after e2e.cmake.

add_executable(webhook_tests ${CMAKE_CURRENT_LIST_DIR}/webhook_tests.cpp)
target_compile_definitions(webhook_tests PRIVATE BOOST_TEST_DYN_LINK)
target_link_libraries(webhook_tests PRIVATE jobsd_test_support jobs_store Boost::json
                                            Boost::unit_test_framework jobsd_warnings)
add_dependencies(webhook_tests jobsd jobs-worker)
add_test(NAME webhook_tests COMMAND webhook_tests)
set_tests_properties(webhook_tests PROPERTIES
  TIMEOUT 900
  RESOURCE_LOCK "rabbitmq;postgres"
  ENVIRONMENT "${JOBSD_TEST_ENV};JOBS_WORKER_BIN=$<TARGET_FILE:jobs-worker>;JOBSD_WEBHOOK_RECEIVER_PY=${CMAKE_CURRENT_LIST_DIR}/webhook_receiver.py")
