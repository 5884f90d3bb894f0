#pragma once

// The JSON form of the model: SPEC's field names, shared by the state file and the output.

#include "core/model.hpp"

#include <nlohmann/json.hpp>

namespace bsup::core {

void to_json(nlohmann::ordered_json& j, const Semaphore& s);
void to_json(nlohmann::ordered_json& j, const Service& s);
void to_json(nlohmann::ordered_json& j, const Event& e);
void from_json(const nlohmann::ordered_json& j, Service& s);

// A time as RFC 3339, or null.
nlohmann::ordered_json time_json(const std::optional<TimePoint>& t);

} // namespace bsup::core
