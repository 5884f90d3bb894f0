#include "core/model.hpp"

namespace bsup::core {

std::string_view to_string(DriverName driver) {
    switch (driver) {
    case DriverName::sqlite:
        return "sqlite";
    case DriverName::postgres:
        return "postgres";
    case DriverName::consul:
        return "consul";
    }
    return "unknown";
}

std::optional<DriverName> parse_driver_name(std::string_view name) {
    for (DriverName d : {DriverName::sqlite, DriverName::postgres, DriverName::consul}) {
        if (name == to_string(d)) {
            return d;
        }
    }
    if (name == "postgresql") {
        return DriverName::postgres;
    }
    return std::nullopt;
}

} // namespace bsup::core
