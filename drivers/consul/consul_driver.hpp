#pragma once

#include "core/connection.hpp"
#include "core/supervisor.hpp"

#include <memory>

namespace bsup::drivers {

// The Consul driver (SPEC "consul"): a Consul session backs the bsup session, the service goes
// to the agent's registry, a key is the KV entry blacksmith/<key>. libcurl is loaded and the
// token read on the first call; creating the supervisor contacts nothing.
std::unique_ptr<core::Supervisor> make_consul_supervisor(const core::ConnectionSettings& settings);

} // namespace bsup::drivers
