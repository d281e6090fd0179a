# Unit suite of worker/: options, the event and message contract, exec output parsing, and
# the handlers run directly (no broker). Included from tests/CMakeLists.txt (jobsd_test).
jobsd_test(worker_tests 120 worker_tests.cpp)
target_link_libraries(worker_tests PRIVATE jobs_worker jobsd_test_support)
