// The SQLite outbox's statements, shared by the writer, the lifecycle ops and the admin store:
// a job waiting for the broker is a row of `outbox` (its seq, schema step 10), not a flag in its
// own row. A held job (fair_key set) is in neither the outbox nor the broker.
#pragma once

#include <string_view>

namespace jobsd::store::sqlite_outbox {

// The job just inserted waits for the broker.
inline constexpr std::string_view enter_new = "INSERT INTO outbox (seq) VALUES (last_insert_rowid())";

// Job ?1 waits for the broker (again): a retry, a release from the fair queue, a requeue.
inline constexpr std::string_view enter =
    "INSERT OR IGNORE INTO outbox (seq) SELECT seq FROM jobs WHERE uuid = ?1";

// Job ?1 leaves the outbox (cancelled, expired, or failed before its mark): a small row
// deleted, the job's own row untouched.
inline constexpr std::string_view leave =
    "DELETE FROM outbox WHERE seq = (SELECT seq FROM jobs WHERE uuid = ?1)";

// Attempt ?2 of job ?1 was confirmed by the broker: the job leaves the outbox unless it was
// retried since (a later attempt waits there for its own message).
inline constexpr std::string_view leave_published =
    "DELETE FROM outbox WHERE seq = (SELECT seq FROM jobs WHERE uuid = ?1 AND attempt = ?2)";

// A condition on a row of `jobs`: the job waits in the outbox.
inline constexpr std::string_view waiting = "EXISTS (SELECT 1 FROM outbox o WHERE o.seq = jobs.seq)";

}  // namespace jobsd::store::sqlite_outbox
