// core/state_file: the parser of the state file's text, through StateFile::read() (which takes a
// path: the input is written to a private file first). A file either reads as a State
// or fails with a state file Error (exit 4); what reads writes back and reads again the same.
#include "core/state_file.hpp"
#include "core/errors.hpp"

#include <cstdint>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <string>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
using namespace bsup::core;

const fs::path& folder() {
    static const fs::path path = [] {
        // fuzz/run points TMPDIR at a folder of its own (on a tmpfs when it can) and removes it.
        fs::path p = fs::temp_directory_path() / ("bsup-fuzz-state-" + std::to_string(::getpid()));
        fs::create_directories(p);
        std::atexit([] {
            std::error_code ignored;
            fs::remove_all(folder(), ignored);
        });
        return p;
    }();
    return path;
}

void put(const fs::path& path, const std::uint8_t* data, std::size_t size) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        std::abort();
    }
    while (size > 0) {
        ssize_t n = ::write(fd, data, size);
        if (n <= 0) {
            std::abort();
        }
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    ::close(fd);
}

std::optional<State> read(const fs::path& path, bool& failed) {
    failed = false;
    try {
        return StateFile(path).read();
    } catch (const Error& e) {
        if (e.exit_code() != ExitCode::state_file) {
            std::abort();
        }
        failed = true;
        return std::nullopt;
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fs::path input = folder() / "state.json";
    put(input, data, size);
    bool failed = false;
    std::optional<State> state = read(input, failed);
    if (!state) {
        if (!failed) {
            std::abort(); // the file exists: a State or an Error, never "no file"
        }
        return 0;
    }
    fs::path copy = folder() / "copy.json";
    StateFile(copy).write(*state);
    std::optional<State> again = read(copy, failed);
    if (!again) {
        std::abort();
    }
    const Session& a = state->session;
    const Session& b = again->session;
    if (again->driver != state->driver || again->endpoint != state->endpoint || a.id != b.id ||
        a.handle != b.handle || a.ttl != b.ttl || a.created_at != b.created_at ||
        a.service.id != b.service.id || a.service.name != b.service.name ||
        a.service.version != b.service.version || a.service.address != b.service.address ||
        a.service.tags != b.service.tags || a.service.meta != b.service.meta) {
        std::abort();
    }
    return 0;
}
