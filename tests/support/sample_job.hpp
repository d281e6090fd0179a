// A job as the store tests write it: a new uuid, account acc_a, a video job of project-1 in
// session-1, created at `created_ms` (a fixed instant unless the test needs the present).
#pragma once

#include <cstdint>
#include <string>

#include "model/uuid.hpp"
#include "store/job_record.hpp"

namespace jobsd::test {

inline store::job_record sample_job(std::string input = R"({"type":"video"})",
                                    std::int64_t created_ms = 1'700'000'000'000) {
    store::job_record j;
    j.uuid = model::new_uuid();
    j.account_id = "acc_a";
    j.source_id = "project-1";
    j.type = model::job_type::video;
    j.session_id = "session-1";
    j.input = std::move(input);
    j.created_ms = created_ms;
    j.updated_ms = created_ms;
    return j;
}

}  // namespace jobsd::test
