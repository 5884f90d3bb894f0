#include "core/connection.hpp"
#include "core/errors.hpp"
#include "tests/unit/support.hpp"
#include "tests/unit/temp_dir.hpp"

#include <doctest/doctest.h>

using namespace bsup;
using core::ConnectionRequest;
using core::ConnectionSettings;
using core::DriverName;
using core::resolve_connection;
using tests::fake_env;

namespace {

const std::map<std::string, std::string> k_home = {{"HOME", "/home/u"}};

ConnectionSettings resolve(std::optional<std::string> from, std::optional<std::string> connection,
                           std::map<std::string, std::string> env = k_home) {
    ConnectionRequest request;
    request.from = std::move(from);
    request.connection = std::move(connection);
    return resolve_connection(request, fake_env(std::move(env)));
}

// The usage error that resolve() throws; fails the test when it does not.
std::string usage_message(std::optional<std::string> from, std::optional<std::string> connection,
                          std::map<std::string, std::string> env = k_home) {
    try {
        (void)resolve(std::move(from), std::move(connection), std::move(env));
    } catch (const core::Error& e) {
        CHECK(e.exit_code() == core::ExitCode::usage);
        return e.what();
    }
    FAIL("resolve_connection did not throw");
    return {};
}

} // namespace

TEST_CASE("connection: with nothing given, the embedded database under the state folder") {
    ConnectionSettings home = resolve(std::nullopt, std::nullopt);
    CHECK(home.driver == DriverName::sqlite);
    CHECK(home.connection == "sqlite:/home/u/.local/state/bsup/bsup.db");
    CHECK(home.endpoint == "sqlite:/home/u/.local/state/bsup/bsup.db");

    ConnectionSettings xdg =
        resolve(std::nullopt, std::nullopt, {{"HOME", "/home/u"}, {"XDG_STATE_HOME", "/xdg"}});
    CHECK(xdg.driver == DriverName::sqlite);
    CHECK(xdg.endpoint == "sqlite:/xdg/bsup/bsup.db");

    usage_message(std::nullopt, std::nullopt, {});
    CHECK(core::state_home(fake_env({{"XDG_STATE_HOME", "/xdg"}})) == "/xdg/bsup");
    CHECK(core::state_home(fake_env(k_home)) == "/home/u/.local/state/bsup");
}

TEST_CASE("connection: the driver follows from the scheme") {
    struct Case {
        const char* connection;
        DriverName driver;
    };
    for (const Case& c : {Case{"postgres://db/app", DriverName::postgres},
                          Case{"postgresql://db:5432/app", DriverName::postgres},
                          Case{"host=db port=5432 dbname=app", DriverName::postgres},
                          Case{"consul://127.0.0.1:8500", DriverName::consul},
                          Case{"http://127.0.0.1:8500", DriverName::consul},
                          Case{"https://consul.example:8501", DriverName::consul},
                          Case{"unix:///run/consul/http.sock", DriverName::consul},
                          Case{"sqlite:/var/lib/bsup/bsup.db", DriverName::sqlite}}) {
        CAPTURE(c.connection);
        ConnectionSettings s = resolve(std::nullopt, std::string(c.connection));
        CHECK(s.driver == c.driver);
        CHECK(s.connection == c.connection);
    }
}

TEST_CASE("connection: sqlite forms name an absolute, normal path") {
    CHECK(resolve(std::nullopt, std::string("sqlite:/var/lib/bsup.db")).endpoint ==
          "sqlite:/var/lib/bsup.db");
    CHECK(resolve(std::nullopt, std::string("sqlite:///var/lib/bsup.db")).endpoint ==
          "sqlite:/var/lib/bsup.db");
    CHECK(resolve(std::nullopt, std::string("sqlite:/a/b/../c/./bsup.db")).endpoint ==
          "sqlite:/a/c/bsup.db");
    CHECK(resolve(std::string("sqlite"), std::string("/plain/path.db")).endpoint ==
          "sqlite:/plain/path.db");
    tests::TempDir tmp;
    tests::ScopedCwd cwd(tmp.path());
    CHECK(resolve(std::nullopt, std::string("sqlite:rel/bsup.db")).endpoint ==
          "sqlite:" + (std::filesystem::current_path() / "rel/bsup.db").string());
    usage_message(std::nullopt, std::string("sqlite:"));
}

TEST_CASE("connection: --from and BSUP_FROM, --connection and BSUP_CONNECTION") {
    std::map<std::string, std::string> env = {
        {"HOME", "/home/u"}, {"BSUP_FROM", "consul"}, {"BSUP_CONNECTION", "http://10.1.2.3:8500"}};
    ConnectionSettings from_env = resolve(std::nullopt, std::nullopt, env);
    CHECK(from_env.driver == DriverName::consul);
    CHECK(from_env.connection == "http://10.1.2.3:8500");

    ConnectionSettings flag_wins =
        resolve(std::string("sqlite"), std::string("sqlite:/flag/bsup.db"), env);
    CHECK(flag_wins.driver == DriverName::sqlite);
    CHECK(flag_wins.endpoint == "sqlite:/flag/bsup.db");

    // BSUP_CONNECTION alone picks the driver by its scheme.
    ConnectionSettings by_scheme =
        resolve(std::nullopt, std::nullopt,
                {{"HOME", "/home/u"}, {"BSUP_CONNECTION", "postgres://app@db/app"}});
    CHECK(by_scheme.driver == DriverName::postgres);
    CHECK(by_scheme.connection == "postgres://app@db/app");

    CHECK(resolve(std::string("postgresql"), std::nullopt).driver == DriverName::postgres);
    std::string unknown = usage_message(std::string("mysql"), std::nullopt);
    CHECK(unknown.find("mysql") != std::string::npos);
}

TEST_CASE("connection: postgres falls back to POSTGRES_SUPERVISOR_URL, then DATABASE_URL") {
    std::map<std::string, std::string> both = {
        {"HOME", "/home/u"},
        {"POSTGRES_SUPERVISOR_URL", "postgres://sup@db1/sup"},
        {"DATABASE_URL", "postgres://app@db2/app"}};
    CHECK(resolve(std::string("postgres"), std::nullopt, both).connection ==
          "postgres://sup@db1/sup");
    both.erase("POSTGRES_SUPERVISOR_URL");
    CHECK(resolve(std::string("postgres"), std::nullopt, both).connection ==
          "postgres://app@db2/app");
    // Neither: libpq's own PG* variables and defaults apply.
    ConnectionSettings bare = resolve(std::string("postgres"), std::nullopt);
    CHECK(bare.driver == DriverName::postgres);
    CHECK(bare.connection.empty());
    // The fallbacks are the postgres driver's: without --from they choose nothing.
    CHECK(resolve(std::nullopt, std::nullopt,
                  {{"HOME", "/home/u"}, {"DATABASE_URL", "postgres://app@db2/app"}})
              .driver == DriverName::sqlite);
}

TEST_CASE("connection: consul falls back to CONSUL_HTTP_ADDR, then CONSUL_ADDRESS") {
    std::map<std::string, std::string> both = {{"HOME", "/home/u"},
                                               {"CONSUL_HTTP_ADDR", "http://10.0.0.5:8500"},
                                               {"CONSUL_ADDRESS", "http://10.0.0.6:8500"}};
    CHECK(resolve(std::string("consul"), std::nullopt, both).connection == "http://10.0.0.5:8500");
    both.erase("CONSUL_HTTP_ADDR");
    CHECK(resolve(std::string("consul"), std::nullopt, both).connection == "http://10.0.0.6:8500");
    ConnectionSettings local = resolve(std::string("consul"), std::nullopt);
    CHECK(local.driver == DriverName::consul);
    CHECK(local.endpoint == "http://127.0.0.1:8500");
}

TEST_CASE("connection: the endpoint is redacted, the connection kept for the driver") {
    ConnectionSettings uri =
        resolve(std::nullopt, std::string("postgres://app:Conn-unit-Pw1@db:5432/app"));
    CHECK(uri.connection == "postgres://app:Conn-unit-Pw1@db:5432/app");
    CHECK(uri.endpoint == "postgres://app:***@db:5432/app");

    ConnectionSettings kv =
        resolve(std::nullopt, std::string("host=db password='Conn unit Pw2' dbname=app"));
    CHECK(kv.driver == DriverName::postgres);
    CHECK(kv.endpoint.find("Conn unit Pw2") == std::string::npos);
    CHECK(kv.endpoint.find("dbname=app") != std::string::npos);

    ConnectionSettings env =
        resolve(std::string("postgres"), std::nullopt,
                {{"HOME", "/home/u"}, {"DATABASE_URL", "postgres://app:Conn-unit-Pw3@db/app"}});
    CHECK(env.endpoint == "postgres://app:***@db/app");

    ConnectionSettings consul =
        resolve(std::nullopt, std::string("https://consul:8501/?token=Conn-unit-Tok4"));
    CHECK(consul.endpoint.find("Conn-unit-Tok4") == std::string::npos);
}

TEST_CASE("connection: an unknown scheme is a usage error that shows no password") {
    std::string message =
        usage_message(std::nullopt, std::string("redis://user:Conn-unit-Pw5@cache:6379"));
    CHECK(message.find("Conn-unit-Pw5") == std::string::npos);
    CHECK(message.find("redis://") != std::string::npos);
    usage_message(std::nullopt, std::string("just-a-word"));
    usage_message(std::nullopt, std::string("/a/bare/path.db")); // a path needs --from sqlite
}

TEST_CASE("connection: timeout and driver settings pass through") {
    ConnectionRequest request;
    request.connection = "consul://127.0.0.1:8500";
    request.timeout = std::chrono::seconds(3);
    request.lock_delay = std::chrono::seconds(1);
    request.token_file = "/run/secrets/consul-token";
    ConnectionSettings s = resolve_connection(request, fake_env(k_home));
    CHECK(s.timeout == std::chrono::seconds(3));
    CHECK(s.lock_delay == std::chrono::seconds(1));
    CHECK(s.token_file == "/run/secrets/consul-token");
}
