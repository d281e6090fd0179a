# Several jobsd on one PostgreSQL: the jobsd binary against the test cluster (var/test-postgres)
# and the test RabbitMQ node, both started by scripts/test.sh. Included from tests/CMakeLists.txt
# after queue_integration.cmake, whose jobsd_test_amqp it reuses.
if(NOT TARGET jobsd_test_amqp)
  message(WARNING "pg_integration_tests need jobsd_test_amqp from tests/queue_integration.cmake; not built")
  return()
endif()

add_executable(pg_integration_tests ${CMAKE_CURRENT_LIST_DIR}/pg_integration_tests.cpp)
target_compile_definitions(pg_integration_tests PRIVATE BOOST_TEST_DYN_LINK)
target_link_libraries(pg_integration_tests
  PRIVATE jobs_store jobsd_test_amqp jobsd_test_support Boost::json Boost::unit_test_framework jobsd_warnings)
add_dependencies(pg_integration_tests jobsd)
add_test(NAME pg_integration_tests COMMAND pg_integration_tests)
# It restarts the cluster and publishes to the shared broker: no other test of either at once.
set_tests_properties(pg_integration_tests PROPERTIES
  TIMEOUT 600
  RESOURCE_LOCK "rabbitmq;postgres"
  ENVIRONMENT "JOBSD_BIN=$<TARGET_FILE:jobsd>;JOBSD_TEST_DATA=${CMAKE_CURRENT_LIST_DIR}/data;JOBSD_TEST_AMQP_URL=${JOBSD_TEST_AMQP_URL};JOBSD_TEST_PG_URL=${JOBSD_TEST_PG_URL};JOBSD_POSTGRES_SCRIPT=${PROJECT_SOURCE_DIR}/scripts/postgres.sh;JOBSD_TEST_POSTGRES_DIR=${PROJECT_SOURCE_DIR}/var/test-postgres")
