# Black-box tests of jobsctl (admin/): the binary against temp SQLite files and fresh PostgreSQL
# schemas, beside running jobsd instances, and (requeue-dead) with the test broker. Included
# from tests/CMakeLists.txt.

add_executable(jobsctl_tests ${CMAKE_CURRENT_LIST_DIR}/jobsctl_tests.cpp)
target_compile_definitions(jobsctl_tests PRIVATE BOOST_TEST_DYN_LINK)
target_link_libraries(jobsctl_tests PRIVATE jobsd_test_support jobs_model Boost::json Boost::unit_test_framework
                                            jobsd_warnings)
# Building the tests builds the two binaries they run.
add_dependencies(jobsctl_tests jobsctl jobsd)

set(JOBSCTL_TEST_ENV "${JOBSD_TEST_ENV}" "JOBSCTL_BIN=$<TARGET_FILE:jobsctl>")
# Without the broker: usage, store round trips, a jobsd on the same file.
add_test(NAME jobsctl_tests COMMAND jobsctl_tests --run_test=usage,store_round_trips,with_jobsd)
set_tests_properties(jobsctl_tests PROPERTIES TIMEOUT 180 ENVIRONMENT "${JOBSCTL_TEST_ENV}")
# requeue-dead against the shared test broker: never at the same time as the other broker suites.
add_test(NAME jobsctl_broker_tests COMMAND jobsctl_tests --run_test=broker)
set_tests_properties(jobsctl_broker_tests PROPERTIES TIMEOUT 180 RESOURCE_LOCK rabbitmq ENVIRONMENT "${JOBSCTL_TEST_ENV}")

# The same round trips on PostgreSQL, each case on a fresh schema of the test cluster that
# scripts/test.sh starts, and jobsd instances on that schema for key revocation.
add_executable(jobsctl_pg_tests ${CMAKE_CURRENT_LIST_DIR}/jobsctl_pg_tests.cpp)
target_compile_definitions(jobsctl_pg_tests PRIVATE BOOST_TEST_DYN_LINK)
target_link_libraries(jobsctl_pg_tests PRIVATE jobsd_test_support jobs_store jobs_model Boost::json
                                               Boost::unit_test_framework jobsd_warnings)
add_dependencies(jobsctl_pg_tests jobsctl jobsd)
add_test(NAME jobsctl_pg_tests COMMAND jobsctl_pg_tests)
set_tests_properties(jobsctl_pg_tests PROPERTIES TIMEOUT 240 RESOURCE_LOCK postgres ENVIRONMENT "${JOBSCTL_TEST_ENV}")
