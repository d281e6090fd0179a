// Messages of the admin error category.
#include "store/admin_error.hpp"

#include <string>

namespace jobsd::store {

namespace {

class category final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "jobsd.admin"; }
    std::string message(int ev) const override {
        switch (static_cast<admin_errc>(ev)) {
            case admin_errc::unknown_account:
                return "unknown account";
            case admin_errc::unknown_key:
                return "no key has that prefix";
            case admin_errc::ambiguous_prefix:
                return "more than one live key has that prefix";
            case admin_errc::unknown_job:
                return "unknown job";
            case admin_errc::account_exists:
                return "the account exists already";
            case admin_errc::owned_elsewhere:
                return "the id belongs to another account";
            case admin_errc::not_running:
                return "the job is not running";
        }
        return "unknown admin error";
    }
};

}  // namespace

const boost::system::error_category& admin_category() noexcept {
    static const category instance;
    return instance;
}

}  // namespace jobsd::store
