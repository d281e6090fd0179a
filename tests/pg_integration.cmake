# Several jobsd on one PostgreSQL: the jobsd binary against the test cluster (var/test-postgres)
# and the test RabbitMQ node, both started by scripts/test.sh. Included from tests/CMakeLists.txt.

add_executable(pg_integration_tests ${CMAKE_CURRENT_LIST_DIR}/pg_integration_tests.cpp)
target_compile_definitions(pg_integration_tests PRIVATE BOOST_TEST_DYN_LINK)
target_link_libraries(pg_integration_tests
  PRIVATE jobsd_test_support Boost::json Boost::unit_test_framework jobsd_warnings)
add_dependencies(pg_integration_tests jobsd)
add_test(NAME pg_integration_tests COMMAND pg_integration_tests)
# It restarts the cluster, alters the broker and publishes to it: no other test of either at once.
set_tests_properties(pg_integration_tests PROPERTIES
  TIMEOUT 900
  RESOURCE_LOCK "rabbitmq;postgres"
  ENVIRONMENT "${JOBSD_TEST_ENV}")
