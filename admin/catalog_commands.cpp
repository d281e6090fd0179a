// project and image-prompt: what jobs resolve against. Files are read with the seed file's
// rules (store/seed.hpp), so a project means the same whether seeded or put here.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <ostream>

#include "admin/commands.hpp"
#include "admin/output.hpp"
#include "model/uuid.hpp"
#include "store/admin_store.hpp"
#include "store/seed.hpp"

namespace jobsd::admin {

namespace json = boost::json;

namespace {

constexpr const char* refresh_note =
    "running jobsd instances see it at their next catalog refresh (1 s by default)";

// The seed reader throws std::runtime_error naming the file and member: bad input, not an outage.
template <class F>
auto read_file(F&& f) {
    try {
        return f();
    } catch (const std::runtime_error& e) {
        throw cli_error(e.what());
    }
}

json::object project_json(const model::project& p) {
    return {{"id", p.id},
            {"account_id", p.account_id},
            {"name", p.name},
            {"type", p.type},
            {"start_date", time_json(p.start_ms)},
            {"end_date", time_json(p.end_ms)},
            {"mapping_fields", p.mapping_fields},
            {"strict_values", p.strict_values}};
}

json::object prompt_json(const model::image_prompt& ip) {
    return {{"id", ip.id}, {"account_id", ip.account_id}, {"name", ip.name}, {"prompt", ip.prompt}};
}

command project_put() {
    return {"project",
            "put",
            {"ACCOUNT", "FILE"},
            {},
            "add or update a project of an account from a JSON file",
            "FILE holds one object as in the seed file's accounts[].projects[]:\n"
            "  {\"id\": \"<uuid>\", \"name\": \"…\", \"type\": \"video\", \"start_date\": "
            "\"2025-01-01T00:00:00Z\",\n"
            "   \"end_date\": null, \"mapping_fields\": {\"title\": {\"label\": \"Title\", "
            "\"instructionType\": \"text\"}}}\n"
            "\"strict_values\": true makes every job check its values against mapping_fields.\n"
            "Without \"id\" a new project is made and its id printed; with one, that project is replaced\n"
            "(it must belong to ACCOUNT). Dates are ISO-8601; null or absent means open.",
            [](const invocation& inv, context& ctx) {
                auto p = read_file([&] { return store::load_project_file(inv.args[1], inv.args[0]); });
                if (p.id.empty()) p.id = model::new_uuid();
                if (auto r = ctx.store().put_project(p); !r)
                    fail(r.error(), r.error() == store::admin_errc::unknown_account ? p.account_id : p.id);
                if (ctx.json)
                    write_json(ctx.out, project_json(p));
                else
                    ctx.out << "project " << p.id << " of account " << p.account_id << " stored; "
                            << refresh_note << "\n";
            }};
}

command project_list() {
    return {"project",
            "list",
            {},
            {{"--account", "A", "only this account's projects"}},
            "list projects",
            "",
            [](const invocation& inv, context& ctx) {
                const auto projects = ctx.store().list_projects(inv.value("--account"));
                if (ctx.json) {
                    json::array out;
                    for (const auto& p : projects) out.push_back(project_json(p));
                    write_json(ctx.out, out);
                    return;
                }
                std::vector<table_row> rows;
                for (const auto& p : projects)
                    rows.push_back({p.id, p.account_id, p.type.empty() ? "-" : p.type, time_text(p.start_ms),
                                    time_text(p.end_ms), std::to_string(p.mapping_fields.size()),
                                    p.name.empty() ? "-" : p.name});
                write_table(ctx.out, {"ID", "ACCOUNT", "TYPE", "START", "END", "FIELDS", "NAME"}, rows);
            }};
}

command image_prompt_put() {
    return {"image-prompt",
            "put",
            {"ACCOUNT", "FILE"},
            {},
            "add or update an image prompt of an account from a JSON file",
            "FILE holds one object as in the seed file's accounts[].image_prompts[]:\n"
            "  {\"id\": \"<uuid>\", \"name\": \"…\", \"prompt\": \"…\"}\n"
            "Without \"id\" a new prompt is made and its id printed; with one, it is replaced.",
            [](const invocation& inv, context& ctx) {
                auto ip = read_file([&] { return store::load_image_prompt_file(inv.args[1], inv.args[0]); });
                if (ip.id.empty()) ip.id = model::new_uuid();
                if (auto r = ctx.store().put_image_prompt(ip); !r)
                    fail(r.error(), r.error() == store::admin_errc::unknown_account ? ip.account_id : ip.id);
                if (ctx.json)
                    write_json(ctx.out, prompt_json(ip));
                else
                    ctx.out << "image prompt " << ip.id << " of account " << ip.account_id << " stored; "
                            << refresh_note << "\n";
            }};
}

command image_prompt_list() {
    return {"image-prompt",
            "list",
            {},
            {{"--account", "A", "only this account's prompts"}},
            "list image prompts",
            "",
            [](const invocation& inv, context& ctx) {
                const auto prompts = ctx.store().list_image_prompts(inv.value("--account"));
                if (ctx.json) {
                    json::array out;
                    for (const auto& ip : prompts) out.push_back(prompt_json(ip));
                    write_json(ctx.out, out);
                    return;
                }
                std::vector<table_row> rows;
                for (const auto& ip : prompts)
                    rows.push_back({ip.id, ip.account_id, ip.name.empty() ? "-" : ip.name});
                write_table(ctx.out, {"ID", "ACCOUNT", "NAME"}, rows);
            }};
}

}  // namespace

std::vector<command> catalog_commands() {
    return {project_put(), project_list(), image_prompt_put(), image_prompt_list()};
}

}  // namespace jobsd::admin
