// A preload library for the durability test (LD_PRELOAD into jobsd): every successful fsync or
// fdatasync on a file whose path ends with $JOBSD_FSYNC_WATCH is appended as one line
// "<call> <path>\n" to $JOBSD_FSYNC_LOG, after the flush returned and before the caller goes on,
// so a test that reads a 201 finds the flush of its commit already logged.
//
// Thread safety: each line is one write(2) to an O_APPEND descriptor, which the kernel keeps whole.
#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace {

using flush_fn = int (*)(int);

struct watch {
    int log_fd = -1;
    std::string suffix;
    flush_fn real_fsync = nullptr;
    flush_fn real_fdatasync = nullptr;
};

// Set up before main (a constructor of the library), so no flush runs without its real function.
watch& config() {
    static watch w = [] {
        watch c;
        c.real_fsync = reinterpret_cast<flush_fn>(::dlsym(RTLD_NEXT, "fsync"));
        c.real_fdatasync = reinterpret_cast<flush_fn>(::dlsym(RTLD_NEXT, "fdatasync"));
        const char* log = std::getenv("JOBSD_FSYNC_LOG");
        const char* suffix = std::getenv("JOBSD_FSYNC_WATCH");
        if (log != nullptr && suffix != nullptr && *suffix != '\0') {
            c.log_fd = ::open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
            c.suffix = suffix;
        }
        return c;
    }();
    return w;
}

__attribute__((constructor)) void init() {
    config();
}

void note(const char* call, int fd) {
    const watch& w = config();
    if (w.log_fd < 0) return;
    char path[4096];
    const std::string link = "/proc/self/fd/" + std::to_string(fd);
    const ssize_t n = ::readlink(link.c_str(), path, sizeof path - 1);
    if (n <= 0) return;
    const std::string file(path, static_cast<std::size_t>(n));
    if (file.size() < w.suffix.size() ||
        file.compare(file.size() - w.suffix.size(), w.suffix.size(), w.suffix) != 0)
        return;
    const std::string line = std::string(call) + " " + file + "\n";
    [[maybe_unused]] const ssize_t written = ::write(w.log_fd, line.data(), line.size());
}

}  // namespace

extern "C" int fsync(int fd) {
    const int rc = config().real_fsync(fd);
    if (rc == 0) note("fsync", fd);
    return rc;
}

extern "C" int fdatasync(int fd) {
    const int rc = config().real_fdatasync(fd);
    if (rc == 0) note("fdatasync", fd);
    return rc;
}
