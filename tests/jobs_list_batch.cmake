# The job list and the batch create: the store's query plans and all-or-none batches on both
# adapters, and black-box suites against jobsd on SQLite and on PostgreSQL (the test cluster that
# scripts/test.sh starts).

add_executable(store_list_tests ${CMAKE_CURRENT_LIST_DIR}/store_list_tests.cpp)
target_compile_definitions(store_list_tests PRIVATE BOOST_TEST_DYN_LINK)
target_link_libraries(store_list_tests PRIVATE jobsd_test_support jobs_store SQLite::SQLite3
                                               Boost::unit_test_framework jobsd_warnings)
add_test(NAME store_list_tests COMMAND store_list_tests)
set_tests_properties(store_list_tests PROPERTIES TIMEOUT 300 RESOURCE_LOCK postgres
                     ENVIRONMENT "${JOBSD_TEST_ENV}")

add_executable(jobs_list_batch_tests ${CMAKE_CURRENT_LIST_DIR}/jobs_list_batch_tests.cpp)
target_compile_definitions(jobs_list_batch_tests PRIVATE BOOST_TEST_DYN_LINK)
target_link_libraries(jobs_list_batch_tests PRIVATE jobsd_test_support SQLite::SQLite3 Boost::json
                                                    Boost::unit_test_framework jobsd_warnings)
add_dependencies(jobs_list_batch_tests jobsd)
add_test(NAME jobs_list_batch_tests COMMAND jobs_list_batch_tests)
set_tests_properties(jobs_list_batch_tests PROPERTIES TIMEOUT 600 RESOURCE_LOCK postgres
                     ENVIRONMENT "${JOBSD_TEST_ENV}")
