#include "core/redact.hpp"

#include <doctest/doctest.h>

using namespace bsup;
using core::redact;

// The secrets that add_secret() registers live for the whole process: every test uses its own,
// so that the order of the tests does not matter.

namespace {

bool contains(const std::string& text, std::string_view part) {
    return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("redact: the password of a URI") {
    CHECK(redact("postgres://bob:s3cretPW@db.example:5432/app") ==
          "postgres://bob:***@db.example:5432/app");
    CHECK(redact("postgresql://bob:pw1@db/app?sslmode=require") ==
          "postgresql://bob:***@db/app?sslmode=require");
    CHECK(redact("cannot reach postgres://u:hunter2@10.0.0.1/db (refused)") ==
          "cannot reach postgres://u:***@10.0.0.1/db (refused)");
    // An '@' inside the password; a password-less user; no user at all.
    CHECK_FALSE(contains(redact("postgres://u:p@ss@host/db"), "p@ss"));
    CHECK(redact("postgres://u:p@ss@host/db") == "postgres://u:***@host/db");
    CHECK(redact("postgres://user@host:5432/db") == "postgres://user@host:5432/db");
    CHECK(redact("http://127.0.0.1:8500") == "http://127.0.0.1:8500");
    // Two URIs in one text.
    std::string two = redact("from postgres://a:one1@h1/db to postgres://b:two2@h2/db");
    CHECK_FALSE(contains(two, "one1"));
    CHECK_FALSE(contains(two, "two2"));
    CHECK(contains(two, "postgres://a:***@h1/db"));
    CHECK(contains(two, "postgres://b:***@h2/db"));
}

TEST_CASE("redact: key=value passwords, quoted or not") {
    CHECK(redact("host=db port=5432 password=hunter2 dbname=app") ==
          "host=db port=5432 password=*** dbname=app");
    std::string quoted = redact("host=db password='with spaces inside' dbname=app");
    CHECK_FALSE(contains(quoted, "with"));
    CHECK_FALSE(contains(quoted, "spaces"));
    CHECK_FALSE(contains(quoted, "inside"));
    CHECK(contains(quoted, "dbname=app"));
    std::string escaped = redact(R"(password='it\'s a secret' host=db)");
    CHECK_FALSE(contains(escaped, "secret"));
    CHECK(contains(escaped, "host=db"));
    CHECK_FALSE(contains(redact("password = spaced-out host=db"), "spaced-out"));
    CHECK_FALSE(contains(redact("sslpassword=keypass host=db"), "keypass"));
    CHECK_FALSE(contains(redact("password=last"), "last"));
    // Words that only look like the keys stay.
    CHECK(redact("passwordless=1 mypassword=x") == "passwordless=1 mypassword=x");
}

TEST_CASE("redact: a '\"' ends an unquoted value only where it closes quoted text") {
    // In libpq's syntax '"' is an ordinary character of an unquoted value (the fuzzer's find).
    CHECK(redact(R"(host=db password="it}t=2 dbname=app)") == "host=db password=*** dbname=app");
    CHECK(redact(R"(host=db password=ab"cd dbname=app)") == "host=db password=*** dbname=app");
    // The pair inside a JSON string or a quoted message: the closing quote stays.
    CHECK(redact(R"({"connection":"host=db password=hunter2"})") ==
          R"({"connection":"host=db password=***"})");
    CHECK(redact(R"(cannot connect with "password=hunter2", sorry)") ==
          R"(cannot connect with "password=***", sorry)");
}

TEST_CASE("redact: password and token in a query") {
    std::string token = redact("http://consul:8500/v1/kv/x?token=abc123&dc=eu");
    CHECK_FALSE(contains(token, "abc123"));
    CHECK(contains(token, "&dc=eu"));
    std::string password = redact("postgres://db/app?user=u&password=qwerty&sslmode=disable");
    CHECK_FALSE(contains(password, "qwerty"));
    CHECK(contains(password, "sslmode=disable"));
    CHECK_FALSE(contains(redact("https://h/?password=first"), "first"));
    // libpq reads no fragment: the value goes on past a '#'.
    CHECK_FALSE(contains(redact("postgresql://h/app?user=u&password=#s6ret"), "s6ret"));
    CHECK_FALSE(contains(redact("postgresql://h/app?password=a#b&x=1"), "#b"));
}

TEST_CASE("redact: text without secrets is unchanged") {
    for (const char* text : {"", "key migrations/warehouse is held by bsup on runner-7",
                             "session 2Ig1vIYWW3KpvUb2HNFd0Fy4UIF expired",
                             "sqlite:/home/u/.local/state/bsup/bsup.db"}) {
        CHECK(redact(text) == text);
    }
}

TEST_CASE("redact: registered secrets are removed from any text") {
    core::add_secret("Xq9-unit-registered");
    CHECK(redact("error: Xq9-unit-registered was refused") == "error: *** was refused");
    // Secrets side by side are one masked run: the mask tells nothing of how many there were.
    CHECK(redact("Xq9-unit-registeredXq9-unit-registered") == "***");
    // A registered secret inside a quoted value does not break the quotes the value is read by.
    core::add_secret("Zq7\\");
    CHECK(redact(R"(host=db password='Zq7\'' dbname=app)") == "host=db password=*** dbname=app");
    CHECK_FALSE(contains(redact("{\"token\": \"Xq9-unit-registered\"}"), "Xq9-unit-registered"));
    // A short secret is still a secret; an empty one removes nothing.
    core::add_secret("\xc2\xa7"
                     "7"); // "§7": two characters
    CHECK(redact("a \xc2\xa7"
                 "7 b") == "a *** b");
    core::add_secret("");
    CHECK(redact("nothing here") == "nothing here");
}

TEST_CASE("redact: a secret that contains another is removed whole") {
    core::add_secret("unit-tok-AB");
    core::add_secret("unit-tok-ABCD");
    CHECK(redact("[unit-tok-ABCD]") == "[***]");
    CHECK(redact("[unit-tok-AB]") == "[***]");
}

TEST_CASE("redact_connection: redacts and registers the secrets it finds") {
    CHECK(core::redact_connection("postgres://app:Zz9-uri-pass@db:5432/app") ==
          "postgres://app:***@db:5432/app");
    // A later message that carries the password alone, out of its URI, loses it too.
    CHECK(redact("authentication failed for password Zz9-uri-pass") ==
          "authentication failed for password ***");

    std::string kv = core::redact_connection("host=db password='two words unit' dbname=x");
    CHECK_FALSE(contains(kv, "two words unit"));
    CHECK(redact("got 'two words unit' back") == "got '***' back");

    std::string query = core::redact_connection("consul://127.0.0.1:8500?token=T0K3N-unit");
    CHECK_FALSE(contains(query, "T0K3N-unit"));
    CHECK(redact("T0K3N-unit") == "***");

    CHECK(core::redact_connection("http://127.0.0.1:8500") == "http://127.0.0.1:8500");
}

TEST_CASE("redact_connection: a password also as its reader takes it, escapes resolved") {
    // libpq reads password=a\ b\\c as "a b\c"; a URI's "p%40ss" as "p@ss".
    std::string kv = core::redact_connection("options=a-b\\c password=a-b\\\\c host=h");
    CHECK(kv == "options=*** password=*** host=h");
    CHECK(redact("a-b\\c") == "***");
    // An escaped white space is part of the value.
    CHECK(core::redact_connection("password=\\\rn-unit\\ x host=h") == "password=*** host=h");
    // A whole URI's query runs from '&' to '&', white space included; keys are decoded too.
    CHECK(core::redact_connection("postgresql://h/db?password=unit two&x=1") ==
          "postgresql://h/db?password=***&x=1");
    CHECK(core::redact_connection("postgresql://h/db?pass%77ord=unit-enc") ==
          "postgresql://h/db?pass%77ord=***");
    std::string uri =
        core::redact_connection("postgres://u:unit%40pass@h/db?application_name=unit@pass");
    CHECK_FALSE(contains(uri, "unit@pass"));
    CHECK_FALSE(contains(uri, "unit%40pass"));
}
