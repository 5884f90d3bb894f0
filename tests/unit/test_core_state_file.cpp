#include "core/errors.hpp"
#include "core/ksuid.hpp"
#include "core/state_file.hpp"
#include "tests/unit/support.hpp"
#include "tests/unit/temp_dir.hpp"

#include <algorithm>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <fstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace bsup;
using bsup::tests::TempDir;

namespace {

core::State make_state(const std::string& name, std::size_t tags = 0) {
    core::State state;
    state.driver = core::DriverName::sqlite;
    state.endpoint = "sqlite:/var/lib/bsup/bsup.db";
    state.session.id = core::new_ksuid();
    state.session.handle = state.session.id;
    state.session.service.id = state.session.id;
    state.session.service.name = name;
    state.session.service.address = "host-" + name;
    for (std::size_t i = 0; i < tags; ++i) {
        state.session.service.tags.push_back("tag-" + std::to_string(i));
    }
    state.session.service.meta = {{"owner", name}};
    state.session.ttl = std::chrono::minutes(15);
    state.session.created_at = core::from_unix_ms(1'780'000'000'123);
    return state;
}

bool same(const core::State& a, const core::State& b) {
    const core::Session& x = a.session;
    const core::Session& y = b.session;
    return a.driver == b.driver && a.endpoint == b.endpoint && x.id == y.id &&
           x.handle == y.handle && x.service.id == y.service.id &&
           x.service.name == y.service.name && x.service.address == y.service.address &&
           x.service.tags == y.service.tags && x.service.meta == y.service.meta && x.ttl == y.ttl &&
           x.created_at == y.created_at;
}

// Reads the file expecting exit 4; returns the error's message.
std::string expect_state_file_error(const core::StateFile& file) {
    try {
        (void)file.read();
    } catch (const core::Error& e) {
        CHECK(e.exit_code() == core::ExitCode::state_file);
        CHECK_FALSE(e.hint().empty());
        return e.what();
    }
    FAIL("read() did not throw");
    return {};
}

bool has_temp_files(const std::filesystem::path& folder) {
    for (const std::string& name : tests::list_folder(folder)) {
        if (name.find(".tmp") != std::string::npos) {
            return true;
        }
    }
    return false;
}

} // namespace

TEST_CASE("state file: a missing file reads as no session") {
    TempDir tmp;
    CHECK_FALSE(core::StateFile(tmp / "state.json").read().has_value());
}

TEST_CASE("state file: write then read gives back every field") {
    TempDir tmp;
    core::StateFile file(tmp / "state.json");
    core::State state = make_state("writer", 3);
    state.driver = core::DriverName::consul;
    state.endpoint = "http://127.0.0.1:8500";
    state.session.handle = "0b9f2a5e-consul-handle";
    state.session.ttl = std::chrono::milliseconds(90'500);
    file.write(state);
    std::optional<core::State> back = file.read();
    REQUIRE(back.has_value());
    CHECK(same(*back, state));
    CHECK(tests::mode_of(file.path()) == 0600);
    CHECK(tests::list_folder(tmp.path()) == std::vector<std::string>{"state.json"});
}

TEST_CASE("state file: the folder is created with mode 0700, the file 0600") {
    TempDir tmp;
    core::StateFile file(tmp / "deep/er/bsup/state.json");
    file.write(make_state("a"));
    CHECK(tests::mode_of(tmp / "deep/er/bsup") == 0700);
    CHECK(tests::mode_of(tmp / "deep/er") == 0700);
    CHECK(tests::mode_of(file.path()) == 0600);
}

TEST_CASE("state file: the guard creates the folder 0700 and its lock file 0600") {
    TempDir tmp;
    core::StateFile file(tmp / "new/state.json");
    {
        core::StateFile::Guard guard = file.lock();
        CHECK(tests::mode_of(tmp / "new") == 0700);
        CHECK(tests::mode_of(tmp / "new/state.json.lock") == 0600);
    }
}

TEST_CASE("state file: a rewrite replaces the file and leaves no temporary file") {
    TempDir tmp;
    core::StateFile file(tmp / "state.json");
    core::State first = make_state("first", 50);
    core::State second = make_state("second");
    file.write(first);
    file.write(second);
    REQUIRE(file.read().has_value());
    CHECK(same(*file.read(), second));
    CHECK(tests::list_folder(tmp.path()) == std::vector<std::string>{"state.json"});
}

TEST_CASE("state file: a write removes the temporaries that killed writers left, only theirs") {
    TempDir tmp;
    pid_t child = ::fork();
    if (child == 0) {
        ::_exit(0);
    }
    ::waitpid(child, nullptr, 0); // `child` is now the PID of no process
    std::string dead = "state.json.tmp." + std::to_string(child);
    std::string alive = "state.json.tmp." + std::to_string(::getppid());
    for (const std::string& name : {dead, alive, std::string("other.json.tmp.1")}) {
        std::ofstream(tmp / name) << "{\"half\": ";
    }
    core::StateFile(tmp / "state.json").write(make_state("w"));
    std::vector<std::string> left = tests::list_folder(tmp.path());
    CHECK(std::find(left.begin(), left.end(), dead) == left.end());
    CHECK(std::find(left.begin(), left.end(), alive) != left.end()); // its writer may be at work
    CHECK(std::find(left.begin(), left.end(), "other.json.tmp.1") != left.end());
}

TEST_CASE("state file: a reader never sees a partial file while a writer rewrites it") {
    TempDir tmp;
    core::StateFile file(tmp / "state.json");
    // Two states of very different sizes: a non-atomic rewrite would show a truncated or mixed
    // file to the reader.
    const core::State small = make_state("small");
    const core::State large = make_state("large", 400);
    file.write(small);

    pid_t writer = ::fork();
    REQUIRE(writer >= 0);
    if (writer == 0) {
        int code = 0;
        try {
            for (int i = 0; i < 150; ++i) {
                file.write(i % 2 == 0 ? large : small);
            }
        } catch (...) {
            code = 1;
        }
        ::_exit(code);
    }
    int reads = 0;
    int bad = 0;
    int status = 0;
    for (;;) {
        bool writer_done = ::waitpid(writer, &status, WNOHANG) == writer;
        try {
            std::optional<core::State> seen = file.read();
            if (!seen || !(same(*seen, small) || same(*seen, large))) {
                ++bad;
            }
        } catch (const core::Error&) {
            ++bad;
        }
        ++reads;
        if (writer_done) {
            break;
        }
    }
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(reads > 50); // the reader ran all along, not once
    CHECK(bad == 0);
    CHECK_FALSE(has_temp_files(tmp.path()));
}

TEST_CASE("state file: corrupt, truncated and empty files are exit 4 and left as they were") {
    TempDir tmp;
    core::StateFile file(tmp / "state.json");
    file.write(make_state("valid", 5));
    const std::string valid = tests::read_bytes(file.path());

    std::vector<std::pair<std::string, std::string>> cases = {
        {"garbage", "this is not json at all \x01\x02\xff"},
        {"truncated", valid.substr(0, valid.size() / 2)},
        {"truncated by one byte", valid.substr(0, valid.size() - 3)},
        {"empty", ""},
        {"a JSON array", "[1, 2, 3]\n"},
        {"a JSON string", "\"state\"\n"},
        {"null", "null"},
        {"no session id", R"({"version": 1, "driver": "sqlite", "ttl_ms": 1000,
                             "created_at": "2026-01-01T00:00:00.000Z"})"},
        {"a session id that is no KSUID",
         R"({"version": 1, "driver": "sqlite", "session_id": "not-a-ksuid", "ttl_ms": 1000,
             "created_at": "2026-01-01T00:00:00.000Z"})"},
        {"an unknown driver",
         R"({"version": 1, "driver": "etcd", "session_id": "2Ig1vIYWW3KpvUb2HNFd0Fy4UIF",
             "ttl_ms": 1000, "created_at": "2026-01-01T00:00:00.000Z"})"},
        {"a field of the wrong type",
         R"({"version": 1, "driver": "sqlite", "session_id": "2Ig1vIYWW3KpvUb2HNFd0Fy4UIF",
             "ttl_ms": "soon", "created_at": "2026-01-01T00:00:00.000Z"})"},
        {"no TTL",
         R"({"version": 1, "driver": "sqlite", "session_id": "2Ig1vIYWW3KpvUb2HNFd0Fy4UIF",
             "created_at": "2026-01-01T00:00:00.000Z"})"},
        {"a bad time",
         R"({"version": 1, "driver": "sqlite", "session_id": "2Ig1vIYWW3KpvUb2HNFd0Fy4UIF",
             "ttl_ms": 1000, "created_at": "yesterday"})"},
        {"another format version",
         R"({"version": 99, "driver": "sqlite", "session_id": "2Ig1vIYWW3KpvUb2HNFd0Fy4UIF",
             "ttl_ms": 1000, "created_at": "2026-01-01T00:00:00.000Z"})"},
    };
    for (const auto& [what, bytes] : cases) {
        CAPTURE(what);
        tests::write_bytes(file.path(), bytes);
        std::string message = expect_state_file_error(file);
        CHECK(message.find(file.path().string()) != std::string::npos);
        CHECK(tests::read_bytes(file.path()) == bytes);
        CHECK(tests::mode_of(file.path()) == 0600);
    }
    CHECK_FALSE(has_temp_files(tmp.path()));
}

TEST_CASE("state file: a mode wider than 0600 is refused, and the file is left alone") {
    TempDir tmp;
    core::StateFile file(tmp / "state.json");
    file.write(make_state("private"));
    const std::string bytes = tests::read_bytes(file.path());
    for (int mode : {0644, 0640, 0604, 0660, 0666, 0601}) {
        CAPTURE(mode);
        REQUIRE(::chmod(file.path().c_str(), static_cast<mode_t>(mode)) == 0);
        std::string message = expect_state_file_error(file);
        CHECK(message.find(file.path().string()) != std::string::npos);
        CHECK(tests::read_bytes(file.path()) == bytes);
        CHECK(tests::mode_of(file.path()) == static_cast<unsigned>(mode));
    }
    REQUIRE(::chmod(file.path().c_str(), 0600) == 0);
    CHECK(file.read().has_value());
    REQUIRE(::chmod(file.path().c_str(), 0400) == 0); // narrower is fine
    CHECK(file.read().has_value());
}

TEST_CASE("state file: a folder or a symbolic link in its place is exit 4") {
    TempDir tmp;
    std::filesystem::create_directory(tmp / "state.json");
    expect_state_file_error(core::StateFile(tmp / "state.json"));

    core::StateFile target(tmp / "real.json");
    target.write(make_state("target"));
    std::filesystem::create_symlink(tmp / "real.json", tmp / "link.json");
    expect_state_file_error(core::StateFile(tmp / "link.json"));
}

TEST_CASE("state file: remove() deletes the file and does not mind when it is gone") {
    TempDir tmp;
    core::StateFile file(tmp / "state.json");
    file.write(make_state("gone"));
    file.remove();
    CHECK_FALSE(std::filesystem::exists(file.path()));
    CHECK_NOTHROW(file.remove());
}

TEST_CASE("state file: many processes writing at once leave one whole state") {
    TempDir tmp;
    core::StateFile file(tmp / "state.json");
    constexpr int k_writers = 12;
    std::vector<core::State> states;
    for (int i = 0; i < k_writers; ++i) {
        states.push_back(
            make_state("writer-" + std::to_string(i), static_cast<std::size_t>(i * 20)));
    }
    std::vector<int> codes = tests::run_processes(k_writers, [&](int i) {
        for (int round = 0; round < 40; ++round) {
            file.write(states[static_cast<std::size_t>(i)]);
        }
        return 0;
    });
    CHECK(codes == std::vector<int>(k_writers, 0));
    std::optional<core::State> last = file.read();
    REQUIRE(last.has_value());
    int matches = 0;
    for (const core::State& s : states) {
        matches += same(*last, s) ? 1 : 0;
    }
    CHECK(matches == 1);
    CHECK(tests::mode_of(file.path()) == 0600);
    CHECK(tests::list_folder(tmp.path()) == std::vector<std::string>{"state.json"});
}

TEST_CASE("state file: the guard serializes processes") {
    TempDir tmp;
    core::StateFile file(tmp / "state.json");
    const std::filesystem::path counter = tmp / "counter";
    const std::filesystem::path inside = tmp / "inside";
    tests::write_bytes(counter, "0");
    constexpr int k_processes = 8;
    constexpr int k_rounds = 25;
    std::vector<int> codes = tests::run_processes(k_processes, [&](int) {
        for (int round = 0; round < k_rounds; ++round) {
            core::StateFile::Guard guard = file.lock();
            // A second holder at the same time would find the marker, or lose an increment.
            int fd = ::open(inside.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
            if (fd < 0) {
                return 2;
            }
            ::close(fd);
            int value = std::stoi(tests::read_bytes(counter));
            std::this_thread::sleep_for(std::chrono::microseconds(500));
            tests::write_bytes(counter, std::to_string(value + 1));
            ::unlink(inside.c_str());
        }
        return 0;
    });
    CHECK(codes == std::vector<int>(k_processes, 0));
    CHECK(tests::read_bytes(counter) == std::to_string(k_processes * k_rounds));
}

TEST_CASE("state file: the guard is released when it goes out of scope") {
    TempDir tmp;
    core::StateFile file(tmp / "state.json");
    { core::StateFile::Guard first = file.lock(); }
    // Another process can take it now; it would block forever if the first were still held.
    std::vector<int> codes = tests::run_processes(1, [&](int) {
        core::StateFile::Guard second = file.lock();
        return 0;
    });
    CHECK(codes == std::vector<int>{0});
}

TEST_CASE("state_file_path: --state-file, then BSUP_STATE_FILE, XDG_STATE_HOME, HOME") {
    using tests::fake_env;
    const std::map<std::string, std::string> all = {
        {"BSUP_STATE_FILE", "/env/state.json"}, {"XDG_STATE_HOME", "/xdg"}, {"HOME", "/home/u"}};
    CHECK(core::state_file_path(std::string("/flag/s.json"), fake_env(all)) == "/flag/s.json");
    CHECK(core::state_file_path(std::nullopt, fake_env(all)) == "/env/state.json");
    CHECK(core::state_file_path(std::string(), fake_env(all)) == "/env/state.json");
    CHECK(core::state_file_path(std::nullopt,
                                fake_env({{"XDG_STATE_HOME", "/xdg"}, {"HOME", "/home/u"}})) ==
          "/xdg/bsup/state.json");
    CHECK(core::state_file_path(std::nullopt, fake_env({{"HOME", "/home/u"}})) ==
          "/home/u/.local/state/bsup/state.json");
    // Empty values count as unset.
    CHECK(core::state_file_path(
              std::nullopt,
              fake_env({{"BSUP_STATE_FILE", ""}, {"XDG_STATE_HOME", ""}, {"HOME", "/home/u"}})) ==
          "/home/u/.local/state/bsup/state.json");
    CHECK(core::state_file_path(std::string("rel/s.json"), fake_env({})) == "rel/s.json");
    try {
        (void)core::state_file_path(std::nullopt, fake_env({}));
        FAIL("no HOME and no XDG_STATE_HOME should be an error");
    } catch (const core::Error& e) {
        CHECK(e.exit_code() == core::ExitCode::usage);
    }
}
