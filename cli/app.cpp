// The command line: every flag of every subcommand, wired to CLI11. This is the only file that
// includes CLI11 (it is heavy to compile); the subcommands themselves live in cmd_*.cpp.
#include "cli/cmd_history.hpp"
#include "cli/context.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <cstring>
#include <fmt/format.h>
#include <functional>
#include <unistd.h>

namespace bsup::cli {

namespace {

constexpr const char* k_description =
    "bsup makes sure that a resource is used by one process at a time, across machines.\n"
    "Exit codes: 0 done, 1 not acquired / not held, 2 usage, 3 backend, 4 state file,\n"
    "5 lock lost (run), 130 interrupted.";

using Action = std::function<core::ExitCode()>;

void add_global_flags(CLI::App& app, GlobalFlags& f) {
    const char* g = "Global";
    app.add_option("--from", f.from, "Driver: sqlite, postgres or consul (env BSUP_FROM)")
        ->check(CLI::IsMember({"sqlite", "postgres", "postgresql", "consul"}))
        ->group(g);
    app.add_option("--connection", f.connection,
                   "Backend connection; a secret, never printed (env BSUP_CONNECTION)")
        ->group(g);
    app.add_option("--state-file", f.state_file,
                   "Session state file (env BSUP_STATE_FILE; default "
                   "$XDG_STATE_HOME/bsup/state.json)")
        ->group(g);
    app.add_option("--timeout", f.timeout, "Bound on each backend call (default 10s)")->group(g);
    app.add_option("--token-file", f.token_file, "consul: file with the ACL token")->group(g);
    app.add_option("--lock-delay", f.lock_delay,
                   "consul: the session's lock delay (default 15s; 0 allowed)")
        ->group(g);
    app.add_flag("--json", f.json, "Print one JSON document on stdout (same as -o json)")->group(g);
    app.add_option("-o,--output", f.output, "Output format: text or json")
        ->check(CLI::IsMember({"text", "json"}))
        ->group(g);
    app.add_option("--log-format", f.log_format, "Diagnostics on stderr: text or json")
        ->check(CLI::IsMember({"text", "json"}))
        ->group(g);
    app.add_flag("-v,--verbose", f.verbose, "Log what bsup does on stderr")->group(g);
    app.add_flag("-q,--quiet", f.quiet, "Print only results and errors")->group(g);
}

CLI::App* subcommand(CLI::App& app, Action& action, const char* name, const char* description,
                     const char* example, Action run) {
    CLI::App* cmd = app.add_subcommand(name, description);
    cmd->footer(example);
    cmd->callback([&action, run = std::move(run)] { action = run; });
    return cmd;
}

// The flags of every subcommand; they live as long as the parse and the run.
struct CommandFlags {
    RegisterFlags reg;
    DeregisterFlags dereg;
    LockFlags lock;
    RunFlags run;
    UnlockFlags unlock;
    StatusFlags status;
    HistoryFlags history;
    HeartbeatFlags heartbeat;
};

void add_keepalive_flags(CLI::App* cmd, bool& keepalive, int& pid) {
    cmd->add_flag("--keepalive", keepalive,
                  "Renew the session from a detached process while the calling shell lives");
    cmd->add_option("--keepalive-pid", pid,
                    "With --keepalive: watch this process instead of the calling shell")
        ->check(CLI::PositiveNumber);
}

void add_commands(CLI::App& app, Context& ctx, Action& action, CommandFlags& flags) {
    RegisterFlags& reg = flags.reg;
    CLI::App* cmd = subcommand(
        app, action, "register", "Start a session and register its service (Blacksmith's Init)",
        "Example:\n  bsup register --name blacksmith-gateway --address :9090 --ttl 1m",
        [&ctx, &reg] { return register_command(ctx, reg); });
    cmd->add_option("--name", reg.name, "Service name (default bsup)");
    cmd->add_option("--id", reg.id, "Service ID (default: the session ID)");
    cmd->add_option("--address", reg.address, "Service address (default: the host name)");
    cmd->add_option("--service-version", reg.version, "Service version");
    cmd->add_option("--tag", reg.tags, "Service tag (repeatable)");
    cmd->add_option("--meta", reg.meta, "Service metadata KEY=VALUE (repeatable)");
    cmd->add_option("--check-http", reg.check_http,
                    "consul: URL the agent polls as the service's health check");
    cmd->add_option("--ttl", reg.ttl, "Session TTL, 10s to 24h (default 15m)");
    add_keepalive_flags(cmd, reg.keepalive, reg.keepalive_pid);

    DeregisterFlags& dereg = flags.dereg;
    cmd = subcommand(app, action, "deregister",
                     "Release every key of this session, end it, deregister its service "
                     "(Blacksmith's Shutdown)",
                     "Example:\n  trap 'bsup deregister' EXIT",
                     [&ctx, &dereg] { return deregister_command(ctx, dereg); });
    cmd->add_flag("--force", dereg.force,
                  "Discard the state file even when it is corrupt, of another backend, or the "
                  "backend cannot be reached");

    LockFlags& lock = flags.lock;
    cmd = subcommand(app, action, "lock",
                     "Acquire KEY for this session; starts a session first when there is none",
                     "Example:\n  bsup lock migrations/warehouse --wait 10m && migrate up; "
                     "bsup unlock migrations/warehouse",
                     [&ctx, &lock] { return lock_command(ctx, lock); });
    cmd->add_option("key", lock.key, "The key, like migrations/warehouse")->required();
    cmd->add_option("--ttl", lock.ttl,
                    "TTL of the session this command starts (10s to 24h, default 15m)");
    cmd->add_option("--wait", lock.wait, "Wait up to this long for the key (default 0: try once)");
    cmd->add_option("--conflict-exit-code", lock.conflict_exit_code,
                    "Exit code when the key is held by another session (default 1)")
        ->check(CLI::Range(0, 255));
    add_keepalive_flags(cmd, lock.keepalive, lock.keepalive_pid);

    RunFlags& run = flags.run;
    cmd = subcommand(
        app, action, "run",
        "Hold KEY exactly as long as a command runs; stop the command if the lock is lost",
        "Example:\n  bsup run migrations/warehouse --wait 10m -- migrate up",
        [&ctx, &run] { return run_command(ctx, run); });
    cmd->add_option("key", run.key, "The key, like migrations/warehouse")->required();
    cmd->add_option("command", run.command, "The command and its arguments, after --")->required();
    cmd->add_option("--wait", run.wait, "Wait up to this long for the key (default 0: try once)");
    cmd->add_option("--ttl", run.ttl,
                    "TTL of the session run starts, renewed at a third of it (default 15s)");
    cmd->add_option("--grace", run.grace,
                    "Time between TERM and KILL when the lock is lost (default 10s)");
    cmd->add_option("--conflict-exit-code", run.conflict_exit_code,
                    "Exit code when the key is held by another session (default 1)")
        ->check(CLI::Range(0, 255));

    UnlockFlags& unlock = flags.unlock;
    cmd = subcommand(app, action, "unlock", "Release KEY held by this session",
                     "Examples:\n  bsup unlock migrations/warehouse\n"
                     "  bsup unlock --force migrations/warehouse --reason 'job 4711 was killed'",
                     [&ctx, &unlock] { return unlock_command(ctx, unlock); });
    cmd->add_option("key", unlock.key, "The key, like migrations/warehouse")->required();
    CLI::Option* force =
        cmd->add_flag("--force", unlock.force,
                      "Break the lock whoever holds it (for operators: its holder died)");
    cmd->add_option("--reason", unlock.reason,
                    "With --force: why, recorded in the key's history (at most 1024 bytes)")
        ->needs(force);

    StatusFlags& status = flags.status;
    cmd = subcommand(app, action, "status",
                     "Show who holds KEYs, since when, until when (default: every held key)",
                     "Examples:\n  bsup status\n"
                     "  bsup status migrations/warehouse --json | jq .is_acquired\n"
                     "  bsup status --json | jq -r '.[] | select(.is_acquired) | .key'",
                     [&ctx, &status] { return status_command(ctx, status); });
    cmd->add_option("keys", status.keys, "Keys to show");
    cmd->add_flag("-e,--exit-status", status.exit_status,
                  "Exit 1 when a named key is free (with no key: when none is held)");

    HistoryFlags& history = flags.history;
    cmd = subcommand(app, action, "history",
                     "Show the grants, releases, expiries and forced breaks of KEY (default: of "
                     "every key), newest last",
                     "Examples:\n  bsup history migrations/warehouse\n"
                     "  bsup history migrations/warehouse --json | jq '.events[] | "
                     "select(.event == \"force\")'",
                     [&ctx, &history] { return history_command(ctx, history); });
    cmd->add_option("key", history.key, "The key, like migrations/warehouse");
    cmd->add_option("-n,--limit", history.limit, "Show the newest N events (default 20)")
        ->check(CLI::Range(1, 10000));

    HeartbeatFlags& heartbeat = flags.heartbeat;
    cmd = subcommand(app, action, "__keepalive", "", "",
                     [&ctx, &heartbeat] { return heartbeat_command(ctx, heartbeat); });
    cmd->group(""); // hidden: started by --keepalive, not by people
    cmd->add_option("--pid", heartbeat.pid)->required();
    cmd->add_option("--scope", heartbeat.scope)->check(CLI::IsMember({"locks", "session"}));

    subcommand(app, action, "renew", "Extend this session by its TTL",
               "Example:\n  while migrate step; do bsup renew; done",
               [&ctx] { return renew_command(ctx); });
    subcommand(app, action, "services", "List the registered services",
               "Example:\n  bsup services --json | jq -r '.[].name'",
               [&ctx] { return services_command(ctx); });
    subcommand(app, action, "version", "Print the version and the drivers built in",
               "Example:\n  bsup version --json | jq -r '.drivers[]'",
               [&ctx] { return version_command(ctx); });
}

// Before parsing succeeded, the flags are not known; look for `flag json` in the raw arguments
// so that a usage error still comes out in the format that was asked for.
bool asks_json(int argc, char** argv, std::initializer_list<std::string_view> flags) {
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--") {
            break;
        }
        for (std::string_view flag : flags) {
            std::string_view suffix = flag.size() == 2 ? "json" : "=json"; // -ojson, --x=json
            bool joined = arg.substr(0, flag.size()) == flag && arg.substr(flag.size()) == suffix;
            bool split = arg == flag && i + 1 < argc && std::strcmp(argv[i + 1], "json") == 0;
            if (joined || split) {
                return true;
            }
        }
    }
    return false;
}

// Ctrl-C (while waiting for a key, say) ends bsup at once with exit 130, even when the shell
// started it with SIGINT ignored (a background job). Only async-signal-safe calls in the handler;
// what it may interrupt is safe to cut: the state file is replaced by rename, SQLite rolls back.
bool g_json_errors = false;

extern "C" void on_interrupt(int /*signal*/) {
    constexpr char k_text[] = "bsup: error: interrupted\n";
    constexpr char k_json[] =
        R"({"error":{"code":"interrupted","message":"interrupted","exit_code":130}})"
        "\n";
    ssize_t ignored = ::write(STDERR_FILENO, k_text, sizeof k_text - 1);
    if (g_json_errors) {
        ignored = ::write(STDOUT_FILENO, k_json, sizeof k_json - 1);
    }
    (void)ignored;
    ::_exit(static_cast<int>(core::ExitCode::interrupted));
}

void handle_interrupts(bool json) {
    g_json_errors = json;
    struct sigaction action {};
    action.sa_handler = &on_interrupt;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGINT, &action, nullptr);
}

} // namespace

int run(int argc, char** argv) {
    Context ctx;
    Action action;
    CommandFlags flags;
    CLI::App app(k_description, "bsup");
    app.fallthrough(); // global flags work after the subcommand too
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("bsup ") + BSUP_VERSION);
    app.footer("Run 'bsup COMMAND --help' for a command's flags; 'man bsup' for the rest.");
    add_global_flags(app, ctx.flags);
    add_commands(app, ctx, action, flags);

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        std::fputs(app.help().c_str(), stdout);
        return 0;
    } catch (const CLI::CallForAllHelp&) {
        std::fputs(app.help("", CLI::AppFormatMode::All).c_str(), stdout);
        return 0;
    } catch (const CLI::CallForVersion& e) {
        std::fputs((std::string(e.what()) + "\n").c_str(), stdout);
        return 0;
    } catch (const CLI::ParseError& e) {
        bool json = asks_json(argc, argv, {"-o", "--output"}) ||
                    std::find(argv + 1, argv + argc, std::string_view("--json")) != argv + argc;
        ctx.out.format = json ? Format::json : Format::text;
        ctx.out.log_format =
            asks_json(argc, argv, {"--log-format"}) ? LogFormat::json : LogFormat::text;
        ctx.out.error(core::usage_error(e.what(), "run 'bsup --help' for usage"));
        return static_cast<int>(core::ExitCode::usage);
    }

    ctx.finish_parsing();
    handle_interrupts(ctx.out.json());
    try {
        return static_cast<int>(action());
    } catch (const core::Error& e) {
        ctx.out.error(e);
        return static_cast<int>(e.exit_code());
    } catch (const std::exception& e) {
        ctx.out.error(core::Error(core::ExitCode::backend, "internal",
                                  fmt::format("unexpected failure: {}", e.what()),
                                  "please report this as a bug"));
        return static_cast<int>(core::ExitCode::backend);
    }
}

} // namespace bsup::cli
