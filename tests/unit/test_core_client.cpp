#include "core/client.hpp"
#include "core/errors.hpp"
#include "core/ksuid.hpp"
#include "drivers/registry.hpp"
#include "tests/unit/support.hpp"
#include "tests/unit/temp_dir.hpp"

#include <doctest/doctest.h>
#include <thread>

using namespace bsup;
using namespace std::chrono_literals;
using tests::TempDir;

// The client against the real sqlite driver, its database and state files in a fresh folder.

namespace {

core::ClientConfig config_for(const TempDir& tmp, const std::string& state_name,
                              core::Duration ttl = 15min) {
    core::ConnectionRequest request;
    request.connection = "sqlite:" + (tmp / "bsup.db").string();
    core::ClientConfig config;
    config.connection = core::resolve_connection(request, tests::fake_env({}));
    config.state_path = tmp / state_name;
    config.service = core::default_service();
    config.ttl = ttl;
    return config;
}

core::Client client_for(const core::ClientConfig& config,
                        std::vector<std::string>* notices = nullptr) {
    return core::Client(config, &drivers::make_supervisor, [notices](const std::string& text) {
        if (notices != nullptr) {
            notices->push_back(text);
        }
    });
}

std::string session_in(const std::filesystem::path& state_path) {
    std::optional<core::State> state = core::StateFile(state_path).read();
    return state ? state->session.id : std::string();
}

// Runs `action` expecting a core::Error with `code`.
template <typename F> void expect_exit(core::ExitCode code, F&& action) {
    try {
        action();
        FAIL("expected an error");
    } catch (const core::Error& e) {
        CAPTURE(e.what());
        CHECK(e.exit_code() == code);
    }
}

} // namespace

TEST_CASE("client: lock without a session starts one and writes the state file") {
    TempDir tmp;
    core::ClientConfig config = config_for(tmp, "a/state.json");
    core::Client a = client_for(config);
    core::Acquisition got = a.lock("migrations/warehouse");
    CHECK(got.acquired);
    std::string id = session_in(config.state_path);
    CHECK(core::is_ksuid(id));
    CHECK(got.semaphore.session_id == id);
    CHECK(got.semaphore.acquirer_name == "bsup");
    CHECK(got.semaphore.acquirer_address == core::default_service().address);
    CHECK(got.semaphore.lock_index == 1);
    CHECK(tests::mode_of(config.state_path) == 0600);
    CHECK(tests::mode_of(config.state_path.parent_path()) == 0700);

    std::optional<core::State> state = a.current_state();
    REQUIRE(state.has_value());
    CHECK(state->driver == core::DriverName::sqlite);
    CHECK(state->endpoint == config.connection.endpoint);
    CHECK(state->session.ttl == 15min);

    // A fresh client (the next bsup invocation) finds the same session and the lock.
    core::Client again = client_for(config);
    core::Semaphore status = again.status("migrations/warehouse");
    CHECK(status.is_acquired == true);
    CHECK(status.session_id == id);
}

TEST_CASE("client: another session is refused, cannot unlock, and can lock once released") {
    TempDir tmp;
    core::ClientConfig config_a = config_for(tmp, "a.json");
    core::ClientConfig config_b = config_for(tmp, "b.json");
    core::Client a = client_for(config_a);
    core::Client b = client_for(config_b);

    REQUIRE(a.lock("k").acquired);
    const std::string id_a = session_in(config_a.state_path);

    core::Acquisition refused = b.lock("k");
    CHECK_FALSE(refused.acquired);
    CHECK(refused.semaphore.is_acquired == true);
    CHECK(refused.semaphore.session_id == id_a);
    CHECK(b.status("k").session_id == id_a);

    core::Release not_mine = b.unlock("k", false);
    CHECK_FALSE(not_mine.released);
    CHECK(not_mine.previous.session_id == id_a);
    CHECK(a.status("k").session_id == id_a);

    core::Release mine = a.unlock("k", false);
    CHECK(mine.released);
    CHECK(mine.previous.session_id == id_a);
    CHECK(a.status("k").is_acquired == false);
    CHECK_FALSE(a.unlock("k", false).released);

    core::Acquisition now_b = b.lock("k");
    CHECK(now_b.acquired);
    CHECK(now_b.semaphore.session_id == session_in(config_b.state_path));
    CHECK(now_b.semaphore.lock_index == 2);
}

TEST_CASE("client: locking a key this session holds succeeds and changes nothing") {
    TempDir tmp;
    core::Client a = client_for(config_for(tmp, "a.json"));
    core::Acquisition first = a.lock("k");
    core::Acquisition second = a.lock("k");
    CHECK(second.acquired);
    CHECK(second.semaphore.lock_index == first.semaphore.lock_index);
    CHECK(second.semaphore.acquired_at == first.semaphore.acquired_at);
}

TEST_CASE("client: register reuses a live session; deregister releases and removes the file") {
    TempDir tmp;
    core::ClientConfig config = config_for(tmp, "state.json");
    config.service.name = "blacksmith-gateway";
    config.service.address = ":9090";
    core::Client c = client_for(config);
    core::Registration first = c.register_session();
    CHECK(first.created);
    core::Registration second = c.register_session();
    CHECK_FALSE(second.created);
    CHECK(second.session.id == first.session.id);

    std::vector<core::Service> services = c.services();
    REQUIRE(services.size() == 1);
    CHECK(services[0].name == "blacksmith-gateway");
    CHECK(services[0].address == ":9090");
    CHECK(services[0].id == first.session.id);

    REQUIRE(c.lock("b/two").acquired);
    REQUIRE(c.lock("a/one").acquired);
    std::vector<core::Semaphore> held = c.held();
    REQUIRE(held.size() == 2);
    CHECK(held[0].key == "a/one");
    CHECK(held[1].key == "b/two");

    core::Deregistration gone = c.deregister(false);
    REQUIRE(gone.session.has_value());
    CHECK(gone.session->id == first.session.id);
    CHECK(gone.released == std::vector<std::string>{"a/one", "b/two"});
    CHECK_FALSE(std::filesystem::exists(config.state_path));
    CHECK(c.held().empty());
    CHECK(c.services().empty());

    core::Deregistration nothing = c.deregister(false);
    CHECK_FALSE(nothing.session.has_value());
}

TEST_CASE("client: a corrupt state file is exit 4 and never overwritten") {
    TempDir tmp;
    core::ClientConfig config = config_for(tmp, "state.json");
    core::Client holder = client_for(config_for(tmp, "holder.json"));
    REQUIRE(holder.lock("k").acquired);

    const std::string garbage = "{\"version\": 1, \"driver\": \"sqlite\", \"sess";
    tests::write_bytes(config.state_path, garbage);
    core::Client c = client_for(config);
    expect_exit(core::ExitCode::state_file, [&] { c.lock("k"); });
    expect_exit(core::ExitCode::state_file, [&] { c.lock("other"); });
    expect_exit(core::ExitCode::state_file, [&] { c.unlock("k", false); });
    expect_exit(core::ExitCode::state_file, [&] { c.register_session(); });
    expect_exit(core::ExitCode::state_file, [&] { c.renew(); });
    expect_exit(core::ExitCode::state_file, [&] { c.deregister(false); });
    CHECK(tests::read_bytes(config.state_path) == garbage);
    CHECK(c.status("other").is_acquired == false); // nothing was taken meanwhile
    CHECK(holder.status("k").session_id == session_in(tmp / "holder.json"));

    std::vector<std::string> notices;
    core::Client forced = client_for(config, &notices);
    core::Deregistration discarded = forced.deregister(true);
    CHECK_FALSE(discarded.session.has_value());
    CHECK_FALSE(std::filesystem::exists(config.state_path));
    CHECK(notices.size() == 1);
    CHECK(forced.lock("other").acquired);
}

TEST_CASE("client: a state file of another backend is exit 4 and left as it was") {
    TempDir tmp;
    core::ClientConfig elsewhere = config_for(tmp, "state.json");
    elsewhere.connection.endpoint = "sqlite:" + (tmp / "other.db").string();
    elsewhere.connection.connection = elsewhere.connection.endpoint;
    REQUIRE(client_for(elsewhere).lock("k").acquired);
    const std::string bytes = tests::read_bytes(elsewhere.state_path);

    core::Client here = client_for(config_for(tmp, "state.json"));
    expect_exit(core::ExitCode::state_file, [&] { here.lock("k"); });
    expect_exit(core::ExitCode::state_file, [&] { here.deregister(false); });
    CHECK(tests::read_bytes(elsewhere.state_path) == bytes);

    core::State postgres = *core::StateFile(elsewhere.state_path).read();
    postgres.driver = core::DriverName::postgres;
    postgres.endpoint = "postgres://app:***@db/app";
    core::StateFile(elsewhere.state_path).write(postgres);
    const std::string postgres_bytes = tests::read_bytes(elsewhere.state_path);
    expect_exit(core::ExitCode::state_file, [&] { here.lock("k"); });
    CHECK(tests::read_bytes(elsewhere.state_path) == postgres_bytes);
}

TEST_CASE("client: an invalid key is a usage error before any backend or state file") {
    TempDir tmp;
    core::ClientConfig config = config_for(tmp, "state.json");
    int factory_calls = 0;
    core::Client c(
        config,
        [&](const core::ConnectionSettings& settings) {
            ++factory_calls;
            return drivers::make_supervisor(settings);
        },
        [](const std::string&) {});
    for (const char* key : {"a//b", "", "/a", "a/..", "bad\nkey"}) {
        CAPTURE(key);
        expect_exit(core::ExitCode::usage, [&] { c.lock(key); });
        expect_exit(core::ExitCode::usage, [&] { c.unlock(key, false); });
        expect_exit(core::ExitCode::usage, [&] { c.unlock(key, true); });
        expect_exit(core::ExitCode::usage, [&] { c.status(key); });
    }
    CHECK(factory_calls == 0);
    CHECK_FALSE(std::filesystem::exists(config.state_path));
    CHECK_FALSE(std::filesystem::exists(tmp / "bsup.db"));
}

TEST_CASE("client: a lapsed session holds nothing; the next lock starts a new session") {
    TempDir tmp;
    core::ClientConfig short_config = config_for(tmp, "short.json", 1s);
    std::vector<std::string> notices;
    core::Client short_lived = client_for(short_config, &notices);
    REQUIRE(short_lived.lock("k").acquired);
    const std::string first_id = session_in(short_config.state_path);

    core::Client other = client_for(config_for(tmp, "other.json"));
    CHECK(tests::eventually([&] { return other.status("k").is_acquired == false; }));
    core::Acquisition taken = other.lock("k");
    CHECK(taken.acquired);
    CHECK(taken.semaphore.lock_index == 2);

    // The lapsed session's next lock starts a new one (its locks are gone anyway) and is refused.
    core::Acquisition refused = short_lived.lock("k");
    CHECK_FALSE(refused.acquired);
    CHECK(refused.semaphore.session_id == session_in(tmp / "other.json"));
    const std::string second_id = session_in(short_config.state_path);
    CHECK(core::is_ksuid(second_id));
    CHECK(second_id != first_id);
    CHECK(notices.size() == 1);
    CHECK(notices.at(0).find(first_id) != std::string::npos);
    // Its unlock of a key it never held in this session is a plain "not released".
    CHECK_FALSE(short_lived.unlock("k", false).released);
}

TEST_CASE("client: waiting acquires when the holder's session lapses") {
    TempDir tmp;
    core::Client holder = client_for(config_for(tmp, "holder.json", 1s));
    REQUIRE(holder.lock("k").acquired);
    const std::string holder_id = session_in(tmp / "holder.json");

    core::Client waiter = client_for(config_for(tmp, "waiter.json"));
    std::vector<std::string> met;
    core::Acquisition got =
        waiter.lock("k", 30s, [&](const core::Semaphore& s) { met.push_back(s.session_id); });
    CHECK(got.acquired);
    CHECK(got.semaphore.session_id == session_in(tmp / "waiter.json"));
    CHECK(met == std::vector<std::string>{holder_id});
}

TEST_CASE("client: waiting gives up at the deadline while the holder stays") {
    TempDir tmp;
    core::Client holder = client_for(config_for(tmp, "holder.json"));
    REQUIRE(holder.lock("k").acquired);
    core::Client waiter = client_for(config_for(tmp, "waiter.json"));
    int heard = 0;
    core::Acquisition got = waiter.lock("k", 300ms, [&](const core::Semaphore&) { ++heard; });
    CHECK_FALSE(got.acquired);
    CHECK(got.semaphore.session_id == session_in(tmp / "holder.json"));
    CHECK(heard == 1);
}

TEST_CASE("client: renew extends the session; without a session it is exit 4") {
    TempDir tmp;
    core::ClientConfig config = config_for(tmp, "state.json", 2s);
    core::Client c = client_for(config);
    expect_exit(core::ExitCode::state_file, [&] { c.renew(); });
    core::Registration reg = c.register_session();
    REQUIRE(reg.session.expires_at.has_value());
    std::this_thread::sleep_for(50ms);
    core::Session renewed = c.renew();
    REQUIRE(renewed.expires_at.has_value());
    CHECK(*renewed.expires_at > *reg.session.expires_at);
    CHECK(renewed.ttl == 2s);
    CHECK(renewed.id == reg.session.id);
}

TEST_CASE("client: unlock --force breaks another session's lock and needs no session") {
    TempDir tmp;
    core::Client holder = client_for(config_for(tmp, "holder.json"));
    REQUIRE(holder.lock("k").acquired);
    core::ClientConfig operator_config = config_for(tmp, "operator.json");
    core::Client operator_client = client_for(operator_config);
    core::Release broken = operator_client.unlock("k", true);
    CHECK(broken.released);
    CHECK(broken.previous.session_id == session_in(tmp / "holder.json"));
    CHECK(holder.status("k").is_acquired == false);
    CHECK_FALSE(std::filesystem::exists(operator_config.state_path));
    CHECK_FALSE(operator_client.unlock("k", true).released);
}

TEST_CASE("client: processes sharing one state file share one session") {
    TempDir tmp;
    core::ClientConfig config = config_for(tmp, "shared.json");
    constexpr int k_processes = 8;
    std::vector<int> codes = tests::run_processes(k_processes, [&](int) {
        core::Client c = client_for(config);
        return c.lock("shared/key").acquired ? 0 : 1;
    });
    // The guard lets exactly one of them start the session; the others find it and hold the
    // key with it (locking a key the session holds succeeds).
    CHECK(codes == std::vector<int>(k_processes, 0));
    core::Client c = client_for(config);
    core::Semaphore status = c.status("shared/key");
    CHECK(status.session_id == session_in(config.state_path));
    CHECK(status.lock_index == 1);
    CHECK(c.services().size() == 1);
}

TEST_CASE("client: validate_ttl allows 10s to 24h, lower only through BSUP_MIN_TTL") {
    auto env = tests::fake_env({});
    CHECK_NOTHROW(core::validate_ttl(10s, env));
    CHECK_NOTHROW(core::validate_ttl(15min, env));
    CHECK_NOTHROW(core::validate_ttl(24h, env));
    expect_exit(core::ExitCode::usage, [&] { core::validate_ttl(9999ms, env); });
    expect_exit(core::ExitCode::usage, [&] { core::validate_ttl(24h + 1ms, env); });
    expect_exit(core::ExitCode::usage, [&] { core::validate_ttl(0ms, env); });

    auto test_env = tests::fake_env({{"BSUP_MIN_TTL", "1s"}});
    CHECK_NOTHROW(core::validate_ttl(1s, test_env));
    expect_exit(core::ExitCode::usage, [&] { core::validate_ttl(999ms, test_env); });
    // Never below 1s, whatever the variable says.
    auto too_low = tests::fake_env({{"BSUP_MIN_TTL", "100ms"}});
    expect_exit(core::ExitCode::usage, [&] { core::validate_ttl(500ms, too_low); });
    CHECK_NOTHROW(core::validate_ttl(1s, too_low));
    expect_exit(core::ExitCode::usage, [&] {
        core::validate_ttl(1s, tests::fake_env({{"BSUP_MIN_TTL", "soon"}}));
    });
}

TEST_CASE("client: the default service is bsup on this host") {
    core::Service service = core::default_service();
    CHECK(service.name == "bsup");
    CHECK_FALSE(service.address.empty());
}
