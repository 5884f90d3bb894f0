#pragma once

// Small helpers shared by the unit tests: a given environment, files as bytes, bounded polling,
// and processes started together.

#include "core/environment.hpp"

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace bsup::tests {

// An Environment that knows only `vars` (empty values count as unset, as in the real one).
core::Environment fake_env(std::map<std::string, std::string> vars);

std::string read_bytes(const std::filesystem::path& path);
void write_bytes(const std::filesystem::path& path, const std::string& data, int mode = 0600);

// The permission bits of a file or folder (mode & 07777).
unsigned mode_of(const std::filesystem::path& path);

// The names in a folder, sorted.
std::vector<std::string> list_folder(const std::filesystem::path& folder);

// Polls `done` every 25 ms until it holds or `limit` has passed; returns its last answer.
// A bound for expiry tests, not a measurement.
bool eventually(const std::function<bool()>& done,
                std::chrono::milliseconds limit = std::chrono::seconds(15));

// Forks `count` processes that start `body(i)` together (after all are forked) and exit with
// its result; an exception ends a child with 99, its message on stderr. Returns the exit codes in
// order, -signal for a child that a signal killed. Children must not use doctest's assertions: they
// report by exit code only.
std::vector<int> run_processes(int count, const std::function<int(int)>& body);

} // namespace bsup::tests
