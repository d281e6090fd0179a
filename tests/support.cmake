# The tests' support library (tests/support/): one static library every suite links, whatever
# it uses of it; test files include the headers they need. Included first from
# tests/CMakeLists.txt. Also the preload library the durability test runs jobsd under.

# find_package's imported targets are local to the directory that found them (queue/, store/).
if(NOT TARGET rabbitmq::rabbitmq)
  find_package(rabbitmq-c REQUIRED CONFIG)
endif()
if(NOT TARGET PostgreSQL::PostgreSQL)
  find_package(PostgreSQL REQUIRED)
endif()

set(support ${CMAKE_CURRENT_LIST_DIR}/support)
add_library(jobsd_test_support STATIC
  ${support}/amqp_client.cpp
  ${support}/child_process.cpp
  ${support}/deliveries.cpp
  ${support}/http_client.cpp
  ${support}/https_client.cpp
  ${support}/jobsctl_runner.cpp
  ${support}/jobsd_process.cpp
  ${support}/loopback_port.cpp
  ${support}/metrics.cpp
  ${support}/pg_binary_array_reader.cpp
  ${support}/pg_test_schema.cpp
  ${support}/request_threads.cpp
  ${support}/scoped_env.cpp
  ${support}/sqlite_file.cpp
  ${support}/sse_client.cpp
  ${support}/status_events.cpp
  ${support}/test_broker.cpp
  ${support}/test_certificate.cpp
  ${support}/test_failure.cpp
  ${support}/webhook_receiver.cpp)
# Sources include "tests/support/...", relative to the project root.
target_include_directories(jobsd_test_support PUBLIC ${PROJECT_SOURCE_DIR})
target_compile_definitions(jobsd_test_support PRIVATE BOOST_TEST_DYN_LINK)
target_link_libraries(jobsd_test_support
  PUBLIC jobs_asio jobs_asio_ssl Boost::json Boost::unit_test_framework rabbitmq::rabbitmq PostgreSQL::PostgreSQL SQLite::SQLite3
         Threads::Threads
  PRIVATE jobsd_warnings)

# LD_PRELOAD into jobsd: logs each fsync/fdatasync of the served database's WAL (durability_test).
add_library(jobsd_fsync_counter SHARED ${support}/fsync_counter.cpp)
target_link_libraries(jobsd_fsync_counter PRIVATE ${CMAKE_DL_LIBS} jobsd_warnings)
