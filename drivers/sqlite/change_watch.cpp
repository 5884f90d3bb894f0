#include "drivers/sqlite/change_watch.hpp"

#include "drivers/net/stream_socket.hpp"

#include <filesystem>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

namespace bsup::drivers::sqlite {

ChangeWatch::ChangeWatch(const std::string& database_path) {
    m_fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (m_fd < 0) {
        return;
    }
    std::filesystem::path folder = std::filesystem::path(database_path).parent_path();
    std::string watched = folder.empty() ? std::string(".") : folder.string();
    if (::inotify_add_watch(m_fd, watched.c_str(),
                            IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
        ::close(m_fd);
        m_fd = -1;
    }
}

ChangeWatch::~ChangeWatch() {
    if (m_fd >= 0) {
        ::close(m_fd);
    }
}

bool ChangeWatch::wait(core::TimePoint until) {
    bool changed = net::wait_ready(m_fd, POLLIN, until);
    // Take what is queued, once: a wake-up stands for all of it. Not until the queue is empty:
    // a busy folder (another program writing there all the time) would keep this loop going
    // past any deadline; what is left makes the next wait return at once, which is harmless.
    alignas(inotify_event) char buffer[4096];
    [[maybe_unused]] ssize_t ignored = ::read(m_fd, buffer, sizeof buffer);
    return changed;
}

} // namespace bsup::drivers::sqlite
