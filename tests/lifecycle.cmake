# Job lifecycle end to end (issue 16): jobsd, jobs-worker processes and jobsctl against the test
# broker and the test PostgreSQL cluster (scripts/test.sh starts both). Included after api.cmake
# (jobsd_black_box_test); every suite links the one support library (tests/support.cmake).
# The pure parts: event rules, backoff, messages, the worker's cancel memory, exec's stop.
jobsd_test(lifecycle_unit_tests 120 lifecycle_unit_tests.cpp)
target_link_libraries(lifecycle_unit_tests PRIVATE jobs_worker)

add_executable(lifecycle_tests ${CMAKE_CURRENT_LIST_DIR}/lifecycle_tests.cpp)
target_compile_definitions(lifecycle_tests PRIVATE BOOST_TEST_DYN_LINK)
target_link_libraries(lifecycle_tests PRIVATE jobsd_test_support Boost::json Boost::unit_test_framework
                                              jobsd_warnings)
add_dependencies(lifecycle_tests jobsd jobs-worker jobsctl)
add_test(NAME lifecycle_tests COMMAND lifecycle_tests)
# It raises the broker's memory alarm for a moment (the crash case): no other broker test at once.
set_tests_properties(lifecycle_tests PROPERTIES
  TIMEOUT 900
  RESOURCE_LOCK "rabbitmq;postgres"
  ENVIRONMENT "${JOBSD_TEST_ENV};JOBS_WORKER_BIN=$<TARGET_FILE:jobs-worker>;JOBSCTL_BIN=$<TARGET_FILE:jobsctl>")

# The exact error answers of the lifecycle routes: jobsd alone, no broker.
jobsd_black_box_test(lifecycle_error_tests 120)

# Priority and fairness end to end (issue 16): the fair queue with real workers, both stores.
add_executable(fairness_tests ${CMAKE_CURRENT_LIST_DIR}/fairness_tests.cpp)
target_compile_definitions(fairness_tests PRIVATE BOOST_TEST_DYN_LINK)
target_link_libraries(fairness_tests PRIVATE jobsd_test_support Boost::json Boost::unit_test_framework
                                             jobsd_warnings)
add_dependencies(fairness_tests jobsd jobs-worker)
add_test(NAME fairness_tests COMMAND fairness_tests)
set_tests_properties(fairness_tests PROPERTIES
  TIMEOUT 900
  RESOURCE_LOCK "rabbitmq;postgres"
  ENVIRONMENT "${JOBSD_TEST_ENV};JOBS_WORKER_BIN=$<TARGET_FILE:jobs-worker>")
