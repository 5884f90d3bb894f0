#pragma once

#include <string>
#include <string_view>

namespace bsup::core {

// Remembers a secret (a password, a token) for the rest of the process, so that redact() removes
// it wherever it shows up. Every non-empty secret counts: a short password is still a password.
void add_secret(std::string_view secret);

// Forgets every secret add_secret() remembered: for fuzz targets, where each input stands alone
// (and a list that grows with every input would slow each one down).
void forget_secrets();

// Every text that leaves the process passes through here: messages, logs, JSON, the state file.
// Removes the secrets given to add_secret(), the password of any URI ("scheme://user:pw@host"),
// and the values of password=, sslpassword= and token= in key=value and query forms.
std::string redact(std::string_view text);

// Registers the secrets of a connection string (its password and tokens) and returns it redacted:
// the endpoint as it may be shown and stored.
std::string redact_connection(std::string_view connection);

} // namespace bsup::core
