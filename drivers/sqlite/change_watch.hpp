#pragma once

// Wakes a waiter when the database may have changed: SQLite has no notifications, but every
// commit writes the -wal file (or the database itself), and inotify reports the write at once.
// The watch is on the database's folder, so that it sees the -wal file come and go. Spurious
// wake-ups (another key, a renewal, an unrelated file of that folder) cost one more query.

#include "core/clock.hpp"

#include <string>

namespace bsup::drivers::sqlite {

class ChangeWatch {
  public:
    // Watches the folder of `database_path`; valid() is false when inotify is not available
    // (the caller polls instead).
    explicit ChangeWatch(const std::string& database_path);
    ~ChangeWatch();
    ChangeWatch(const ChangeWatch&) = delete;
    ChangeWatch& operator=(const ChangeWatch&) = delete;

    bool valid() const { return m_fd >= 0; }

    // Waits until a file of the folder is written, created or replaced, or `until`; returns
    // whether something was written. Events that arrived since the last call count at once.
    bool wait(core::TimePoint until);

  private:
    int m_fd = -1;
};

} // namespace bsup::drivers::sqlite
