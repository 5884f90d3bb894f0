#include "core/redact.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <vector>

namespace bsup::core {

namespace {

constexpr std::string_view k_mask = "***";
constexpr std::array<std::string_view, 5> k_secret_keys = {"password", "sslpassword", "token",
                                                           "passfile_content", "secret"};

std::vector<std::string>& secrets() {
    static std::vector<std::string> list;
    return list;
}

bool is_key_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-';
}

// "scheme://user:password@host" -> "scheme://user:***@host", for every URI in the text. In a
// message a URI ends at white space; a whole connection string is one URI, and libpq takes
// everything before an '@' that comes before the first '/' as user info ('?', '#' and spaces
// included).
void mask_uri_passwords(std::string& s, std::vector<std::string>* found, bool whole) {
    std::size_t pos = 0;
    while ((pos = s.find("://", pos)) != std::string::npos) {
        std::size_t auth = pos + 3;
        // Not at a single quote: RFC 3986 allows it in a password ("u:it's@host"), and a URI
        // quoted in a message ('scheme://u:pw@host') still ends at the white space after it.
        std::size_t end = s.find_first_of(whole ? "/" : "/?# \t\n\"", auth);
        if (end == std::string::npos) {
            end = s.size();
        }
        std::size_t at = s.rfind('@', end);
        if (at != std::string::npos && at >= auth) {
            std::size_t colon = s.find(':', auth);
            if (colon != std::string::npos && colon < at) {
                if (found != nullptr) {
                    found->push_back(s.substr(colon + 1, at - colon - 1));
                }
                s.replace(colon + 1, at - colon - 1, k_mask);
                end = colon + 1 + k_mask.size();
            }
        }
        pos = end;
    }
}

// password=xyz (key=value form, with optional quotes) and ?password=xyz / &token=xyz (query form).
// White space as libpq reads it around '=' and after a value (isspace in the C locale).
bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

void mask_key_values(std::string& s, std::vector<std::string>* found) {
    for (std::string_view key : k_secret_keys) {
        std::size_t pos = 0;
        while ((pos = s.find(key, pos)) != std::string::npos) {
            bool starts_word = pos == 0 || !is_key_char(s[pos - 1]);
            std::size_t eq = pos + key.size();
            while (eq < s.size() && is_space(s[eq])) {
                ++eq;
            }
            if (!starts_word || eq >= s.size() || s[eq] != '=') {
                pos += key.size();
                continue;
            }
            std::size_t v = eq + 1;
            while (v < s.size() && is_space(s[v])) {
                ++v;
            }
            std::size_t end = v;
            if (v < s.size() && s[v] == '\'') {
                end = v + 1;
                while (end < s.size() && s[end] != '\'') {
                    end += (s[end] == '\\' && end + 1 < s.size()) ? 2 : 1;
                }
                end = std::min(end + 1, s.size());
            } else {
                // A libpq value ends at white space; in a URI's query ("?password=x&...") also at
                // '&'; and at '"', where it is quoted text (a JSON string) that holds the pair.
                bool in_query = pos > 0 && (s[pos - 1] == '?' || s[pos - 1] == '&');
                end = s.find_first_of(in_query ? " \t\n\r\v\f&#\"" : " \t\n\r\v\f\"", v);
                if (end == std::string::npos) {
                    end = s.size();
                }
            }
            if (found != nullptr) {
                std::string value = s.substr(v, end - v);
                if (value.size() >= 2 && value.front() == '\'' && value.back() == '\'') {
                    value = value.substr(1, value.size() - 2);
                }
                found->push_back(value);
            }
            s.replace(v, end - v, k_mask);
            pos = v + k_mask.size();
        }
    }
}

} // namespace

void add_secret(std::string_view secret) {
    if (secret.empty() || secret == k_mask) {
        return;
    }
    auto& list = secrets();
    if (std::find(list.begin(), list.end(), secret) == list.end()) {
        list.emplace_back(secret);
        // Longest first, so that a secret containing another is removed whole.
        std::sort(list.begin(), list.end(),
                  [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    }
}

std::string redact(std::string_view text) {
    std::string s(text);
    for (const std::string& secret : secrets()) {
        std::size_t pos = 0;
        while ((pos = s.find(secret, pos)) != std::string::npos) {
            s.replace(pos, secret.size(), k_mask);
            pos += k_mask.size();
        }
    }
    mask_uri_passwords(s, nullptr, false);
    mask_key_values(s, nullptr);
    return s;
}

std::string redact_connection(std::string_view connection) {
    std::string s(connection);
    std::vector<std::string> found;
    // A URI, not key=value pairs that hold one: nothing but a scheme before its "://".
    std::size_t scheme_end = s.find("://");
    bool uri = scheme_end != std::string::npos && s.find_first_of("= \t\n") > scheme_end;
    mask_uri_passwords(s, &found, uri);
    mask_key_values(s, &found);
    for (const std::string& secret : found) {
        add_secret(secret);
    }
    return redact(s);
}

} // namespace bsup::core
