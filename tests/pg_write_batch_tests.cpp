// A PostgreSQL write batch's plain creates become one statement (pg_ops::coalesce_creates): at
// the first one's place, the others' order kept, each create answered on its own.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "model/uuid.hpp"
#include "store/pg_ops.hpp"
#include "store/store_error.hpp"
#include "tests/support/pg_binary_array_reader.hpp"

using namespace jobsd::store;

namespace {

struct answers {
    std::vector<error_code> got;
    pg_handler<> handler() {
        return [this](error_code ec) { got.push_back(ec); };
    }
};

job_record plain_job(std::string key = "") {
    job_record j;
    j.uuid = jobsd::model::new_uuid();
    j.account_id = "acc";
    j.source_id = "p";
    j.input = "{}";
    j.idempotency_key = std::move(key);
    j.request_hash = j.idempotency_key.empty() ? "" : "h";
    return j;
}

std::vector<pg_statement> statements_of(const pg_op& op) {
    std::vector<pg_statement> out;
    op.add(out);
    return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_write_batch_s_plain_creates_become_one_statement_in_their_order) {
    answers a;
    const auto first = plain_job(), second = plain_job(), keyed = plain_job("key"), third = plain_job();
    std::vector<std::unique_ptr<pg_op>> batch;
    const auto create = [&](const job_record& j) {
        return pg_ops::make_create_job_op(j, "me", std::chrono::seconds(30), std::chrono::hours(24),
                                          a.handler());
    };
    batch.push_back(pg_ops::make_mark_published_op({{"u0", 1}}, a.handler()));
    batch.push_back(create(first));
    batch.push_back(create(keyed));
    batch.push_back(create(second));
    batch.push_back(create(third));
    pg_ops::coalesce_creates(batch);

    BOOST_TEST_REQUIRE(batch.size() == 3u);
    BOOST_TEST(statements_of(*batch[0]).front().sql == "mark_published");
    const auto many = statements_of(*batch[1]);
    BOOST_TEST_REQUIRE(many.size() == 1u);
    BOOST_TEST(many[0].sql == "insert_jobs_many");
    BOOST_TEST_REQUIRE(many[0].params[2].value.has_value());
    const auto uuids = jobsd::test::read_pg_binary_array(*many[0].params[2].value, 25).elements;
    BOOST_TEST((uuids == std::vector<std::optional<std::string>>{first.uuid, second.uuid, third.uuid}));
    BOOST_TEST(batch[1]->jobs() == 3u);
    const auto keyed_statements = statements_of(*batch[2]);  // its key released first, then its insert
    BOOST_TEST_REQUIRE(keyed_statements.size() == 2u);
    BOOST_TEST(keyed_statements[1].sql == "insert_job");

    // A failed batch answers each of the three creates with the failure.
    batch[1]->finish(store_errc::io, {});
    BOOST_TEST(a.got == std::vector<error_code>(3, error_code(store_errc::io)), "one answer per create");
}

BOOST_AUTO_TEST_CASE(a_lone_plain_create_runs_as_it_came) {
    answers a;
    std::vector<std::unique_ptr<pg_op>> batch;
    batch.push_back(pg_ops::make_create_job_op(plain_job(), "me", std::chrono::seconds(30),
                                               std::chrono::hours(24), a.handler()));
    batch.push_back(pg_ops::make_create_job_op(plain_job("key"), "me", std::chrono::seconds(30),
                                               std::chrono::hours(24), a.handler()));
    pg_ops::coalesce_creates(batch);
    BOOST_TEST_REQUIRE(batch.size() == 2u);
    BOOST_TEST(statements_of(*batch[0]).front().sql == "insert_job");
}
