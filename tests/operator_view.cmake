# The operator's view against the real test broker and its management API (scripts/test.sh
# starts both): the queue view's depth, and the dashboard driven by headless Chromium, which
# writes its screenshot to build/tests/output/. Included from tests/CMakeLists.txt.

add_executable(operator_view_tests ${CMAKE_CURRENT_LIST_DIR}/operator_view_tests.cpp)
target_compile_definitions(operator_view_tests PRIVATE BOOST_TEST_DYN_LINK)
target_link_libraries(operator_view_tests PRIVATE jobsd_test_support Boost::json Boost::unit_test_framework
                                                  jobsd_warnings)
add_dependencies(operator_view_tests jobsd)
set(JOBSD_OPERATOR_VIEW_ENV
  "${JOBSD_TEST_ENV}"
  "JOBSD_TEST_MANAGEMENT_URL=${JOBSD_TEST_MANAGEMENT_URL}"
  "JOBSD_TEST_OUTPUT_DIR=${CMAKE_CURRENT_BINARY_DIR}/output")
# Two ctest entries over one executable: the queue view, and the browser test.
add_test(NAME queue_view_tests COMMAND operator_view_tests --run_test=queue_view)
add_test(NAME dashboard_browser_test COMMAND operator_view_tests --run_test=dashboard_browser)
set_tests_properties(queue_view_tests dashboard_browser_test PROPERTIES
  TIMEOUT 300
  RESOURCE_LOCK rabbitmq
  ENVIRONMENT "${JOBSD_OPERATOR_VIEW_ENV}")
