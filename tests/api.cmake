# Black-box tests: they start the jobsd executable as a child process and speak HTTP to it only.
# Included from tests/CMakeLists.txt (JOBSD_TEST_ENV, the support library).

# A black-box suite: its own executable, built after jobsd (building a test builds the binary it
# runs), with the binary and the test data passed through the environment.
function(jobsd_black_box_test name timeout)
  add_executable(${name} ${CMAKE_CURRENT_LIST_DIR}/${name}.cpp)
  target_compile_definitions(${name} PRIVATE BOOST_TEST_DYN_LINK)
  target_link_libraries(${name} PRIVATE jobsd_test_support Boost::unit_test_framework jobsd_warnings ${ARGN})
  add_dependencies(${name} jobsd)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES TIMEOUT ${timeout} ENVIRONMENT "${JOBSD_TEST_ENV}")
endfunction()

jobsd_black_box_test(api_tests 300)
jobsd_black_box_test(durability_test 240)
# jobsd runs under the preload library that logs each flush of its database file.
add_dependencies(durability_test jobsd_fsync_counter)
set_tests_properties(durability_test PROPERTIES ENVIRONMENT
                     "${JOBSD_TEST_ENV};JOBSD_FSYNC_COUNTER=$<TARGET_FILE:jobsd_fsync_counter>")
jobsd_black_box_test(framing_tests 120)
jobsd_black_box_test(limits_tests 180)
jobsd_black_box_test(idempotency_tests 120)
# A repeat after its project changed: the project is changed with jobsctl.
add_dependencies(idempotency_tests jobsctl)
set_tests_properties(idempotency_tests PROPERTIES ENVIRONMENT "${JOBSD_TEST_ENV};JOBSCTL_BIN=$<TARGET_FILE:jobsctl>")
jobsd_black_box_test(observability_tests 60)
jobsd_black_box_test(log_hygiene_tests 120)
jobsd_black_box_test(tls_tests 120)
jobsd_black_box_test(overload_tests 120)
