// CREATE SCHEMA under a random name on an admin connection kept open for exec(); the URL adds
// `options=-c search_path=NAME`, which libpq passes to the server for every connection.
#include "tests/support/pg_test_schema.hpp"

#include <random>
#include <stdexcept>

#include "tests/support/jobsd_process.hpp"

namespace jobsd::test {

pg_test_schema::pg_test_schema() {
    std::random_device rd;
    name_ = "t" + std::to_string(rd()) + std::to_string(rd());
    const auto base = required_env("JOBSD_TEST_PG_URL");
    try {
        reconnect();
    } catch (const std::exception& e) {
        throw std::runtime_error(std::string("the test PostgreSQL cluster is not reachable (") + e.what() +
                                 "); scripts/test.sh starts it");
    }
    exec("CREATE SCHEMA " + name_);
    url_ = base + (base.find('?') == std::string::npos ? "?" : "&") + "options=-c%20search_path%3D" + name_;
}

pg_test_schema::~pg_test_schema() {
    try {
        if (PQstatus(admin_.get()) != CONNECTION_OK) reconnect();
        exec("DROP SCHEMA " + name_ + " CASCADE");
    } catch (...) {  // a leftover schema in a throwaway cluster harms nothing
    }
}

void pg_test_schema::reconnect() {
    const std::string url = required_env("JOBSD_TEST_PG_URL");
    const char* keys[] = {"dbname", "connect_timeout", nullptr};
    const char* values[] = {url.c_str(), "10", nullptr};
    admin_.reset(PQconnectdbParams(keys, values, 1));
    if (PQstatus(admin_.get()) != CONNECTION_OK)
        throw std::runtime_error(std::string("cannot connect to the test cluster: ") +
                                 PQerrorMessage(admin_.get()));
}

std::string pg_test_schema::exec(const std::string& sql) {
    const auto all = rows(sql);
    return all.empty() ? "<none>" : all.front();
}

std::vector<std::string> pg_test_schema::rows(const std::string& sql) {
    std::unique_ptr<PGresult, void (*)(PGresult*)> r(
        PQexec(admin_.get(), ("SET search_path TO " + name_ + "; " + sql).c_str()), &PQclear);
    const auto status = PQresultStatus(r.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
        throw std::runtime_error(std::string(PQresultErrorMessage(r.get())) + " in: " + sql);
    std::vector<std::string> out;
    if (PQnfields(r.get()) == 0) return out;
    for (int i = 0; i < PQntuples(r.get()); ++i) out.emplace_back(PQgetvalue(r.get(), i, 0));
    return out;
}

}  // namespace jobsd::test
