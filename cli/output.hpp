#pragma once

// Everything bsup writes goes through here: results on stdout (text or one JSON document),
// notices and errors on stderr. Every text passes through core::redact() on its way out.

#include "core/errors.hpp"
#include "core/model.hpp"

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace bsup::cli {

enum class Format { text, json };
enum class LogFormat { text, json };

class Output {
  public:
    Format format = Format::text;
    LogFormat log_format = LogFormat::text;
    int verbosity = 0;         // -v: 1 and more; -q: -1
    bool color = false;        // stdout: a terminal, and no NO_COLOR
    bool stderr_color = false; // stderr: likewise
    bool stderr_tty = false;

    bool json() const { return format == Format::json; }

    // The command's result: `document` with --json, else `text` (nothing when empty).
    void result(const nlohmann::ordered_json& document, const std::string& text) const;

    // A diagnostic on stderr: notices are shown unless -q, debug lines only with -v.
    void notice(const std::string& message) const;
    void debug(const std::string& message) const;
    // Progress while waiting: on a terminal (unless -q), or with -v.
    void progress(const std::string& message) const;

    // An error: on stderr as text, and with --json also as the error object on stdout.
    void error(const core::Error& e) const;

  private:
    void log(std::string_view level, const std::string& message) const;
};

// Text renderings for people. Tables are aligned on the text; colour (on a terminal only)
// marks the header and the state of a key.
enum class Style { plain, header, good, warn, bad };
struct Cell {
    std::string text;
    Style style = Style::plain;
};
std::string render_table(const std::vector<std::vector<Cell>>& rows, bool color);

// "3m12s ago" ("just now" for a time ahead of this machine's clock).
std::string time_ago(core::TimePoint t);
std::string describe_holder(const core::Semaphore& s);
std::string status_table(const std::vector<core::Semaphore>& rows, bool color);
std::string services_table(const std::vector<core::Service>& rows, bool color);

} // namespace bsup::cli
