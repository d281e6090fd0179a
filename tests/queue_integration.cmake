# Broker integration tests: the jobsd binary against the real test RabbitMQ node, which
# scripts/test.sh starts in var/test-rabbitmq on port JOBSD_TEST_AMQP_PORT (5682 by default)
# before ctest, and stops after. Included from tests/CMakeLists.txt.

add_executable(queue_integration_tests ${CMAKE_CURRENT_LIST_DIR}/queue_integration_tests.cpp)
target_compile_definitions(queue_integration_tests PRIVATE BOOST_TEST_DYN_LINK)
target_link_libraries(queue_integration_tests
  PRIVATE jobsd_test_support Boost::json Boost::unit_test_framework jobsd_warnings)
add_dependencies(queue_integration_tests jobsd)
add_test(NAME queue_integration_tests COMMAND queue_integration_tests)
# The broker, its control script and the node's directory come through the environment, like
# the binary and the test data; the node is shared, so tests that use it never run at once.
set_tests_properties(queue_integration_tests PROPERTIES
  TIMEOUT 900
  RESOURCE_LOCK rabbitmq
  ENVIRONMENT "${JOBSD_TEST_ENV}")
