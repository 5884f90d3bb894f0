#include "core/connection.hpp"
#include "core/errors.hpp"
#include "core/ksuid.hpp"
#include "drivers/sqlite/sqlite_driver.hpp"
#include "tests/unit/support.hpp"
#include "tests/unit/temp_dir.hpp"

#include <doctest/doctest.h>
#include <fstream>
#include <thread>

using namespace bsup;
using namespace std::chrono_literals;
using tests::TempDir;

// The sqlite supervisor through the core::Supervisor interface, on a database in a fresh folder.

namespace {

core::ConnectionSettings settings_for(const TempDir& tmp) {
    core::ConnectionRequest request;
    request.connection = "sqlite:" + (tmp / "db/bsup.db").string();
    return core::resolve_connection(request, tests::fake_env({}));
}

std::unique_ptr<core::Supervisor> open_supervisor(const TempDir& tmp) {
    return drivers::make_sqlite_supervisor(settings_for(tmp));
}

core::Session start(core::Supervisor& supervisor, const std::string& name,
                    core::Duration ttl = 15min) {
    core::SessionRequest request;
    std::string id = core::new_ksuid();
    request.service.id = id;
    request.service.name = name;
    request.service.address = name + ".example:9090";
    request.ttl = ttl;
    return supervisor.init(id, request);
}

const core::Lock k_key{"migrations/warehouse"};

} // namespace

TEST_CASE("sqlite: init starts a session with its TTL on the database's clock") {
    TempDir tmp;
    auto sup = open_supervisor(tmp);
    core::TimePoint before = core::now();
    core::Session s = start(*sup, "svc", 90s);
    CHECK(core::is_ksuid(s.id));
    CHECK(s.handle == s.id);
    CHECK(s.ttl == 90s);
    REQUIRE(s.expires_at.has_value());
    CHECK(*s.expires_at - s.created_at == 90s);
    // Same machine: the database's clock is ours, within a generous margin.
    CHECK(s.created_at >= before - 5s);
    CHECK(s.created_at <= core::now() + 5s);
    CHECK(tests::mode_of(tmp / "db") == 0700);
}

TEST_CASE("sqlite: lock, status, unlock") {
    TempDir tmp;
    auto sup = open_supervisor(tmp);
    core::Session a = start(*sup, "a");
    core::Session b = start(*sup, "b");

    core::Semaphore idle = sup->status(k_key);
    CHECK(idle.key == k_key.key);
    CHECK(idle.is_acquired == false);
    CHECK(idle.session_id.empty());
    CHECK(idle.acquirer_name.empty());

    core::Acquisition got = sup->lock(a, k_key);
    CHECK(got.acquired);
    CHECK(got.semaphore.is_acquired == true);
    CHECK(got.semaphore.session_id == a.id);
    CHECK(got.semaphore.acquirer_name == "a");
    CHECK(got.semaphore.acquirer_address == "a.example:9090");
    CHECK(got.semaphore.lock_index == 1);
    REQUIRE(got.semaphore.acquired_at.has_value());
    REQUIRE(got.semaphore.expires_at.has_value());
    CHECK(*got.semaphore.expires_at > *got.semaphore.acquired_at);

    core::Acquisition refused = sup->lock(b, k_key);
    CHECK_FALSE(refused.acquired);
    CHECK(refused.semaphore.session_id == a.id);
    CHECK(refused.semaphore.acquirer_name == "a");

    core::Release not_mine = sup->unlock(b, k_key);
    CHECK_FALSE(not_mine.released);
    CHECK(not_mine.previous.session_id == a.id);
    CHECK(sup->status(k_key).session_id == a.id);

    core::Release mine = sup->unlock(a, k_key);
    CHECK(mine.released);
    CHECK(mine.previous.session_id == a.id);
    CHECK(sup->status(k_key).is_acquired == false);
    CHECK_FALSE(sup->unlock(a, k_key).released);
    CHECK(sup->lock(b, k_key).acquired);
}

TEST_CASE("sqlite: lock_index grows with every new grant, not on a re-lock") {
    TempDir tmp;
    auto sup = open_supervisor(tmp);
    core::Session a = start(*sup, "a");
    core::Session b = start(*sup, "b");

    CHECK(sup->lock(a, k_key).semaphore.lock_index == 1);
    core::Acquisition again = sup->lock(a, k_key);
    CHECK(again.acquired);
    CHECK(again.semaphore.lock_index == 1);
    CHECK(sup->lock(b, k_key).semaphore.lock_index == 1); // refused: unchanged

    REQUIRE(sup->unlock(a, k_key).released);
    CHECK(sup->lock(b, k_key).semaphore.lock_index == 2);
    CHECK(sup->lock(b, k_key).semaphore.lock_index == 2);

    REQUIRE(sup->force_unlock(k_key).released);
    CHECK(sup->lock(a, k_key).semaphore.lock_index == 3);

    REQUIRE(sup->unlock(a, k_key).released);
    CHECK(sup->lock(a, k_key).semaphore.lock_index == 4); // the same session, a new grant

    // Other keys count on their own.
    CHECK(sup->lock(a, core::Lock{"other"}).semaphore.lock_index == 1);
}

TEST_CASE("sqlite: force_unlock breaks any holder's lock") {
    TempDir tmp;
    auto sup = open_supervisor(tmp);
    core::Session a = start(*sup, "a");
    REQUIRE(sup->lock(a, k_key).acquired);
    core::Release broken = sup->force_unlock(k_key);
    CHECK(broken.released);
    CHECK(broken.previous.session_id == a.id);
    CHECK(sup->status(k_key).is_acquired == false);
    CHECK_FALSE(sup->force_unlock(k_key).released);
    CHECK_FALSE(sup->force_unlock(core::Lock{"never/seen"}).released);
}

TEST_CASE("sqlite: a lapsed session holds nothing, and its calls say it is gone") {
    TempDir tmp;
    auto sup = open_supervisor(tmp);
    core::Session short_lived = start(*sup, "short", 2s);
    core::Session other = start(*sup, "other");
    REQUIRE(sup->lock(short_lived, k_key).acquired);
    REQUIRE(sup->lock(short_lived, core::Lock{"second"}).acquired);

    CHECK(tests::eventually([&] { return sup->status(k_key).is_acquired == false; }));
    core::Semaphore lapsed = sup->status(k_key);
    CHECK(lapsed.session_id.empty());
    CHECK(sup->held().empty());

    CHECK_THROWS_AS(sup->lock(short_lived, k_key), core::SessionGone);
    CHECK_THROWS_AS(sup->renew(short_lived), core::SessionGone);
    CHECK_FALSE(sup->unlock(short_lived, k_key).released);

    core::Acquisition taken = sup->lock(other, k_key);
    CHECK(taken.acquired);
    CHECK(taken.semaphore.lock_index == 2);

    std::vector<core::Service> services = sup->services();
    REQUIRE(services.size() == 1);
    CHECK(services[0].name == "other");
    // Ending a session the backend no longer knows is not an error.
    CHECK(sup->shutdown(short_lived).empty());
}

TEST_CASE("sqlite: renew keeps a session alive past its first TTL") {
    TempDir tmp;
    auto sup = open_supervisor(tmp);
    core::Session s = start(*sup, "renewed", 2s);
    REQUIRE(sup->lock(s, k_key).acquired);
    const core::TimePoint first_expiry = *s.expires_at;
    core::Session renewed = s;
    // Renew every 250 ms until well past the first expiry; the lock must hold throughout.
    bool held_throughout = true;
    while (core::now() < first_expiry + 1500ms) {
        std::this_thread::sleep_for(250ms);
        renewed = sup->renew(renewed);
        held_throughout = held_throughout && sup->status(k_key).session_id == s.id;
    }
    CHECK(held_throughout);
    CHECK(renewed.ttl == 2s);
    REQUIRE(renewed.expires_at.has_value());
    CHECK(*renewed.expires_at > first_expiry);
    CHECK(sup->lock(s, k_key).acquired);
    CHECK(sup->lock(s, k_key).semaphore.lock_index == 1);
}

TEST_CASE("sqlite: held lists the held keys in order; shutdown releases them") {
    TempDir tmp;
    auto sup = open_supervisor(tmp);
    core::Session a = start(*sup, "a");
    core::Session b = start(*sup, "b");
    for (const char* key : {"z/last", "a/first", "m/middle"}) {
        REQUIRE(sup->lock(a, core::Lock{key}).acquired);
    }
    REQUIRE(sup->lock(b, core::Lock{"b/other"}).acquired);
    REQUIRE(sup->lock(a, core::Lock{"released"}).acquired);
    REQUIRE(sup->unlock(a, core::Lock{"released"}).released);

    std::vector<core::Semaphore> held = sup->held();
    std::vector<std::string> keys;
    for (const core::Semaphore& s : held) {
        keys.push_back(s.key);
        CHECK(s.is_acquired == true);
    }
    CHECK(keys == std::vector<std::string>{"a/first", "b/other", "m/middle", "z/last"});

    std::vector<std::string> released = sup->shutdown(a);
    CHECK(released == std::vector<std::string>{"a/first", "m/middle", "z/last"});
    CHECK(sup->held().size() == 1);
    CHECK(sup->status(core::Lock{"a/first"}).is_acquired == false);
    CHECK_THROWS_AS(sup->lock(a, k_key), core::SessionGone);
    std::vector<core::Service> services = sup->services();
    REQUIRE(services.size() == 1);
    CHECK(services[0].name == "b");
}

TEST_CASE("sqlite: services keep their tags and metadata") {
    TempDir tmp;
    auto sup = open_supervisor(tmp);
    core::SessionRequest request;
    std::string id = core::new_ksuid();
    request.service =
        core::Service{"gw-1",  "blacksmith-gateway", "1.4.2",
                      ":9090", {"edge", "http"},     {{"region", "eu"}, {"team", "core"}}};
    request.ttl = 1min;
    sup->init(id, request);
    std::vector<core::Service> services = sup->services();
    REQUIRE(services.size() == 1);
    const core::Service& s = services[0];
    CHECK(s.id == "gw-1");
    CHECK(s.name == "blacksmith-gateway");
    CHECK(s.version == "1.4.2");
    CHECK(s.address == ":9090");
    CHECK(s.tags == std::vector<std::string>{"edge", "http"});
    CHECK(s.meta == std::map<std::string, std::string>{{"region", "eu"}, {"team", "core"}});
}

TEST_CASE("sqlite: two supervisors on one file see each other's locks") {
    TempDir tmp;
    auto first = open_supervisor(tmp);
    auto second = open_supervisor(tmp);
    core::Session a = start(*first, "a");
    core::Session b = start(*second, "b");
    REQUIRE(first->lock(a, k_key).acquired);
    CHECK_FALSE(second->lock(b, k_key).acquired);
    CHECK(second->status(k_key).session_id == a.id);
}

TEST_CASE("sqlite: a file that is not a database is a backend error") {
    TempDir tmp;
    std::filesystem::create_directories(tmp / "db");
    {
        std::ofstream junk(tmp / "db/bsup.db", std::ios::binary);
        junk << std::string(8192, 'x');
    }
    auto sup = open_supervisor(tmp);
    try {
        (void)sup->status(k_key);
        FAIL("opened a file that is not a database");
    } catch (const core::Error& e) {
        CHECK(e.exit_code() == core::ExitCode::backend);
        CHECK(std::string(e.what()).find((tmp / "db/bsup.db").string()) != std::string::npos);
    }
}

TEST_CASE("sqlite: many processes racing on one key: exactly one winner") {
    TempDir tmp;
    constexpr int k_processes = 16;
    constexpr int k_rounds = 8;
    for (int round = 0; round < k_rounds; ++round) {
        CAPTURE(round);
        const core::Lock key{"race/" + std::to_string(round)};
        // Each process opens the database itself (the first round creates it, all at once),
        // starts its session and tries once; it reports its session ID in a file.
        std::vector<int> codes = tests::run_processes(k_processes, [&](int i) {
            auto sup = open_supervisor(tmp);
            core::Session s = start(*sup, "racer-" + std::to_string(i));
            std::ofstream(tmp / ("racer-" + std::to_string(i))) << s.id;
            return sup->lock(s, key).acquired ? 0 : 1;
        });
        int winners = 0;
        int losers = 0;
        int winner = -1;
        for (int i = 0; i < k_processes; ++i) {
            if (codes[static_cast<std::size_t>(i)] == 0) {
                ++winners;
                winner = i;
            } else if (codes[static_cast<std::size_t>(i)] == 1) {
                ++losers;
            }
        }
        CHECK(winners == 1);
        CHECK(losers == k_processes - 1);
        if (winner >= 0) {
            auto sup = open_supervisor(tmp);
            core::Semaphore status = sup->status(key);
            CHECK(status.session_id ==
                  tests::read_bytes(tmp / ("racer-" + std::to_string(winner))));
            CHECK(status.lock_index == 1);
        }
    }
}

TEST_CASE("sqlite: wait_for_change returns by the deadline") {
    TempDir tmp;
    auto sup = open_supervisor(tmp);
    core::Session a = start(*sup, "a");
    core::Acquisition got = sup->lock(a, k_key);
    core::TimePoint deadline = core::now() + 200ms;
    // Spurious returns are allowed: loop as the client does, bounded by the deadline.
    int calls = 0;
    while (core::now() < deadline && calls < 10'000) {
        sup->wait_for_change(a, k_key, got.semaphore, deadline);
        ++calls;
    }
    CHECK(core::now() >= deadline);
}
