// The small commands: renew, services, version.
#include "cli/context.hpp"
#include "cli/session_json.hpp"
#include "core/json.hpp"
#include "drivers/registry.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace bsup::cli {

core::ExitCode renew_command(Context& ctx) {
    core::Client client = ctx.client();
    core::Session session = client.renew();
    ctx.out.result(session_json(session, client.config()),
                   ctx.out.verbosity < 0
                       ? std::string()
                       : fmt::format("renewed session {} until {}", session.id,
                                     session.expires_at ? core::format_rfc3339(*session.expires_at)
                                                        : std::string("-")));
    return core::ExitCode::ok;
}

core::ExitCode services_command(Context& ctx) {
    std::vector<core::Service> services = ctx.client().services();
    ctx.out.result(nlohmann::ordered_json(services), services.empty()
                                                         ? "no services are registered\n"
                                                         : services_table(services, ctx.out.color));
    return core::ExitCode::ok;
}

core::ExitCode version_command(Context& ctx) {
    std::vector<std::string_view> drivers = drivers::built_in_drivers();
    nlohmann::ordered_json doc{{"version", BSUP_VERSION}, {"drivers", drivers}};
    ctx.out.result(doc,
                   fmt::format("bsup {} (drivers: {})", BSUP_VERSION, fmt::join(drivers, ", ")));
    return core::ExitCode::ok;
}

} // namespace bsup::cli
