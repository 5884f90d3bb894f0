#pragma once

#include <functional>
#include <optional>
#include <string>

namespace bsup::core {

// Reads an environment variable; empty values count as unset. Passed in rather than read
// directly, so that tests can give a core function the environment they want.
using Environment = std::function<std::optional<std::string>(const std::string& name)>;

Environment process_environment();

} // namespace bsup::core
