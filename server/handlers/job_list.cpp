// One row more than the page is read, so a last page is known to be last and gets no next link.
// Pages are stable while jobs arrive: the cursor is the last job's (created_ms, uuid), and the
// next page starts strictly after it in that order.
#include "server/handlers/job_list.hpp"

#include "server/error_boundary.hpp"
#include "server/job_json.hpp"
#include "server/list_query.hpp"
#include "server/services.hpp"
#include "server/use_nothrow.hpp"

namespace jobsd::server::handlers {

namespace asio = boost::asio;

namespace {

// How many of `jobs` fit in `max_bytes` of body (at least one, so every page moves forward).
std::size_t fitting(const std::vector<model::job>& jobs, std::size_t max_bytes) {
    std::size_t bytes = 0;
    for (std::size_t i = 0; i < jobs.size(); ++i) {
        // The input is shown twice (input, and its values), plus the output and the fixed members.
        bytes += 2 * jobs[i].input.size() + (jobs[i].output ? jobs[i].output->size() : 0) + 512;
        if (bytes > max_bytes && i > 0) return i;
    }
    return jobs.size();
}

}  // namespace

asio::awaitable<response> list_jobs(const request_context& ctx) {
    auto parsed = parse_list_query(ctx.target);
    if (auto* error = std::get_if<model::request_error>(&parsed)) co_return request_error_response(*error);
    auto& request = std::get<list_request>(parsed);
    store::job_query query = std::move(request.query);
    query.account_id = ctx.who.account_id;
    const std::size_t page = query.limit;
    query.limit = page + 1;
    auto [ec, jobs] = co_await store::async_list_jobs(ctx.svc.store, std::move(query), use_nothrow);
    throw_on_failure(ec, "list jobs");

    bool more = jobs.size() > page;
    jobs.resize(std::min(jobs.size(), page));
    if (const auto fit = fitting(jobs, ctx.svc.options.list_max_bytes); fit < jobs.size()) {
        jobs.resize(fit);
        more = true;
    }
    std::string cursor, next;
    if (more) {
        cursor = encode_cursor({jobs.back().created_ms, jobs.back().uuid});
        next = "/jobs/v2?" + request.other_params + "cursor=" + cursor;
    }
    auto res = json_response(http::status::ok, job_list_body(jobs, cursor, next));
    if (more) res.set(http::field::link, "<" + next + ">; rel=\"next\"");
    co_return res;
}

}  // namespace jobsd::server::handlers
