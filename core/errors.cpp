#include "core/errors.hpp"

#include <utility>

namespace bsup::core {

Error::Error(ExitCode exit_code, std::string code, const std::string& message, std::string hint)
    : std::runtime_error(message), m_exit_code(exit_code), m_code(std::move(code)),
      m_hint(std::move(hint)) {}

Error usage_error(const std::string& message, std::string hint) {
    return Error(ExitCode::usage, "usage", message, std::move(hint));
}

Error backend_error(const std::string& message, std::string hint) {
    return Error(ExitCode::backend, "backend_unavailable", message, std::move(hint));
}

Error state_file_error(const std::string& message, std::string hint) {
    return Error(ExitCode::state_file, "state_file", message, std::move(hint));
}

SessionGone::SessionGone(const std::string& session_id)
    : Error(ExitCode::not_acquired, "session_gone",
            "session " + session_id + " has expired or was ended on the backend",
            "run 'bsup register' to start a new session, or 'bsup deregister --force' to discard "
            "the state file") {}

} // namespace bsup::core
