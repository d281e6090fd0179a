# Black-box tests of jobsctl (admin/): the binary against temp SQLite files and fresh PostgreSQL
# schemas, beside a running jobsd, and (requeue-dead) with the test broker. Included from
# tests/CMakeLists.txt after api.cmake and queue_integration.cmake, whose test support libraries
# it uses.
if(NOT TARGET jobsd_test_support OR NOT TARGET jobsd_test_amqp)
  message(WARNING "jobsctl_tests need the test support libraries; not built")
  return()
endif()

# Running jobsctl with any store URL; a fresh schema on the test PostgreSQL cluster.
add_library(jobsd_test_admin STATIC
  ${CMAKE_CURRENT_LIST_DIR}/support/jobsctl_runner.cpp
  ${CMAKE_CURRENT_LIST_DIR}/support/pg_test_schema.cpp)
target_link_libraries(jobsd_test_admin PUBLIC jobsd_test_support jobs_store PRIVATE jobsd_warnings)

add_executable(jobsctl_tests ${CMAKE_CURRENT_LIST_DIR}/jobsctl_tests.cpp)
target_compile_definitions(jobsctl_tests PRIVATE BOOST_TEST_DYN_LINK)
target_link_libraries(jobsctl_tests PRIVATE jobsd_test_admin jobsd_test_support jobsd_test_amqp jobs_queue jobs_model Boost::json SQLite::SQLite3
                                            Boost::unit_test_framework jobsd_warnings)
# Building the tests builds the two binaries they run.
add_dependencies(jobsctl_tests jobsctl jobsd)

set(JOBSCTL_TEST_ENV
  "JOBSCTL_BIN=$<TARGET_FILE:jobsctl>"
  "JOBSD_BIN=$<TARGET_FILE:jobsd>"
  "JOBSD_TEST_DATA=${CMAKE_CURRENT_LIST_DIR}/data"
  "JOBSD_TEST_AMQP_URL=${JOBSD_TEST_AMQP_URL}")
# Without the broker: usage, store round trips, a jobsd on the same file.
add_test(NAME jobsctl_tests COMMAND jobsctl_tests --run_test=usage,store_round_trips,with_jobsd)
set_tests_properties(jobsctl_tests PROPERTIES TIMEOUT 180 ENVIRONMENT "${JOBSCTL_TEST_ENV}")
# requeue-dead against the shared test broker: never at the same time as the other broker suites.
add_test(NAME jobsctl_broker_tests COMMAND jobsctl_tests --run_test=broker)
set_tests_properties(jobsctl_broker_tests PROPERTIES TIMEOUT 180 RESOURCE_LOCK rabbitmq ENVIRONMENT "${JOBSCTL_TEST_ENV}")

# The same round trips on PostgreSQL, each case on a fresh schema of the test cluster that
# scripts/test.sh starts, and a jobsd on that schema for key revocation.
add_executable(jobsctl_pg_tests ${CMAKE_CURRENT_LIST_DIR}/jobsctl_pg_tests.cpp)
target_compile_definitions(jobsctl_pg_tests PRIVATE BOOST_TEST_DYN_LINK)
target_link_libraries(jobsctl_pg_tests PRIVATE jobsd_test_admin jobs_store jobs_model Boost::json
                                               Boost::unit_test_framework jobsd_warnings)
add_dependencies(jobsctl_pg_tests jobsctl jobsd)
add_test(NAME jobsctl_pg_tests COMMAND jobsctl_pg_tests)
set_tests_properties(jobsctl_pg_tests PROPERTIES TIMEOUT 180 RESOURCE_LOCK postgres
                     ENVIRONMENT "${JOBSCTL_TEST_ENV};JOBSD_TEST_PG_URL=${JOBSD_TEST_PG_URL}")
