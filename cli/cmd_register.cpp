#include "cli/context.hpp"
#include "cli/session_json.hpp"

#include <fmt/format.h>

namespace bsup::cli {

namespace {

core::Service service_from(const RegisterFlags& f) {
    core::Service service = core::default_service();
    service.name = f.name;
    service.id = f.id;
    if (f.address) {
        service.address = *f.address;
    }
    service.version = f.version;
    service.tags = f.tags;
    for (const std::string& pair : f.meta) {
        std::size_t eq = pair.find('=');
        if (eq == std::string::npos || eq == 0) {
            throw core::usage_error(fmt::format("invalid --meta '{}': expected KEY=VALUE", pair));
        }
        service.meta[pair.substr(0, eq)] = pair.substr(eq + 1);
    }
    if (service.name.empty()) {
        throw core::usage_error("invalid --name: must not be empty");
    }
    return service;
}

} // namespace

core::ExitCode register_command(Context& ctx, const RegisterFlags& f) {
    core::Duration ttl = core::parse_duration(f.ttl, "--ttl");
    core::validate_ttl(ttl, ctx.env);
    core::Client client = ctx.client(service_from(f), ttl, f.check_http);
    core::Registration reg = client.register_session();
    if (f.keepalive) {
        start_keepalive(ctx, client, true, f.keepalive_pid);
    }
    nlohmann::ordered_json doc = session_json(reg.session, client.config());
    doc["created"] = reg.created;
    ctx.out.result(doc,
                   fmt::format("{} session {} as {} (ttl {}, state file {})",
                               reg.created ? "registered" : "already registered:", reg.session.id,
                               reg.session.service.name, core::format_duration(reg.session.ttl),
                               client.config().state_path.string()));
    return core::ExitCode::ok;
}

} // namespace bsup::cli
