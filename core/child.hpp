#pragma once

#include "core/duration.hpp"

#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace bsup::core {

// This process's environment with `extra` ("NAME=value") added, replacing same-named entries.
std::vector<std::string> environment_with(const std::vector<std::string>& extra);

// Pointers to `strings`, null-terminated, as execve() takes them; `strings` must outlive them.
std::vector<char*> exec_array(const std::vector<std::string>& strings);

// A child process in a process group of its own, so that signals and a lost lock reach everything
// it started. Not copyable; the destructor does not wait (call wait_for or terminate).
class Child {
  public:
    // Starts `argv` (searched in PATH, no shell in between) with `extra_env` added to this
    // process's environment. Throws an Error with exit code 127 when the program is not
    // found, 126 when it cannot be run.
    Child(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env);
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    pid_t pid() const { return m_pid; }

    // Sends `signal` to the child's process group (also once the child itself ended).
    void signal(int signal) const;
    bool group_alive() const;

    // The exit code as a shell reports it (128+N when signal N killed it) once the child ended;
    // empty while it runs. reap() does not block; wait() does.
    std::optional<int> reap();
    int wait();

  private:
    pid_t m_pid = -1;
    std::optional<int> m_status;
};

} // namespace bsup::core
