// drivers/postgres/conninfo: libpq connection strings (URIs, key=value pairs) as bsup's own client
// reads them to decide whether it can connect without libpq. Never a crash; and the password
// bsup's reading finds is one that core/redact removes from the endpoint it shows and stores.
#include "core/redact.hpp"
#include "drivers/postgres/conninfo.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    bsup::core::forget_secrets(); // each input on its own
    // From argv or the environment: a C string, so up to the first NUL.
    std::string conninfo(reinterpret_cast<const char*>(data), size);
    conninfo.resize(std::min(conninfo.find('\0'), conninfo.size()));
    auto values = bsup::drivers::postgres::parse_conninfo(conninfo);
    bsup::core::Environment env = [](const std::string& name) -> std::optional<std::string> {
        if (name == "HOME") {
            return "/nonexistent";
        }
        return std::nullopt;
    };
    auto target = bsup::drivers::postgres::wire_target(conninfo, env);
    if (target && !values) {
        std::abort(); // a target needs a string that parses
    }
    if (!values) {
        return 0;
    }
    auto it = values->find("password");
    if (it == values->end() || it->second.size() < 4 || it->second.find('*') != std::string::npos) {
        return 0; // short passwords may occur in the rest of the text by chance
    }
    // The password's text may also occur in another value by chance ("a=\\\\ password=\\"):
    // only a password that the rest of the string does not contain can be looked for.
    std::string others = conninfo;
    std::size_t at = others.find("password");
    if (at != std::string::npos) {
        std::size_t end = others.find_first_of(" \t\n", at);
        others.erase(at, end == std::string::npos ? std::string::npos : end - at);
    }
    if (others.find(it->second) != std::string::npos) {
        return 0;
    }
    std::string endpoint = bsup::core::redact_connection(conninfo);
    if (endpoint.find(it->second) != std::string::npos) {
        std::abort();
    }
    return 0;
}
