// bsup's own PostgreSQL client, the parts that need no server: digests, SCRAM, connection
// strings, protocol messages. tests/integration/postgres.sh runs it against real servers.

#include "core/base64.hpp"
#include "drivers/postgres/conninfo.hpp"
#include "drivers/postgres/digest.hpp"
#include "drivers/postgres/scram.hpp"
#include "drivers/postgres/wire_protocol.hpp"

#include <doctest/doctest.h>
#include <map>

using namespace bsup::drivers::postgres;

namespace {

std::string hex(const std::string& bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (char c : bytes) {
        out += digits[(static_cast<unsigned char>(c) >> 4) & 15];
        out += digits[static_cast<unsigned char>(c) & 15];
    }
    return out;
}

bsup::core::Environment env_of(std::map<std::string, std::string> vars) {
    return [vars](const std::string& name) -> std::optional<std::string> {
        auto it = vars.find(name);
        return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
}

} // namespace

TEST_CASE("sha256, hmac_sha256, pbkdf2_sha256 and md5_hex match the published test vectors") {
    CHECK(hex(sha256("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(hex(sha256("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(hex(sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")) ==
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    // RFC 4231, test case 2.
    CHECK(hex(hmac_sha256("Jefe", "what do ya want for nothing?")) ==
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    CHECK(hex(pbkdf2_sha256("password", "salt", 1)) ==
          "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b");
    CHECK(hex(pbkdf2_sha256("password", "salt", 4096)) ==
          "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a");
    CHECK(md5_hex("") == "d41d8cd98f00b204e9800998ecf8427e");
    CHECK(md5_hex("The quick brown fox jumps over the lazy dog") ==
          "9e107d9d372bb6826bd81d3542a419d6");
}

TEST_CASE("ScramClient reproduces RFC 7677's exchange and checks the server's signature") {
    ScramClient client("pencil", "rOprNGfwEbeRWgbNEkqO", "user");
    CHECK(client.client_first() == "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
    std::optional<std::string> final_message = client.client_final(
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
    REQUIRE(final_message);
    CHECK(*final_message == "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                            "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
    CHECK(client.verify_server_final("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="));
    CHECK_FALSE(client.verify_server_final("v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="));
    CHECK_FALSE(client.verify_server_final("e=invalid-proof"));
}

TEST_CASE("ScramClient refuses a challenge that does not extend its nonce or is too weak") {
    ScramClient client("pencil", "abc");
    CHECK_FALSE(client.client_final("r=xyzdef,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"));
    CHECK_FALSE(client.client_final("r=abc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")); // not extended
    CHECK_FALSE(client.client_final("r=abcdef,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1"));
    CHECK_FALSE(client.client_final("r=abcdef,s=,i=4096"));
    CHECK_FALSE(client.client_final("r=abcdef,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096x"));
    CHECK_FALSE(client.verify_server_final("v=x")); // no exchange yet
}

TEST_CASE("parse_conninfo reads URIs, key=value pairs and bare database names as libpq does") {
    auto uri = parse_conninfo("postgresql://al%40ice:p%3Ass@[::1]:6543/my%20db?sslmode=disable");
    REQUIRE(uri);
    CHECK(uri->at("user") == "al@ice");
    CHECK(uri->at("password") == "p:ss");
    CHECK(uri->at("host") == "::1");
    CHECK(uri->at("port") == "6543");
    CHECK(uri->at("dbname") == "my db");
    CHECK(uri->at("sslmode") == "disable");

    auto pairs = parse_conninfo("host=db port = 5433 password='it''s' user=bob");
    CHECK_FALSE(pairs); // '' is not an escape in libpq: the quote ends the value, then garbage
    pairs = parse_conninfo("host=db port = 5433 password='it\\'s \\\\x' user=bob");
    REQUIRE(pairs);
    CHECK(pairs->at("port") == "5433");
    CHECK(pairs->at("password") == "it's \\x");
    CHECK(pairs->at("user") == "bob");

    CHECK(parse_conninfo("mydb")->at("dbname") == "mydb");
    CHECK(parse_conninfo("")->empty());
    CHECK_FALSE(parse_conninfo("host='unterminated"));
    CHECK_FALSE(parse_conninfo("postgresql://h/db?%zz=1"));
}

TEST_CASE("wire_target applies PG* variables and defaults, and leaves the rest to libpq") {
    auto env = env_of({{"PGUSER", "carol"}, {"PGPORT", "7000"}, {"PGPASSWORD", "pw"}});
    std::optional<WireTarget> t = wire_target("host=127.0.0.1 dbname=app", env);
    REQUIRE(t);
    CHECK(t->host == "127.0.0.1");
    CHECK(t->port == "7000");
    CHECK(t->user == "carol");
    CHECK(t->password == "pw");
    CHECK(t->dbname == "app");
    CHECK(t->application_name == "bsup");
    CHECK(t->ask_ssl); // sslmode defaults to prefer
    CHECK(t->where == "127.0.0.1:7000");

    t = wire_target("postgresql://u@/d?host=/run/pg&application_name=mig", env_of({}));
    REQUIRE(t);
    CHECK(t->unix_path == "/run/pg/.s.PGSQL.5432");
    CHECK(t->application_name == "mig");
    CHECK_FALSE(t->ask_ssl);

    auto none = env_of({});
    CHECK_FALSE(wire_target("postgresql://u@h/d?sslmode=require", none));
    CHECK_FALSE(wire_target("postgresql://u@h/d?sslmode=verify-full", none));
    CHECK_FALSE(wire_target("postgresql://u@h1,h2/d", none));
    CHECK_FALSE(wire_target("service=prod", none));
    CHECK_FALSE(wire_target("host=h user=u options=-csearch_path=x", none));
    CHECK_FALSE(wire_target("host=h user=u", env_of({{"PGSSLMODE", "require"}})));
    CHECK_FALSE(wire_target("host=h user=u", env_of({{"PGSERVICE", "prod"}})));
    CHECK_FALSE(wire_target("host=h user=u", env_of({{"PGTZ", "UTC"}})));
    CHECK_FALSE(wire_target("host=h user=u", env_of({{"KRB5CCNAME", "/tmp/cc"}})));
    CHECK(wire_target("host=h user=u gssencmode=disable", env_of({{"KRB5CCNAME", "/tmp/cc"}})));
    CHECK(wire_target("host=h user=u sslmode=disable", none));
}

TEST_CASE("wire messages: built byte for byte, cut from a stream, parsed") {
    using namespace bsup::drivers::postgres::wire;
    CHECK(ssl_request() == std::string("\0\0\0\x08\x04\xd2\x16\x2f", 8));
    std::string q = simple_query("LISTEN x");
    CHECK(q == std::string("Q\0\0\0\x0dLISTEN x\0", 14));

    std::string stream = Writer('Z').bytes("I").finish() +
                         Writer('D').int16(2).int32(2).bytes("ok").int32(-1).finish();
    std::size_t offset = 0;
    std::optional<Message> z = next_message(stream, offset);
    REQUIRE(z);
    CHECK(z->type == 'Z');
    CHECK(z->body == "I");
    std::optional<Message> d = next_message(stream, offset);
    REQUIRE(d);
    auto row = parse_data_row(d->body);
    REQUIRE(row.size() == 2);
    CHECK(row[0] == "ok");
    CHECK_FALSE(row[1]);
    CHECK_FALSE(next_message(stream, offset));                    // nothing more
    std::string_view cut = std::string_view(stream).substr(0, 9); // 'Z' whole, 'D' in part
    std::size_t partial = 0;
    CHECK(next_message(cut, partial));
    CHECK(partial == 6);
    CHECK_FALSE(next_message(cut, partial));
    CHECK(partial == 6);

    std::string bad = std::string("D\0\0\0\x01", 5);
    std::size_t at = 0;
    CHECK_THROWS_AS(next_message(bad, at), ProtocolError);
    CHECK_THROWS_AS(parse_data_row(std::string("\0\x01\0\0\0\x09x", 7)), ProtocolError);

    std::string error = Writer()
                            .bytes("S")
                            .cstring("FEHLER")
                            .bytes("V")
                            .cstring("ERROR")
                            .bytes("C")
                            .cstring("42P01")
                            .bytes("M")
                            .cstring("relation does not exist")
                            .bytes(std::string(1, '\0'))
                            .finish()
                            .substr(4);
    ServerMessage m = parse_server_message(error);
    CHECK(m.severity == "ERROR");
    CHECK(m.sqlstate == "42P01");
    CHECK(m.message == "relation does not exist");

    std::string note = Writer().int32(42).cstring("bsup").cstring("a/b").finish().substr(4);
    CHECK(parse_notification_payload(note) == "a/b");
}

TEST_CASE("wire messages of a prepared statement: Parse by name once, then Bind and Execute") {
    using namespace bsup::drivers::postgres::wire;
    CHECK(parse("bsup_1", "SELECT $1") == std::string("P\0\0\0\x17"
                                                      "bsup_1\0SELECT $1\0\0\0",
                                                      24));
    // Bind (portal "", statement bsup_1, no parameter formats, one parameter "k", text results),
    // Execute (portal "", no row limit), Sync.
    std::string bind("B\0\0\0\x17\0bsup_1\0\0\0\0\x01\0\0\0\x01k\0\0", 24);
    std::string execute("E\0\0\0\x09\0\0\0\0\0", 10);
    CHECK(bind_execute("bsup_1", {std::string("k")}) == bind + execute + sync());
    CHECK(sync() == std::string("S\0\0\0\x04", 5));
    // NULL: length -1 and no bytes.
    CHECK(bind_execute("bsup_1", {std::nullopt}).substr(15, 6) ==
          std::string("\0\x01\xff\xff\xff\xff", 6));
    // The unnamed statement is the same messages with the empty name.
    CHECK(extended_query("SELECT 1", {}) == parse("", "SELECT 1") + bind_execute("", {}));
}
