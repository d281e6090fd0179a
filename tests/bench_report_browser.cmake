# jobs-bench's HTML report in headless Chromium: a short run against a jobsd started by the test
# (no broker; --calibrate-http), and the example pages checked in under bench/reports/.
# Included from tests/CMakeLists.txt (through bench.cmake's condition: only with jobs-bench built).
add_executable(bench_report_browser_tests ${CMAKE_CURRENT_LIST_DIR}/bench_report_browser_tests.cpp
  ${CMAKE_CURRENT_LIST_DIR}/support/command_runner.cpp)
target_compile_definitions(bench_report_browser_tests PRIVATE BOOST_TEST_DYN_LINK)
target_link_libraries(bench_report_browser_tests
  PRIVATE jobsd_test_support Boost::unit_test_framework Boost::json jobsd_warnings)
add_dependencies(bench_report_browser_tests jobsd jobs-bench)
add_test(NAME bench_report_browser_test COMMAND bench_report_browser_tests)
set_tests_properties(bench_report_browser_test PROPERTIES
  TIMEOUT 300
  ENVIRONMENT "${JOBSD_TEST_ENV};JOBS_BENCH_BIN=$<TARGET_FILE:jobs-bench>;JOBSD_SOURCE_DIR=${PROJECT_SOURCE_DIR};JOBSD_TEST_OUTPUT_DIR=${CMAKE_CURRENT_BINARY_DIR}/output")
