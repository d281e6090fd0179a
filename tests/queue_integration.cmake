# Broker integration tests: the jobsd binary against the real test RabbitMQ node, which
# scripts/test.sh starts in var/test-rabbitmq on port JOBSD_TEST_AMQP_PORT, 5682 by default before ctest (and stops after).
# Included from tests/CMakeLists.txt after api.cmake, whose jobsd_test_support it reuses.

if(NOT TARGET jobsd_test_support)
  message(WARNING "queue_integration_tests need jobsd_test_support from tests/api.cmake; not built")
  return()
endif()
# find_package's imported targets are local to the directory that found them (queue/).
if(NOT TARGET rabbitmq::rabbitmq)
  find_package(rabbitmq-c REQUIRED CONFIG)
endif()

add_library(jobsd_test_amqp STATIC ${CMAKE_CURRENT_LIST_DIR}/support/amqp_client.cpp)
target_include_directories(jobsd_test_amqp PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(jobsd_test_amqp PUBLIC rabbitmq::rabbitmq PRIVATE jobsd_warnings)

add_executable(queue_integration_tests ${CMAKE_CURRENT_LIST_DIR}/queue_integration_tests.cpp)
target_compile_definitions(queue_integration_tests PRIVATE BOOST_TEST_DYN_LINK)
target_link_libraries(queue_integration_tests
  PRIVATE jobsd_test_amqp jobsd_test_support Boost::json Boost::unit_test_framework jobsd_warnings)
add_dependencies(queue_integration_tests jobsd)
add_test(NAME queue_integration_tests COMMAND queue_integration_tests)
# The broker, its control script and the node's directory come through the environment, like
# the binary and the test data; the node is shared, so tests that use it never run at once.
set_tests_properties(queue_integration_tests PROPERTIES
  TIMEOUT 600
  RESOURCE_LOCK rabbitmq
  ENVIRONMENT "JOBSD_BIN=$<TARGET_FILE:jobsd>;JOBSD_TEST_DATA=${CMAKE_CURRENT_LIST_DIR}/data;JOBSD_TEST_AMQP_URL=${JOBSD_TEST_AMQP_URL};JOBSD_RABBITMQ_SCRIPT=${PROJECT_SOURCE_DIR}/scripts/rabbitmq.sh;JOBSD_TEST_RABBITMQ_DIR=${PROJECT_SOURCE_DIR}/var/test-rabbitmq")
