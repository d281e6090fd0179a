// A fresh schema on the test PostgreSQL cluster ($JOBSD_TEST_PG_URL, started by scripts/test.sh)
// for one test case, dropped afterwards; its URL points a store or a jobsd at it.
#pragma once

#include <memory>
#include <string>

#include "store/pg_connection.hpp"

namespace jobsd::test {

class pg_test_schema {
  public:
    // Throws std::runtime_error saying which service is missing when the cluster is unreachable.
    pg_test_schema();
    ~pg_test_schema();  // drops the schema; never throws
    pg_test_schema(const pg_test_schema&) = delete;
    pg_test_schema& operator=(const pg_test_schema&) = delete;

    // The cluster's URL with search_path set to this schema.
    const std::string& url() const { return url_; }
    // Runs `sql` in the schema; the first column of the first row as text ("<none>" without
    // one). Throws std::runtime_error with the server's message.
    std::string exec(const std::string& sql);

  private:
    std::string name_, url_;
    std::unique_ptr<store::pg_conn_ptr> admin_;
};

}  // namespace jobsd::test
