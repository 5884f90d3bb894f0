// --keepalive: a detached heartbeat (this same binary, hidden subcommand __keepalive) renews the
// session while the shell that called bsup lives.
#include "cli/context.hpp"
#include "core/keepalive.hpp"

#include <climits>
#include <fmt/format.h>
#include <unistd.h>

namespace bsup::cli {

namespace {

std::string own_executable() {
    char path[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0) {
        throw core::Error(core::ExitCode::backend, "internal",
                          "cannot find bsup's own executable (/proc/self/exe) to start the "
                          "keepalive process");
    }
    return std::string(path, static_cast<std::size_t>(n));
}

} // namespace

void start_keepalive(Context& ctx, const core::Client& client, bool whole_session, int watched) {
    const core::ClientConfig& config = client.config();
    if (std::optional<pid_t> running = core::live_keepalive(config.state_path)) {
        ctx.out.debug(fmt::format("keepalive {} already runs", *running));
        return;
    }
    pid_t pid = watched > 0 ? watched : ::getppid();
    std::vector<std::string> argv{
        own_executable(), "__keepalive",
        "--pid",          std::to_string(pid),
        "--scope",        whole_session ? "session" : "locks",
        "--state-file",   config.state_path.string(),
        "--from",         std::string(core::to_string(config.connection.driver)),
        "--timeout",      ctx.flags.timeout};
    if (!ctx.flags.token_file.empty()) {
        argv.insert(argv.end(), {"--token-file", ctx.flags.token_file});
    }
    // The connection is a secret: through the environment, never on a command line that ps shows.
    core::spawn_detached(argv, {"BSUP_CONNECTION=" + config.connection.connection});
    ctx.out.debug(fmt::format("started a keepalive watching process {}", pid));
}

core::ExitCode heartbeat_command(Context& ctx, const HeartbeatFlags& f) {
    core::Client client = ctx.client();
    core::KeepaliveRequest request;
    request.watched = f.pid;
    request.scope =
        f.scope == "session" ? core::KeepaliveScope::session : core::KeepaliveScope::locks;
    std::string reason = core::run_keepalive(client, request);
    ctx.out.debug(fmt::format("keepalive stopped: {}", reason));
    return core::ExitCode::ok;
}

} // namespace bsup::cli
