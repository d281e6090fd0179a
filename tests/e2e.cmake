# End-to-end tests: jobsd, jobs-worker processes and the real test broker (scripts/test.sh
# starts it in var/test-rabbitmq on port JOBSD_TEST_AMQP_PORT, 5682 by default).
if(NOT TARGET jobs-worker OR NOT TARGET jobsd_test_amqp)
  message(WARNING "e2e_tests need jobs-worker and the test AMQP client; not built")
  return()
endif()

add_library(jobsd_test_processes STATIC
  ${CMAKE_CURRENT_LIST_DIR}/support/child_process.cpp
  ${CMAKE_CURRENT_LIST_DIR}/support/sse_client.cpp)
target_include_directories(jobsd_test_processes PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(jobsd_test_processes PUBLIC jobs_asio Boost::json Threads::Threads PRIVATE jobsd_warnings)

add_executable(e2e_tests ${CMAKE_CURRENT_LIST_DIR}/e2e_tests.cpp)
target_compile_definitions(e2e_tests PRIVATE BOOST_TEST_DYN_LINK)
target_link_libraries(e2e_tests PRIVATE jobsd_test_processes jobsd_test_amqp jobsd_test_support Boost::json
                                        Boost::unit_test_framework jobsd_warnings)
add_dependencies(e2e_tests jobsd jobs-worker)
add_test(NAME e2e_tests COMMAND e2e_tests)
set_tests_properties(e2e_tests PROPERTIES
  TIMEOUT 600
  RESOURCE_LOCK rabbitmq
  ENVIRONMENT "JOBSD_BIN=$<TARGET_FILE:jobsd>;JOBS_WORKER_BIN=$<TARGET_FILE:jobs-worker>;JOBSD_TEST_DATA=${CMAKE_CURRENT_LIST_DIR}/data;JOBSD_TEST_AMQP_URL=${JOBSD_TEST_AMQP_URL}")
