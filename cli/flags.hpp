#pragma once

// The flags of each subcommand, as plain values. cli/app.cpp wires them to CLI11 (the only file
// that includes it); cli/cmd_*.cpp read them.

#include <optional>
#include <string>
#include <vector>

namespace bsup::cli {

struct GlobalFlags {
    std::optional<std::string> from;
    std::optional<std::string> connection;
    std::optional<std::string> state_file;
    std::string timeout = "10s";
    std::string token_file;
    std::string lock_delay;
    bool json = false;
    std::string output = "text";
    std::string log_format = "text";
    int verbose = 0;
    bool quiet = false;
};

struct RegisterFlags {
    std::string name = "bsup";
    std::string id;
    std::optional<std::string> address;
    std::string version;
    std::vector<std::string> tags;
    std::vector<std::string> meta;
    std::string check_http;
    std::string ttl = "15m";
    bool keepalive = false;
    int keepalive_pid = 0;
};

struct DeregisterFlags {
    bool force = false;
};

struct LockFlags {
    std::string key;
    std::string ttl = "15m";
    std::string wait = "0";
    int conflict_exit_code = 1;
    bool keepalive = false;
    int keepalive_pid = 0;
};

// The hidden `__keepalive` subcommand: the detached heartbeat that --keepalive starts.
struct HeartbeatFlags {
    int pid = 0;
    std::string scope = "locks";
};

struct RunFlags {
    std::string key;
    std::string wait = "0";
    std::string ttl = "15s";
    std::string grace = "10s";
    int conflict_exit_code = 1;
    std::vector<std::string> command;
};

struct UnlockFlags {
    std::string key;
    bool force = false;
    std::string reason;
};

struct HistoryFlags {
    std::string key; // empty: every key
    int limit = 20;
};

struct StatusFlags {
    std::vector<std::string> keys;
    bool exit_status = false;
};

} // namespace bsup::cli
