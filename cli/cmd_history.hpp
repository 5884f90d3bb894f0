#pragma once

#include "cli/context.hpp"

namespace bsup::cli {

// `bsup history [KEY]`: the newest events of a key (or of every key), oldest first.
core::ExitCode history_command(Context& ctx, const HistoryFlags& f);

} // namespace bsup::cli
