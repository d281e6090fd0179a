# One job's W3C trace end to end (issue 18): jobsd, a jobs-worker, the Python worker library and the
# real test broker. Included from tests/CMakeLists.txt.

add_executable(trace_tests ${CMAKE_CURRENT_LIST_DIR}/trace_tests.cpp)
target_compile_definitions(trace_tests PRIVATE BOOST_TEST_DYN_LINK)
target_link_libraries(trace_tests PRIVATE jobsd_test_support Boost::json Boost::unit_test_framework jobsd_warnings)
add_dependencies(trace_tests jobsd jobs-worker)
add_test(NAME trace_tests COMMAND trace_tests)
set_tests_properties(trace_tests PROPERTIES
  TIMEOUT 300
  RESOURCE_LOCK rabbitmq
  ENVIRONMENT "${JOBSD_TEST_ENV};JOBS_WORKER_BIN=$<TARGET_FILE:jobs-worker>;JOBSD_PYTHON_WORKER_PATH=${PROJECT_SOURCE_DIR}/workers/python:${CMAKE_CURRENT_SOURCE_DIR}/worker_conformance")
