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

// The bytes of a text to mask, marked on the text as it came, so that one kind of secret never
// changes the text another kind is looked for in (a registered secret "\\" replaced first would
// break the quotes of password='\''): each marked run becomes one mask.
using Marks = std::vector<bool>;

void mark(Marks& marks, std::size_t begin, std::size_t end) {
    std::fill(marks.begin() + static_cast<std::ptrdiff_t>(begin),
              marks.begin() + static_cast<std::ptrdiff_t>(end), true);
}

bool is_key_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-';
}

// Text as a URI's reader takes it: "%40" is "@".
std::string percent_decoded(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size() &&
            std::isxdigit(static_cast<unsigned char>(text[i + 1])) != 0 &&
            std::isxdigit(static_cast<unsigned char>(text[i + 2])) != 0) {
            out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

// A libpq value with its backslash escapes resolved: "a\ b" is "a b".
std::string unescaped(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        out += text[i] == '\\' && i + 1 < text.size() ? text[++i] : text[i];
    }
    return out;
}

// A found secret, and also as the program that reads it takes it when that differs from its
// text (percent-decoded, or escapes resolved): the decoded form may be written elsewhere as it is.
void add_found(std::vector<std::string>* found, std::string text, bool percent_encoded) {
    if (found == nullptr) {
        return;
    }
    std::string decoded = percent_encoded ? percent_decoded(text) : unescaped(text);
    if (decoded != text) {
        found->push_back(std::move(decoded));
    }
    found->push_back(std::move(text));
}

// "scheme://user:password@host": marks "password", for every URI in the text. In a
// message a URI ends at white space; a whole connection string is one URI, and libpq takes
// everything before an '@' that comes before the first '/' as user info ('?', '#' and spaces
// included).
void mark_uri_passwords(const std::string& s, Marks& marks, std::vector<std::string>* found,
                        bool whole) {
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
                add_found(found, s.substr(colon + 1, at - colon - 1), true);
                mark(marks, colon + 1, at);
                end = at;
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

// Whether the '"' at `at` closes quoted text around a value that starts at `value`.
bool closes_quote(const std::string& s, std::size_t value, std::size_t at) {
    if (at == value) {
        return false; // an empty value is no secret; the '"' is the password's first character
    }
    return at + 1 == s.size() || is_space(s[at + 1]) ||
           std::string_view(",}):]").find(s[at + 1]) != std::string_view::npos;
}

void mark_key_values(const std::string& s, Marks& marks, std::vector<std::string>* found) {
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
            bool in_query = pos > 0 && (s[pos - 1] == '?' || s[pos - 1] == '&');
            if (v < s.size() && s[v] == '\'') {
                end = v + 1;
                while (end < s.size() && s[end] != '\'') {
                    end += (s[end] == '\\' && end + 1 < s.size()) ? 2 : 1;
                }
                end = std::min(end + 1, s.size());
            } else {
                // A libpq value ends at white space; in a URI's query ("?password=x&...") also at
                // '&' (not at '#': libpq knows no fragments, "?password=#x" is "#x"); and at a '"'
                // that closes quoted text (a JSON string) holding the pair: one after the value's
                // first character, followed by the end, white space or what follows a string
                // (",}):]"). Any other '"' is part of the value, and so is a character after a
                // backslash in libpq's form ("a\ b" is "a b").
                std::string_view stops = in_query ? " \t\n\r\v\f&\"" : " \t\n\r\v\f\"";
                while (end < s.size()) {
                    if (!in_query && s[end] == '\\' && end + 1 < s.size()) {
                        end += 2;
                    } else if (stops.find(s[end]) != std::string_view::npos &&
                               (s[end] != '"' || closes_quote(s, v, end))) {
                        break;
                    } else {
                        ++end;
                    }
                }
                end = std::min(end, s.size());
            }
            std::string value = s.substr(v, end - v);
            if (value.size() >= 2 && value.front() == '\'' && value.back() == '\'') {
                value = value.substr(1, value.size() - 2);
            }
            add_found(found, std::move(value), in_query);
            mark(marks, v, end);
            pos = std::max(end, pos + key.size());
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

void forget_secrets() {
    secrets().clear();
}

namespace {

void mark_occurrences(const std::string& text, const std::string& secret, Marks& marks) {
    if (secret.empty()) {
        return;
    }
    for (std::size_t pos = 0; (pos = text.find(secret, pos)) != std::string::npos; ++pos) {
        mark(marks, pos, pos + secret.size());
    }
}

// The query of a whole connection URI as libpq reads it: "key=value" parameters between '&',
// white space included. Marks the values of secret keys.
void mark_uri_query(const std::string& s, Marks& marks, std::vector<std::string>* found) {
    std::size_t pos = s.find('?');
    while (pos != std::string::npos && pos < s.size()) {
        std::size_t begin = pos + 1;
        std::size_t end = std::min(s.find('&', begin), s.size());
        std::size_t eq = s.find('=', begin);
        if (eq < end) {
            std::string key = percent_decoded(std::string_view(s.data() + begin, eq - begin));
            if (std::find(k_secret_keys.begin(), k_secret_keys.end(), key) != k_secret_keys.end()) {
                add_found(found, s.substr(eq + 1, end - eq - 1), true);
                mark(marks, eq + 1, end);
            }
        }
        pos = end;
    }
}

// The secrets of `text`: registered ones, URI passwords, key=value and query values. `found`
// (when given) gets the passwords and tokens of the text's own syntax.
Marks secrets_of(const std::string& text, std::vector<std::string>* found, bool whole_uri) {
    Marks marks(text.size(), false);
    for (const std::string& secret : secrets()) {
        mark_occurrences(text, secret, marks);
    }
    mark_uri_passwords(text, marks, found, whole_uri);
    mark_key_values(text, marks, found);
    if (whole_uri) {
        mark_uri_query(text, marks, found);
    }
    return marks;
}

// `text` with each marked run replaced by one mask.
std::string masked(const std::string& text, const Marks& marks) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (!marks[i]) {
            out += text[i];
        } else if (i == 0 || !marks[i - 1]) {
            out += k_mask;
        }
    }
    return out;
}

} // namespace

std::string redact(std::string_view text) {
    std::string s(text);
    return masked(s, secrets_of(s, nullptr, false));
}

std::string redact_connection(std::string_view connection) {
    std::string s(connection);
    std::vector<std::string> found;
    // A URI, not key=value pairs that hold one: nothing but a scheme before its "://".
    std::size_t scheme_end = s.find("://");
    bool uri = scheme_end != std::string::npos && s.find_first_of("= \t\n") > scheme_end;
    Marks marks = secrets_of(s, &found, uri);
    for (const std::string& secret : found) {
        add_secret(secret);
        // Also where it is written elsewhere in the string (user=s3cret password=s3cret).
        mark_occurrences(s, secret, marks);
    }
    return masked(s, marks);
}

} // namespace bsup::core
