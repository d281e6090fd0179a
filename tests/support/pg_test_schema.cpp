// CREATE SCHEMA under a random name on an admin connection kept open for exec(); the URL adds
// `options=-c search_path=NAME`, which libpq passes to the server for every connection.
#include "tests/support/pg_test_schema.hpp"

#include <chrono>
#include <random>
#include <stdexcept>

#include "tests/support/jobsd_process.hpp"

namespace jobsd::test {

pg_test_schema::pg_test_schema() {
    std::random_device rd;
    name_ = "t" + std::to_string(rd()) + std::to_string(rd());
    const auto base = required_env("JOBSD_TEST_PG_URL");
    try {
        admin_ =
            std::make_unique<store::pg_conn_ptr>(store::pg_connect_blocking(base, std::chrono::seconds(5)));
    } catch (const std::exception& e) {
        throw std::runtime_error(std::string("the test PostgreSQL cluster is not reachable (") + e.what() +
                                 "); scripts/test.sh starts it");
    }
    exec("CREATE SCHEMA " + name_);
    url_ = base + (base.find('?') == std::string::npos ? "?" : "&") + "options=-c%20search_path%3D" + name_;
}

pg_test_schema::~pg_test_schema() {
    try {
        exec("DROP SCHEMA " + name_ + " CASCADE");
    } catch (...) {  // a leftover schema in a throwaway cluster harms nothing
    }
}

std::string pg_test_schema::exec(const std::string& sql) {
    store::pg_reply r(PQexec(admin_->get(), ("SET search_path TO " + name_ + "; " + sql).c_str()));
    if (!r.ok()) throw std::runtime_error(r.error() + " in: " + sql);
    if (r.rows() == 0 || PQnfields(r.get()) == 0) return "<none>";
    return std::string(r.text(0, 0));
}

}  // namespace jobsd::test
