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

# Each test finds the server binary and its data through the environment, never a fixed path.
set(JOBSD_BLACK_BOX_ENV
  "JOBSD_BIN=$<TARGET_FILE:jobsd>"
  "JOBSD_TEST_DATA=${CMAKE_CURRENT_LIST_DIR}/data")

add_executable(api_tests ${CMAKE_CURRENT_LIST_DIR}/api_tests.cpp)
target_compile_definitions(api_tests PRIVATE BOOST_TEST_DYN_LINK)
target_link_libraries(api_tests PRIVATE jobsd_test_support Boost::unit_test_framework jobsd_warnings)
# Building a test builds the binary it runs.
add_dependencies(api_tests jobsd)
add_test(NAME api_tests COMMAND api_tests)
set_tests_properties(api_tests PROPERTIES TIMEOUT 300 ENVIRONMENT "${JOBSD_BLACK_BOX_ENV}")

add_executable(durability_test ${CMAKE_CURRENT_LIST_DIR}/durability_test.cpp)
target_compile_definitions(durability_test PRIVATE BOOST_TEST_DYN_LINK)
target_link_libraries(durability_test
  PRIVATE jobsd_test_support Boost::unit_test_framework SQLite::SQLite3 jobsd_warnings)
add_dependencies(durability_test jobsd)
add_test(NAME durability_test COMMAND durability_test)
set_tests_properties(durability_test PROPERTIES TIMEOUT 180 ENVIRONMENT "${JOBSD_BLACK_BOX_ENV}")

add_executable(framing_tests ${CMAKE_CURRENT_LIST_DIR}/framing_tests.cpp)
target_compile_definitions(framing_tests PRIVATE BOOST_TEST_DYN_LINK)
target_link_libraries(framing_tests PRIVATE jobsd_test_support Boost::unit_test_framework jobsd_warnings)
add_dependencies(framing_tests jobsd)
add_test(NAME framing_tests COMMAND framing_tests)
set_tests_properties(framing_tests PROPERTIES TIMEOUT 120 ENVIRONMENT "${JOBSD_BLACK_BOX_ENV}")

add_executable(limits_tests ${CMAKE_CURRENT_LIST_DIR}/limits_tests.cpp)
target_compile_definitions(limits_tests PRIVATE BOOST_TEST_DYN_LINK)
target_link_libraries(limits_tests PRIVATE jobsd_test_support Boost::unit_test_framework jobsd_warnings)
add_dependencies(limits_tests jobsd)
add_test(NAME limits_tests COMMAND limits_tests)
set_tests_properties(limits_tests PROPERTIES TIMEOUT 120 ENVIRONMENT "${JOBSD_BLACK_BOX_ENV}")

add_executable(idempotency_tests ${CMAKE_CURRENT_LIST_DIR}/idempotency_tests.cpp)
target_compile_definitions(idempotency_tests PRIVATE BOOST_TEST_DYN_LINK)
target_link_libraries(idempotency_tests PRIVATE jobsd_test_support Boost::unit_test_framework jobsd_warnings)
add_dependencies(idempotency_tests jobsd)
add_test(NAME idempotency_tests COMMAND idempotency_tests)
set_tests_properties(idempotency_tests PROPERTIES TIMEOUT 120 ENVIRONMENT "${JOBSD_BLACK_BOX_ENV}")

add_executable(observability_tests ${CMAKE_CURRENT_LIST_DIR}/observability_tests.cpp)
target_compile_definitions(observability_tests PRIVATE BOOST_TEST_DYN_LINK)
target_link_libraries(observability_tests PRIVATE jobsd_test_support Boost::unit_test_framework jobsd_warnings)
add_dependencies(observability_tests jobsd)
add_test(NAME observability_tests COMMAND observability_tests)
set_tests_properties(observability_tests PROPERTIES TIMEOUT 60 ENVIRONMENT "${JOBSD_BLACK_BOX_ENV}")
