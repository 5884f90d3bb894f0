#pragma once

// What every subcommand shares: the global flags, the output, and how to make the core client.

#include "cli/flags.hpp"
#include "cli/output.hpp"
#include "core/client.hpp"

namespace bsup::cli {

class Context {
  public:
    GlobalFlags flags;
    Output out;
    core::Environment env = core::process_environment();

    // Applies the global flags to `out`; called once parsing is done.
    void finish_parsing();

    // A client for this invocation: connection, state file and session settings resolved from
    // flags and environment. `service` and `ttl` matter only to commands that start a session.
    core::Client client(core::Service service = core::default_service(),
                        core::Duration ttl = core::k_default_ttl, std::string check_http = {});
};

// The subcommands (cli/cmd_*.cpp): each turns its flags into a call into core and prints.
core::ExitCode register_command(Context& ctx, const RegisterFlags& f);
core::ExitCode deregister_command(Context& ctx, const DeregisterFlags& f);
core::ExitCode lock_command(Context& ctx, const LockFlags& f);
core::ExitCode run_command(Context& ctx, const RunFlags& f);
core::ExitCode unlock_command(Context& ctx, const UnlockFlags& f);
core::ExitCode status_command(Context& ctx, const StatusFlags& f);
core::ExitCode renew_command(Context& ctx);
core::ExitCode heartbeat_command(Context& ctx, const HeartbeatFlags& f);

// Starts the detached heartbeat for the client's session unless one runs already (--keepalive).
// `watched` 0 means the process that called bsup (its parent, usually the shell).
void start_keepalive(Context& ctx, const core::Client& client, bool whole_session, int watched);
core::ExitCode services_command(Context& ctx);
core::ExitCode version_command(Context& ctx);

// Runs bsup with the arguments of main(); returns the exit code.
int run(int argc, char** argv);

} // namespace bsup::cli
