// job: look at one job, at the outbox and at stuck jobs, and send dead-lettered or stuck jobs round again.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include <cmath>
#include <ostream>

#include "admin/commands.hpp"
#include "admin/output.hpp"
#include "model/clock.hpp"
#include "model/job_event.hpp"
#include "model/job_type.hpp"
#include "model/uuid.hpp"
#include "store/admin_store.hpp"

namespace jobsd::admin {

namespace json = boost::json;

namespace {

// Stored JSON text as JSON; text that does not parse is shown as a string rather than hidden.
json::value stored_json(const std::optional<std::string>& text) {
    if (!text) return nullptr;
    boost::system::error_code ec;
    auto v = json::parse(*text, ec);
    return ec ? json::value(*text) : v;
}

json::object job_json(const store::admin_job& a) {
    const auto& j = a.job;
    json::value progress = nullptr, version = nullptr;
    if (j.progress) progress = *j.progress;
    if (j.version) {
        // A whole version (the studio sends 2) reads as an integer, as in the job message.
        if (std::trunc(*j.version) == *j.version && std::fabs(*j.version) < 9.0e15)
            version = static_cast<std::int64_t>(*j.version);
        else
            version = *j.version;
    }
    return {{"uuid", j.uuid},
            {"account_id", j.account_id},
            {"source_id", j.source_id},
            {"job_type", model::to_string(j.type)},
            {"job_status", model::to_string(j.status)},
            {"session_id", j.session_id},
            {"version", version},
            {"progress", progress},
            {"error", j.error ? json::value(*j.error) : json::value(nullptr)},
            {"output", stored_json(j.output)},
            {"input", stored_json(j.input)},
            {"idempotency_key",
             j.idempotency_key.empty() ? json::value(nullptr) : json::value(j.idempotency_key)},
            {"created_at", time_json(j.created_ms)},
            {"updated_at", time_json(j.updated_ms)},
            {"attempt", j.attempt},
            {"expires_at", time_json(j.expires_at_ms)},
            {"retry_at", time_json(j.retry_at_ms)},
            {"cancel_requested_at", time_json(j.cancel_requested_ms)},
            {"published", a.published},
            {"seq", a.seq}};
}

command job_show() {
    return {"job",
            "show",
            {"UUID"},
            {},
            "show one job, every stored field, as JSON",
            "Any account's job; \"published\" says whether the broker has confirmed it.",
            [](const invocation& inv, context& ctx) {
                if (!model::is_uuid(inv.args[0]))
                    throw cli_error("\"" + inv.args[0] + "\" is not a job uuid", exit_usage);
                auto r = ctx.store().find_job(inv.args[0]);
                if (!r) fail(r.error(), inv.args[0]);
                write_json(ctx.out, job_json(*r));
            }};
}

command job_unpublished() {
    return {
        "job",
        "unpublished",
        {},
        {{"--limit", "N", "at most N jobs (default 100)"}},
        "list jobs the broker has not confirmed yet (the outbox), oldest first",
        "With publishing on, a running jobsd sends these; with amqp.enabled false they stay here.",
        [](const invocation& inv, context& ctx) {
            const auto limit = parse_count("--limit", inv.value("--limit", "100"), 1, 1'000'000);
            const auto jobs = ctx.store().list_unpublished(limit);
            if (ctx.json) {
                json::array out;
                for (const auto& a : jobs)
                    out.push_back(json::object{{"seq", a.seq},
                                               {"uuid", a.job.uuid},
                                               {"job_type", model::to_string(a.job.type)},
                                               {"job_status", model::to_string(a.job.status)},
                                               {"account_id", a.job.account_id},
                                               {"created_at", time_json(a.job.created_ms)}});
                write_json(ctx.out, out);
                return;
            }
            std::vector<table_row> rows;
            for (const auto& a : jobs)
                rows.push_back({std::to_string(a.seq), a.job.uuid, std::string(model::to_string(a.job.type)),
                                std::string(model::to_string(a.job.status)), a.job.account_id,
                                time_text(a.job.created_ms)});
            write_table(ctx.out, {"SEQ", "UUID", "TYPE", "STATUS", "ACCOUNT", "CREATED"}, rows);
        }};
}

// A job type named on the command line; cli_error(exit_usage) listing the types otherwise.
model::job_type job_type_arg(const std::string& text) {
    if (auto type = model::parse_job_type(text)) return *type;
    std::string known;
    for (auto t : model::all_job_types)
        known += (known.empty() ? "" : ", ") + std::string(model::to_string(t));
    throw cli_error("unknown job type \"" + text + "\" (one of " + known + ")", exit_usage);
}

// "600" (seconds), "90s", "15m", "2h", "1d": a duration of at least a second, in milliseconds.
std::int64_t parse_age(const std::string& flag, const std::string& text) {
    static const std::pair<char, std::int64_t> units[] = {
        {'s', 1'000}, {'m', 60'000}, {'h', 3'600'000}, {'d', 86'400'000}};
    if (!text.empty() && text.back() >= '0' && text.back() <= '9')
        return static_cast<std::int64_t>(parse_count(flag, text, 1, 366u * 86'400)) * 1'000;
    if (text.size() >= 2)
        for (const auto& [unit, ms] : units)
            if (text.back() == unit)
                return static_cast<std::int64_t>(
                           parse_count(flag, text.substr(0, text.size() - 1), 1, 1'000'000)) *
                       ms;
    throw cli_error(
        flag + " takes a duration such as 600 (seconds), 90s, 15m, 2h or 1d, got \"" + text + "\"",
        exit_usage);
}

command job_requeue_dead() {
    return {
        "job",
        "requeue-dead",
        {"TYPE"},
        {{"--limit", "N", "at most N jobs, oldest first (default 1000)"}},
        "send the dead-lettered jobs of a type round again",
        "A job the broker dead-lettered (its delivery limit was reached) is marked FAILED by jobsd\n"
        "with an error starting \"dead-lettered: \"; jobs a worker reported FAILED are left alone.\n"
        "Each such job of TYPE is set back to QUEUED as its next attempt, unpublished, with error, progress "
        "and output\n"
        "cleared (an operator override of the forward-only status rule), in one transaction. A\n"
        "running jobsd with publishing on then sends it again from its outbox: at its next relay scan\n"
        "(amqp.relay_interval_ms, 30 s by default) or reconnect. Its worker's events apply as for a\n"
        "new job. The broker is not touched: jobsd itself empties the dead-letter queues.",
        [](const invocation& inv, context& ctx) {
            const auto type = job_type_arg(inv.args[0]);
            const auto limit = parse_count("--limit", inv.value("--limit", "1000"), 1, 1'000'000);
            const auto uuids = ctx.store().requeue_dead_lettered(type, limit, model::now_ms());
            if (ctx.json) {
                json::array out;
                for (const auto& u : uuids) out.emplace_back(u);
                write_json(ctx.out, json::object{{"requeued", out}});
            } else {
                for (const auto& u : uuids) ctx.out << u << "\n";
            }
            ctx.err << uuids.size() << " dead-lettered " << inv.args[0] << " job(s) requeued"
                    << (uuids.empty() ? "" : "; a running jobsd publishes them again at its next relay scan")
                    << "\n";
        }};
}

command job_stuck() {
    return {
        "job",
        "stuck",
        {},
        {{"--older-than", "AGE",
          "not updated for this long: 600 (seconds), 90s, 15m, 2h, 1d (default 600, jobsd's "
          "lifecycle.stuck_after_s)"},
         {"--type", "TYPE", "of one job type only"},
         {"--limit", "N", "at most N jobs (default 100)"}},
        "list published jobs still QUEUED, STARTED or IN_PROGRESS after AGE without an update, the longest "
        "silent first",
        "A job the broker has that is not terminal: no worker took it (none running for its type), its\n"
        "worker hangs or died with it without the broker noticing yet, or its outcome was lost. Jobs not\n"
        "yet published are the outbox instead (job unpublished). jobsd counts the STARTED and\n"
        "IN_PROGRESS ones per type at /metrics (jobsd_jobs_stuck) with each type's own bound;\n"
        "`job requeue UUID` runs one of those again.",
        [](const invocation& inv, context& ctx) {
            const auto older_ms = parse_age("--older-than", inv.value("--older-than", "600"));
            const auto limit = parse_count("--limit", inv.value("--limit", "100"), 1, 1'000'000);
            std::optional<model::job_type> type;
            if (inv.has("--type")) type = job_type_arg(inv.value("--type"));
            const auto now = model::now_ms();
            const auto jobs = ctx.store().list_stuck(now - older_ms, type, limit);
            if (ctx.json) {
                json::array out;
                for (const auto& a : jobs) out.push_back(job_json(a));
                write_json(ctx.out, out);
                return;
            }
            std::vector<table_row> rows;
            for (const auto& a : jobs)
                rows.push_back({a.job.uuid, std::string(model::to_string(a.job.type)),
                                std::string(model::to_string(a.job.status)), std::to_string(a.job.attempt),
                                a.job.progress ? std::to_string(*a.job.progress) : "-",
                                std::to_string((now - a.job.updated_ms) / 1000) + " s", a.job.account_id});
            write_table(ctx.out, {"UUID", "TYPE", "STATUS", "ATTEMPT", "PROGRESS", "SILENT", "ACCOUNT"},
                        rows);
        }};
}

command job_requeue() {
    return {"job",
            "requeue",
            {"UUID"},
            {},
            "run a stuck (STARTED or IN_PROGRESS) job again as its next attempt",
            "The job goes back to QUEUED as attempt + 1, unpublished, with progress and output cleared,\n"
            "and in the same transaction a cancel of the attempt it leaves is queued for its workers: a\n"
            "worker still holding it stops it, and nobody runs that attempt again. Events of the old\n"
            "attempt are ignored from now on. A running jobsd sends the cancel within a second and the\n"
            "job at its next relay scan (amqp.relay_interval_ms). A finished job is retried with\n"
            "POST /jobs/:id/retry instead.",
            [](const invocation& inv, context& ctx) {
                if (!model::is_uuid(inv.args[0]))
                    throw cli_error("\"" + inv.args[0] + "\" is not a job uuid", exit_usage);
                auto r = ctx.store().requeue_job(inv.args[0], model::now_ms());
                if (!r) fail(r.error(), inv.args[0]);
                if (ctx.json)
                    write_json(ctx.out, job_json(*r));
                else
                    ctx.out << r->job.uuid << "\n";
                ctx.err << "job " << r->job.uuid << " requeued as attempt " << r->job.attempt
                        << "; a running jobsd publishes it at its next relay scan\n";
            }};
}

}  // namespace

std::vector<command> job_commands() {
    return {job_show(), job_unpublished(), job_requeue_dead(), job_stuck(), job_requeue()};
}

}  // namespace jobsd::admin
