# Unit suites of the store and of the server's sans-I/O parts, one executable per layer.
# Included from tests/CMakeLists.txt, which defines jobsd_test(name timeout sources...).

jobsd_test(store_tests 120 store_tests.cpp completion_batch_tests.cpp sqlite_wal_gather_tests.cpp store_inline_lookups_tests.cpp delivery_board_tests.cpp delivery_inbox_tests.cpp task_queue_tests.cpp pg_write_batch_tests.cpp pg_binary_array_tests.cpp)
target_link_libraries(store_tests PRIVATE jobs_store jobsd_test_support)

jobsd_test(server_unit_tests 60 server_unit_tests.cpp notification_hub_tests.cpp)
target_link_libraries(server_unit_tests PRIVATE jobs_server jobsd_test_support)
jobsd_test(webhook_dispatcher_tests 60 webhook_dispatcher_tests.cpp)
target_link_libraries(webhook_dispatcher_tests PRIVATE jobs_server jobsd_test_support)
jobsd_test(rate_limiter_tests 30 rate_limiter_tests.cpp)
target_link_libraries(rate_limiter_tests PRIVATE jobs_server)
jobsd_test(operator_unit_tests 30 operator_unit_tests.cpp)
target_link_libraries(operator_unit_tests PRIVATE jobs_server)

# The store contract against both adapters; the PostgreSQL cases use the test cluster that
# scripts/test.sh starts (var/test-postgres), found through JOBSD_TEST_PG_URL.
jobsd_test(store_contract_tests 300 store_contract_tests.cpp)
target_link_libraries(store_contract_tests PRIVATE jobs_store jobsd_test_support)
set_tests_properties(store_contract_tests PROPERTIES RESOURCE_LOCK postgres ENVIRONMENT "JOBSD_TEST_PG_URL=${JOBSD_TEST_PG_URL}")

# The webhook store's contract against both adapters (the PostgreSQL cases on the test cluster).
jobsd_test(webhook_store_tests 300 webhook_store_tests.cpp)
target_link_libraries(webhook_store_tests PRIVATE jobs_store jobsd_test_support)
set_tests_properties(webhook_store_tests PROPERTIES RESOURCE_LOCK postgres ENVIRONMENT "JOBSD_TEST_PG_URL=${JOBSD_TEST_PG_URL}")
# The list's and the batch's pure parts: envelope, values check, query string, cursor, tokens, SQL.
jobsd_test(list_batch_unit_tests 60 list_batch_unit_tests.cpp)
target_link_libraries(list_batch_unit_tests PRIVATE jobs_server)
