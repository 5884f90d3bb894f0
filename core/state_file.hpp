#pragma once

#include "core/environment.hpp"
#include "core/model.hpp"

#include <filesystem>
#include <optional>
#include <string>

namespace bsup::core {

constexpr int k_state_format_version = 1;

// What the state file holds between invocations (SPEC "Sessions and the state file").
struct State {
    DriverName driver = DriverName::sqlite;
    std::string endpoint; // redacted: never a password or token
    Session session;
};

// --state-file, else BSUP_STATE_FILE, else ${XDG_STATE_HOME:-$HOME/.local/state}/bsup/state.json.
std::filesystem::path state_file_path(const std::optional<std::string>& flag,
                                      const Environment& env);

// The state file at one path. Reading and writing fail with exit 4 (state_file_error), naming the
// path and what to do; a file that cannot be read is never replaced by write() unless the caller
// decided so (deregister --force).
class StateFile {
  public:
    explicit StateFile(std::filesystem::path path);

    const std::filesystem::path& path() const { return m_path; }

    // Empty when there is no file. Throws on an unreadable or corrupt file, or one that other
    // users may read (mode wider than 0600).
    std::optional<State> read() const;

    // Replaces the file atomically: a temporary file in the same folder (mode 0600), fsync,
    // rename, fsync of the folder. Creates the folder with mode 0700 if it is missing. On failure
    // (a full disk, say) the old file is left as it was.
    void write(const State& state) const;

    // Removes the file; no error when it is already gone.
    void remove() const;

    // An exclusive lock on "<path>.lock" held while it lives: bsup processes that share a state
    // file serialize their read-modify-write sequences on it.
    class Guard {
      public:
        explicit Guard(const std::filesystem::path& state_path);
        Guard(const Guard&) = delete;
        Guard& operator=(const Guard&) = delete;
        ~Guard();

      private:
        int m_fd = -1;
    };

    Guard lock() const { return Guard(m_path); }

  private:
    void remove_orphaned_temporaries(const std::filesystem::path& folder) const;

    std::filesystem::path m_path;
};

} // namespace bsup::core
