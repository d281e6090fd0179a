# Unit suite of worker/: options, the event and message contract, exec output parsing, and
# the handlers run directly (no broker). Included from tests/CMakeLists.txt (jobsd_test).
jobsd_test(worker_tests 120 worker_tests.cpp)
target_link_libraries(worker_tests PRIVATE jobs_worker jobsd_test_support)
# `jobs-worker --handler http` against tests/model_server.py, a real HTTP server each test starts.
jobsd_test(http_handler_tests 120 http_handler_tests.cpp)
target_link_libraries(http_handler_tests PRIVATE jobs_worker jobsd_test_support)
set_tests_properties(http_handler_tests PROPERTIES ENVIRONMENT
  "JOBSD_MODEL_SERVER=${CMAKE_CURRENT_SOURCE_DIR}/model_server.py")
