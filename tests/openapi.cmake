# The OpenAPI document held true. openapi_routes_tests: every route of the table is in the
# document jobsd embeds, and nothing else is. The conformance walk (tests/openapi/conformance.py,
# python3-jsonschema): every operation and response code of the document against a running jobsd
# on SQLite and on PostgreSQL with the test broker; and /docs in headless Chromium.
jobsd_test(openapi_routes_tests 60 openapi_routes_tests.cpp)
target_link_libraries(openapi_routes_tests PRIVATE jobs_server)

set(JOBSD_OPENAPI_ENV
  "JOBSD_BIN=$<TARGET_FILE:jobsd>"
  "JOBSD_TEST_DATA=${CMAKE_CURRENT_SOURCE_DIR}/data"
  "JOBSD_OPENAPI=${PROJECT_SOURCE_DIR}/openapi/openapi.json"
  "JOBSD_TEST_AMQP_URL=${JOBSD_TEST_AMQP_URL}"
  "JOBSD_TEST_MANAGEMENT_URL=${JOBSD_TEST_MANAGEMENT_URL}"
  "JOBSD_TEST_PG_URL=${JOBSD_TEST_PG_URL}"
  "JOBSD_TEST_OUTPUT_DIR=${CMAKE_CURRENT_BINARY_DIR}/output")
set(JOBSD_CONFORMANCE ${CMAKE_CURRENT_SOURCE_DIR}/openapi/conformance.py)
add_test(NAME openapi_conformance_sqlite COMMAND /usr/bin/python3 ${JOBSD_CONFORMANCE} --store sqlite)
add_test(NAME openapi_conformance_postgres COMMAND /usr/bin/python3 ${JOBSD_CONFORMANCE} --store postgres)
add_test(NAME docs_browser_test COMMAND /usr/bin/python3 ${JOBSD_CONFORMANCE} --browser)
set_tests_properties(openapi_conformance_sqlite openapi_conformance_postgres docs_browser_test PROPERTIES
  TIMEOUT 300 ENVIRONMENT "${JOBSD_OPENAPI_ENV}")
# They publish to the shared test broker; the PostgreSQL walk uses the shared cluster.
set_tests_properties(openapi_conformance_sqlite PROPERTIES RESOURCE_LOCK rabbitmq)
set_tests_properties(openapi_conformance_postgres PROPERTIES RESOURCE_LOCK "rabbitmq;postgres")
