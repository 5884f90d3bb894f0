#include "core/state_file.hpp"

#include "core/errors.hpp"
#include "core/json.hpp"
#include "core/ksuid.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace bsup::core {

namespace fs = std::filesystem;

namespace {

std::string errno_text() {
    return std::strerror(errno);
}

Error corrupt(const fs::path& path, const std::string& why) {
    return state_file_error(
        fmt::format("state file {} is corrupt: {}", path.string(), why),
        "it still names the session that may hold locks, so bsup does not overwrite it; move it "
        "aside, or run 'bsup deregister --force' to discard it");
}

// Creates the folder (and its parents) with mode 0700 when it does not exist.
void ensure_folder(const fs::path& folder) {
    if (folder.empty() || fs::is_directory(folder)) {
        return;
    }
    ensure_folder(folder.parent_path());
    if (::mkdir(folder.c_str(), 0700) != 0 && errno != EEXIST) {
        throw state_file_error(
            fmt::format("cannot create the folder {}: {}", folder.string(), errno_text()),
            "check its permissions, or choose another path with --state-file");
    }
}

void write_all(int fd, const std::string& data, const fs::path& path) {
    std::size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            throw state_file_error(
                fmt::format("cannot write the state file {}: {}", path.string(), errno_text()),
                "free some space or fix the folder's permissions; the previous state file is "
                "unchanged");
        }
        done += static_cast<std::size_t>(n);
    }
}

nlohmann::ordered_json to_document(const State& state) {
    const Session& s = state.session;
    return nlohmann::ordered_json{
        {"version", k_state_format_version},
        {"driver", std::string(to_string(state.driver))},
        {"endpoint", state.endpoint},
        {"session_id", s.id},
        {"session_handle", s.handle},
        {"service", s.service},
        {"ttl", format_duration(s.ttl)},
        {"ttl_ms", s.ttl.count()},
        {"created_at", format_rfc3339(s.created_at)},
    };
}

// An integer field, or `fallback` when absent. A fraction or a number too large for an integer
// is a wrong type (a corrupt file), not a conversion with undefined behaviour (found by fuzzing).
long long integer_field(const nlohmann::ordered_json& j, const char* key, long long fallback,
                        const fs::path& path) {
    auto it = j.find(key);
    if (it == j.end()) {
        return fallback;
    }
    if (!it->is_number_integer()) {
        throw corrupt(path, fmt::format("\"{}\" is not an integer", key));
    }
    return it->get<long long>();
}

State from_document(const nlohmann::ordered_json& j, const fs::path& path) {
    if (!j.is_object()) {
        throw corrupt(path, "not a JSON object");
    }
    long long version = integer_field(j, "version", 0, path);
    if (version != k_state_format_version) {
        throw state_file_error(
            fmt::format("state file {} has format version {}, this bsup reads version {}",
                        path.string(), version, k_state_format_version),
            "use the bsup that wrote it, or discard it with 'bsup deregister --force'");
    }
    State state;
    auto driver = parse_driver_name(j.value("driver", ""));
    if (!driver) {
        throw corrupt(path, "unknown driver");
    }
    state.driver = *driver;
    state.endpoint = j.value("endpoint", "");
    Session& s = state.session;
    s.id = j.value("session_id", "");
    if (!is_ksuid(s.id)) {
        throw corrupt(path, "session_id is not a KSUID");
    }
    s.handle = j.value("session_handle", s.id);
    s.service = j.value("service", Service{});
    s.ttl = Duration(integer_field(j, "ttl_ms", 0, path));
    if (s.ttl.count() <= 0) {
        throw corrupt(path, "ttl_ms is missing");
    }
    auto created = parse_rfc3339(j.value("created_at", ""));
    if (!created) {
        throw corrupt(path, "created_at is not an RFC 3339 time");
    }
    s.created_at = *created;
    return state;
}

} // namespace

fs::path state_file_path(const std::optional<std::string>& flag, const Environment& env) {
    if (flag && !flag->empty()) {
        return *flag;
    }
    if (auto from_env = env("BSUP_STATE_FILE")) {
        return *from_env;
    }
    if (auto xdg = env("XDG_STATE_HOME")) {
        return fs::path(*xdg) / "bsup" / "state.json";
    }
    if (auto home = env("HOME")) {
        return fs::path(*home) / ".local" / "state" / "bsup" / "state.json";
    }
    throw usage_error("cannot find the state file: neither XDG_STATE_HOME nor HOME is set",
                      "pass --state-file or set BSUP_STATE_FILE");
}

StateFile::StateFile(fs::path path) : m_path(std::move(path)) {}

std::optional<State> StateFile::read() const {
    int fd = ::open(m_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT) {
            return std::nullopt;
        }
        throw state_file_error(
            fmt::format("cannot read the state file {}: {}", m_path.string(), errno_text()),
            "check its permissions and owner (it must be a regular file, mode 0600)");
    }
    struct stat st {};
    std::string data;
    bool ok = ::fstat(fd, &st) == 0;
    if (ok && S_ISREG(st.st_mode) && (st.st_mode & 077) == 0) {
        char buf[4096];
        ssize_t n = 0;
        while ((n = ::read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
            if (n > 0) {
                data.append(buf, static_cast<std::size_t>(n));
            }
        }
        ok = n == 0;
    }
    int saved = errno;
    ::close(fd);
    if (!S_ISREG(st.st_mode)) {
        throw state_file_error(fmt::format("state file {} is not a regular file", m_path.string()),
                               "pass --state-file with the path of a file");
    }
    if ((st.st_mode & 077) != 0) {
        throw state_file_error(fmt::format("state file {} has mode {:04o}; others may read it",
                                           m_path.string(), st.st_mode & 07777),
                               fmt::format("make it private with 'chmod 600 {}'", m_path.string()));
    }
    if (!ok) {
        throw state_file_error(
            fmt::format("cannot read the state file {}: {}", m_path.string(), std::strerror(saved)),
            "check the disk and the file's permissions");
    }
    nlohmann::ordered_json j = nlohmann::ordered_json::parse(data, nullptr, false);
    if (j.is_discarded()) {
        throw corrupt(m_path, data.empty() ? "empty" : "not valid JSON (truncated?)");
    }
    try {
        return from_document(j, m_path);
    } catch (const nlohmann::ordered_json::exception&) {
        throw corrupt(m_path, "a field has the wrong type");
    }
}

void StateFile::write(const State& state) const {
    ensure_folder(m_path.parent_path());
    std::string data = to_document(state).dump(2) + "\n";
    fs::path tmp = m_path;
    tmp += fmt::format(".tmp.{}", ::getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        throw state_file_error(
            fmt::format("cannot create {}: {}", tmp.string(), errno_text()),
            "check the folder's permissions, or choose another path with --state-file");
    }
    try {
        write_all(fd, data, m_path);
        if (::fsync(fd) != 0) {
            throw state_file_error(
                fmt::format("cannot sync the state file {}: {}", m_path.string(), errno_text()),
                "the previous state file is unchanged");
        }
    } catch (...) {
        ::close(fd);
        ::unlink(tmp.c_str());
        throw;
    }
    ::close(fd);
    if (::rename(tmp.c_str(), m_path.c_str()) != 0) {
        std::string why = errno_text();
        ::unlink(tmp.c_str());
        throw state_file_error(
            fmt::format("cannot replace the state file {}: {}", m_path.string(), why),
            "check the folder's permissions; the previous state file is unchanged");
    }
    fs::path folder = m_path.parent_path().empty() ? fs::path(".") : m_path.parent_path();
    int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
        ::fsync(dir);
        ::close(dir);
    }
    remove_orphaned_temporaries(folder);
}

// A writer killed between creating its temporary file and renaming it (SIGKILL of a CI job)
// leaves "<name>.tmp.<pid>" behind; the next successful write removes those whose process is
// gone, so they never pile up. Best effort: a failure here changes nothing that matters.
void StateFile::remove_orphaned_temporaries(const fs::path& folder) const {
    std::string prefix = m_path.filename().string() + ".tmp.";
    std::error_code ec;
    for (const fs::directory_entry& entry : fs::directory_iterator(folder, ec)) {
        std::string name = entry.path().filename().string();
        if (name.rfind(prefix, 0) != 0) {
            continue;
        }
        char* end = nullptr;
        long pid = std::strtol(name.c_str() + prefix.size(), &end, 10);
        if (pid > 0 && *end == '\0' && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
            ::unlink(entry.path().c_str());
        }
    }
}

void StateFile::remove() const {
    if (::unlink(m_path.c_str()) != 0 && errno != ENOENT) {
        throw state_file_error(
            fmt::format("cannot remove the state file {}: {}", m_path.string(), errno_text()),
            "check the folder's permissions");
    }
}

StateFile::Guard::Guard(const fs::path& state_path) {
    ensure_folder(state_path.parent_path());
    fs::path lock_path = state_path;
    lock_path += ".lock";
    m_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (m_fd < 0) {
        throw state_file_error(
            fmt::format("cannot open the lock file {}: {}", lock_path.string(), errno_text()),
            "check the folder's permissions, or choose another path with --state-file");
    }
    while (::flock(m_fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            int saved = errno;
            ::close(m_fd);
            throw state_file_error(
                fmt::format("cannot lock {}: {}", lock_path.string(), std::strerror(saved)),
                "is the folder on a file system without locks?");
        }
    }
}

StateFile::Guard::~Guard() {
    if (m_fd >= 0) {
        ::close(m_fd); // releases the flock
    }
}

} // namespace bsup::core
