// Messages of the store error category.
#include "store/store_error.hpp"

#include <string>

namespace jobsd::store {

namespace {

class category final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "jobsd.store"; }
    std::string message(int ev) const override {
        switch (static_cast<store_errc>(ev)) {
            case store_errc::closed:
                return "store is closed";
            case store_errc::busy:
                return "store write queue is full";
            case store_errc::io:
                return "store I/O error";
            case store_errc::duplicate:
                return "duplicate key";
            case store_errc::unavailable:
                return "database unavailable";
        }
        return "unknown store error";
    }
};

}  // namespace

const boost::system::error_category& store_category() noexcept {
    static const category instance;
    return instance;
}

}  // namespace jobsd::store
