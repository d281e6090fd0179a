// A fresh schema on the test PostgreSQL cluster ($JOBSD_TEST_PG_URL, started by scripts/test.sh)
// for one test case, dropped afterwards; its URL points a store, jobsctl or a jobsd at it.
//
// Plain libpq, independent of the store's own connection code.
// Thread safety: none; one admin connection, used from one thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <libpq-fe.h>

namespace jobsd::test {

class pg_test_schema {
  public:
    // Throws std::runtime_error saying which service is missing when the cluster is unreachable.
    pg_test_schema();
    ~pg_test_schema();  // drops the schema (reconnecting once if needed); never throws
    pg_test_schema(const pg_test_schema&) = delete;
    pg_test_schema& operator=(const pg_test_schema&) = delete;

    // The cluster's URL (whatever query it had kept) with search_path set to this schema.
    const std::string& url() const { return url_; }
    // Runs `sql` in the schema; the first column of the first row as text ("<none>" without
    // one). Throws std::runtime_error with the server's message.
    std::string exec(const std::string& sql);
    // Runs `sql` in the schema; the first column of every row.
    std::vector<std::string> rows(const std::string& sql);
    // A new admin connection, e.g. after the cluster restarted under the test.
    void reconnect();

  private:
    std::string name_, url_;
    std::unique_ptr<PGconn, void (*)(PGconn*)> admin_{nullptr, &PQfinish};
};

}  // namespace jobsd::test
