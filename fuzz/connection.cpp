// core/connection and core/redact: resolve_connection on any flags and environment, and the
// redaction of a password placed in each syntax a connection string has (a URI's user info,
// libpq's key=value form, quoted or not, a URL's token= query). The password never survives:
// neither in redact_connection's answer, nor in the endpoint resolve_connection stores, nor in what
// redact() makes of the whole connection string afterwards. Failures are usage Errors only.
#include "core/connection.hpp"
#include "core/errors.hpp"
#include "core/redact.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <fuzzer/FuzzedDataProvider.h>
#include <map>
#include <string>

namespace {

using namespace bsup::core;

// Characters a password may have in each syntax (RFC 3986 user info; a libpq value; a quoted
// libpq value, escaped below; a URL query value). '*' is left out: the mask is made of it.
constexpr std::string_view k_userinfo =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()+,;=:%";

std::string password_from(FuzzedDataProvider& in, std::string_view alphabet) {
    std::string raw = in.ConsumeRandomLengthString(40);
    std::string out;
    for (char c : raw) {
        if (alphabet.empty()) {
            auto u = static_cast<unsigned char>(c);
            if (c != '*' && u >= 0x21 && u != 0x7F) {
                out += c;
            }
        } else {
            out += alphabet[static_cast<unsigned char>(c) % alphabet.size()];
        }
    }
    return out;
}

std::string with_password(FuzzedDataProvider& in, std::string& password) {
    switch (in.ConsumeIntegralInRange(0, 4)) {
    case 0:
        password = password_from(in, k_userinfo);
        return "postgres://app:" + password + "@db.example:5432/app?sslmode=disable";
    case 1:
        password = password_from(in, k_userinfo);
        return "https://bsup:" + password + "@consul.example:8501";
    case 2: {
        // A libpq value without quotes ends at white space; a leading quote starts a quoted one.
        // redact() also ends a value at '"' (a pair quoted in JSON text): such a password is
        // libpq's to accept but bsup's to redact only in part, so it is left out here.
        password = password_from(in, "");
        if (!password.empty() && password.front() == '\'') {
            password.erase(0, 1);
        }
        password.erase(std::remove(password.begin(), password.end(), '"'), password.end());
        return "host=db port=5432 password=" + password + " dbname=app";
    }
    case 3: {
        password = password_from(in, "");
        std::string quoted;
        for (char c : password) {
            if (c == '\'' || c == '\\') {
                quoted += '\\';
            }
            quoted += c;
        }
        return "host=db password='" + quoted + "' dbname=app";
    }
    default:
        password = password_from(in, "abcdefghijklmnopqrstuvwxyz0123456789-._~!$'()+,:%");
        return "http://127.0.0.1:8500/?dc=one&token=" + password;
    }
}

constexpr std::array<const char*, 9> k_variables = {
    "BSUP_FROM",        "BSUP_CONNECTION", "POSTGRES_SUPERVISOR_URL", "DATABASE_URL",
    "CONSUL_HTTP_ADDR", "CONSUL_ADDRESS",  "XDG_STATE_HOME",          "HOME",
    "BSUP_STATE_FILE"};

ConnectionSettings resolve(const ConnectionRequest& request,
                           const std::map<std::string, std::string>& variables, bool& ok) {
    Environment env = [&](const std::string& name) -> std::optional<std::string> {
        auto it = variables.find(name);
        if (it == variables.end() || it->second.empty()) {
            return std::nullopt;
        }
        return it->second;
    };
    ok = true;
    try {
        return resolve_connection(request, env);
    } catch (const Error& e) {
        if (e.exit_code() != ExitCode::usage) {
            std::abort();
        }
        ok = false;
        return {};
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    bsup::core::forget_secrets(); // each input on its own
    FuzzedDataProvider in(data, size);

    // 1. A password in a known place of a connection string.
    std::string password;
    std::string connection = with_password(in, password);
    std::string endpoint = redact_connection(connection);
    if (!password.empty() && endpoint.find(password) != std::string::npos) {
        std::abort();
    }
    if (!password.empty() && redact(connection).find(password) != std::string::npos) {
        std::abort();
    }
    ConnectionRequest with_secret;
    with_secret.connection = connection;
    bool ok = false;
    ConnectionSettings settings = resolve(with_secret, {{"HOME", "/home/u"}}, ok);
    if (ok && !password.empty() && settings.endpoint.find(password) != std::string::npos) {
        std::abort();
    }

    // 2. Any flags and environment: a driver and an endpoint, or a usage Error.
    ConnectionRequest request;
    if (in.ConsumeBool()) {
        request.from = in.ConsumeRandomLengthString(16);
    }
    if (in.ConsumeBool()) {
        request.connection = in.ConsumeRandomLengthString(128);
    }
    std::map<std::string, std::string> variables;
    while (in.remaining_bytes() > 0) {
        const char* name =
            k_variables[in.ConsumeIntegralInRange<std::size_t>(0, k_variables.size() - 1)];
        variables[name] = in.ConsumeRandomLengthString(128);
    }
    settings = resolve(request, variables, ok);
    if (ok && settings.driver == DriverName::sqlite &&
        settings.endpoint.rfind("sqlite:/", 0) != 0) {
        std::abort(); // the sqlite endpoint names an absolute path
    }
    return 0;
}
