#include "drivers/registry.hpp"

#include "core/errors.hpp"
#include "drivers/sqlite/sqlite_driver.hpp"
#ifdef BSUP_WITH_POSTGRES
#include "drivers/postgres/postgres_driver.hpp"
#endif
#ifdef BSUP_WITH_CONSUL
#include "drivers/consul/consul_driver.hpp"
#endif

#include <fmt/format.h>

namespace bsup::drivers {

namespace {

using Factory = std::unique_ptr<core::Supervisor> (*)(const core::ConnectionSettings&);

struct Entry {
    core::DriverName name;
    Factory factory;
};

constexpr Entry k_drivers[] = {
    {core::DriverName::sqlite, &make_sqlite_supervisor},
#ifdef BSUP_WITH_POSTGRES
    {core::DriverName::postgres, &make_postgres_supervisor},
#endif
#ifdef BSUP_WITH_CONSUL
    {core::DriverName::consul, &make_consul_supervisor},
#endif
};

} // namespace

std::vector<std::string_view> built_in_drivers() {
    std::vector<std::string_view> names;
    for (const Entry& e : k_drivers) {
        names.push_back(core::to_string(e.name));
    }
    return names;
}

std::unique_ptr<core::Supervisor> make_supervisor(const core::ConnectionSettings& settings) {
    for (const Entry& e : k_drivers) {
        if (e.name == settings.driver) {
            return e.factory(settings);
        }
    }
    throw core::usage_error(
        fmt::format("the {} driver is not built into this bsup", core::to_string(settings.driver)),
        "'bsup version' lists the drivers it has; rebuild with -DBSUP_WITH_POSTGRES=ON or "
        "-DBSUP_WITH_CONSUL=ON");
}

} // namespace bsup::drivers
