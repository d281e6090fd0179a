// The store's name for a job: the model's job type, as stored.
#pragma once

#include "model/job.hpp"

namespace jobsd::store {

using job_record = model::job;

}  // namespace jobsd::store
