# HTTP edge cases against the jobsd binary: raw requests from tests/data/edges/ and the page
# headers, with headless Chromium for the dashboard under its Content-Security-Policy.
add_executable(http_edge_tests ${CMAKE_CURRENT_LIST_DIR}/http_edge_tests.cpp)
target_compile_definitions(http_edge_tests PRIVATE BOOST_TEST_DYN_LINK)
target_link_libraries(http_edge_tests PRIVATE jobsd_test_support Boost::unit_test_framework
                                              jobsd_warnings)
add_dependencies(http_edge_tests jobsd)
add_test(NAME http_edge_tests COMMAND http_edge_tests)
set_tests_properties(http_edge_tests PROPERTIES TIMEOUT 180 ENVIRONMENT "${JOBSD_TEST_ENV}")
