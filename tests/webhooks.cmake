# Webhooks end to end: jobsd, jobs-worker, the test broker, the test PostgreSQL cluster (one case)
# and receivers started by the tests (C++ in tests/support/webhook_receiver, Python in
# tests/webhook_receiver.py). Included from tests/CMakeLists.txt after e2e.cmake.
if(NOT TARGET jobsd_test_processes OR NOT TARGET jobsd_tls_test_support)
  message(WARNING "webhook_tests need the test support libraries; not built")
  return()
endif()

add_library(jobsd_test_webhooks STATIC ${CMAKE_CURRENT_LIST_DIR}/support/webhook_receiver.cpp)
target_include_directories(jobsd_test_webhooks PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(jobsd_test_webhooks PUBLIC jobs_asio_ssl Threads::Threads PRIVATE jobsd_warnings)

add_executable(webhook_tests ${CMAKE_CURRENT_LIST_DIR}/webhook_tests.cpp
                             ${CMAKE_CURRENT_LIST_DIR}/support/pg_test_schema.cpp)
target_compile_definitions(webhook_tests PRIVATE BOOST_TEST_DYN_LINK)
target_link_libraries(webhook_tests PRIVATE jobsd_test_webhooks jobsd_test_processes jobsd_test_amqp
                                            jobsd_tls_test_support jobsd_test_support jobs_store Boost::json
                                            Boost::unit_test_framework jobsd_warnings)
add_dependencies(webhook_tests jobsd jobs-worker)
add_test(NAME webhook_tests COMMAND webhook_tests)
set_tests_properties(webhook_tests PROPERTIES
  TIMEOUT 900
  RESOURCE_LOCK "rabbitmq;postgres"
  ENVIRONMENT "JOBSD_BIN=$<TARGET_FILE:jobsd>;JOBS_WORKER_BIN=$<TARGET_FILE:jobs-worker>;JOBSD_TEST_DATA=${CMAKE_CURRENT_LIST_DIR}/data;JOBSD_TEST_AMQP_URL=${JOBSD_TEST_AMQP_URL};JOBSD_TEST_PG_URL=${JOBSD_TEST_PG_URL};JOBSD_WEBHOOK_RECEIVER_PY=${CMAKE_CURRENT_LIST_DIR}/webhook_receiver.py")
