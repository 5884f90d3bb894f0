#include "cli/context.hpp"

#include "drivers/registry.hpp"

#include <fmt/format.h>
#include <unistd.h>

namespace bsup::cli {

void Context::finish_parsing() {
    out.format = (flags.json || flags.output == "json") ? Format::json : Format::text;
    out.log_format = flags.log_format == "json" ? LogFormat::json : LogFormat::text;
    out.verbosity = flags.quiet ? -1 : flags.verbose;
    // https://no-color.org: any non-empty NO_COLOR turns colour off.
    out.color = ::isatty(STDOUT_FILENO) != 0 && !env("NO_COLOR");
    out.stderr_tty = ::isatty(STDERR_FILENO) != 0;
    out.stderr_color = out.stderr_tty && !env("NO_COLOR");
}

core::Client Context::client(core::Service service, core::Duration ttl, std::string check_http) {
    core::ConnectionRequest request;
    request.from = flags.from;
    request.connection = flags.connection;
    request.timeout = core::parse_duration(flags.timeout, "--timeout");
    if (request.timeout.count() <= 0) {
        throw core::usage_error("invalid --timeout 0: must be more than zero");
    }
    request.token_file = flags.token_file;
    if (!flags.lock_delay.empty()) {
        request.lock_delay = core::parse_duration(flags.lock_delay, "--lock-delay");
    }
    core::ConnectionSettings settings = core::resolve_connection(request, env);
    core::ClientConfig config{settings, core::state_file_path(flags.state_file, env),
                              std::move(service), ttl, std::move(check_http)};
    out.debug(fmt::format("driver {} at {}; state file {}", core::to_string(settings.driver),
                          settings.endpoint, config.state_path.string()));
    return core::Client(std::move(config), &drivers::make_supervisor,
                        [this](const std::string& message) { out.notice(message); });
}

} // namespace bsup::cli
