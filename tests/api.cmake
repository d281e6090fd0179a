# Black-box tests: they start the jobsd executable as a child process and speak HTTP to it only.
# Included from tests/CMakeLists.txt; needs the targets jobsd, jobs_asio and jobsd_warnings.

add_library(jobsd_test_support STATIC
  ${CMAKE_CURRENT_LIST_DIR}/support/http_client.cpp
  ${CMAKE_CURRENT_LIST_DIR}/support/jobsd_process.cpp)
# Sources include "tests/support/...", relative to the project root.
target_include_directories(jobsd_test_support PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(jobsd_test_support
  PUBLIC jobs_asio Boost::json Threads::Threads
  PRIVATE jobsd_warnings)

# The HTTPS client and the self-signed certificates of the TLS suite (they need libssl).
add_library(jobsd_tls_test_support STATIC
  ${CMAKE_CURRENT_LIST_DIR}/support/https_client.cpp
  ${CMAKE_CURRENT_LIST_DIR}/support/test_certificate.cpp)
target_link_libraries(jobsd_tls_test_support PUBLIC jobsd_test_support jobs_asio_ssl PRIVATE jobsd_warnings)

# Each test finds the server binary and its data through the environment, never a fixed path.
set(JOBSD_BLACK_BOX_ENV
  "JOBSD_BIN=$<TARGET_FILE:jobsd>"
  "JOBSD_TEST_DATA=${CMAKE_CURRENT_LIST_DIR}/data")

# A black-box suite: its own executable, built after jobsd (building a test builds the binary it
# runs), with the binary and the test data passed through the environment.
function(jobsd_black_box_test name timeout)
  add_executable(${name} ${CMAKE_CURRENT_LIST_DIR}/${name}.cpp)
  target_compile_definitions(${name} PRIVATE BOOST_TEST_DYN_LINK)
  target_link_libraries(${name} PRIVATE jobsd_test_support Boost::unit_test_framework jobsd_warnings ${ARGN})
  add_dependencies(${name} jobsd)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES TIMEOUT ${timeout} ENVIRONMENT "${JOBSD_BLACK_BOX_ENV}")
endfunction()

jobsd_black_box_test(api_tests 300)
jobsd_black_box_test(durability_test 180 SQLite::SQLite3)
jobsd_black_box_test(framing_tests 120)
jobsd_black_box_test(limits_tests 120)
jobsd_black_box_test(idempotency_tests 120)
jobsd_black_box_test(observability_tests 60)
jobsd_black_box_test(log_hygiene_tests 120 SQLite::SQLite3)
jobsd_black_box_test(tls_tests 120 jobsd_tls_test_support)
