#pragma once

#include <stdexcept>
#include <string>

namespace bsup::core {

// The exit codes of SPEC's table. Every failure maps to exactly one.
enum class ExitCode : int {
    ok = 0,
    not_acquired = 1,
    usage = 2,
    backend = 3,
    state_file = 4,
    lock_lost = 5,
    interrupted = 130,
};

// What ends a command: bad input, a backend that failed, a state file that cannot be used.
// `code` is the machine-readable name printed in the JSON error object; `hint` says what to do.
// Messages must already be free of secrets (see redact.hpp): they are printed as they are.
class Error : public std::runtime_error {
  public:
    Error(ExitCode exit_code, std::string code, const std::string& message, std::string hint = {});

    ExitCode exit_code() const { return m_exit_code; }
    const std::string& code() const { return m_code; }
    const std::string& hint() const { return m_hint; }

  private:
    ExitCode m_exit_code;
    std::string m_code;
    std::string m_hint;
};

// Shorthands for the common kinds, so that call sites read as what went wrong.
Error usage_error(const std::string& message, std::string hint = {});
Error backend_error(const std::string& message, std::string hint = {});
Error state_file_error(const std::string& message, std::string hint = {});

// A session that the backend no longer knows (expired or destroyed).
class SessionGone : public Error {
  public:
    explicit SessionGone(const std::string& session_id);
};

} // namespace bsup::core
