#include "drivers/postgres/libpq.hpp"

#include "core/errors.hpp"

#include <dlfcn.h>
#include <fmt/format.h>

namespace bsup::drivers::postgres {

namespace {

constexpr const char* k_library = "libpq.so.5";
constexpr const char* k_install_hint =
    "install libpq5 (Debian, Ubuntu: apt-get install libpq5; Fedora: dnf install libpq)";

template <typename F> void resolve(void* handle, F& function, const char* name) {
    void* symbol = ::dlsym(handle, name);
    if (symbol == nullptr) {
        throw core::backend_error(
            fmt::format("{} has no function {}: it is too old for bsup", k_library, name),
            k_install_hint);
    }
    function = reinterpret_cast<F>(symbol);
}

Libpq load() {
    // Never unloaded: the process ends soon, and libpq's OpenSSL state must outlive every
    // connection. Lazy binding, as for a linked library: symbols are resolved when first called.
    void* handle = ::dlopen(k_library, RTLD_LAZY | RTLD_LOCAL);
    if (handle == nullptr) {
        const char* why = ::dlerror();
        throw core::backend_error(fmt::format("the postgres driver cannot load {}: {}", k_library,
                                              why != nullptr ? why : "unknown error"),
                                  k_install_hint);
    }
    Libpq lib;
#define BSUP_RESOLVE(name) resolve(handle, lib.name, #name)
    BSUP_RESOLVE(PQconnectStartParams);
    BSUP_RESOLVE(PQconnectPoll);
    BSUP_RESOLVE(PQfinish);
    BSUP_RESOLVE(PQstatus);
    BSUP_RESOLVE(PQerrorMessage);
    BSUP_RESOLVE(PQsocket);
    BSUP_RESOLVE(PQhost);
    BSUP_RESOLVE(PQport);
    BSUP_RESOLVE(PQbackendPID);
    BSUP_RESOLVE(PQsetnonblocking);
    BSUP_RESOLVE(PQsendQueryParams);
    BSUP_RESOLVE(PQsendQuery);
    BSUP_RESOLVE(PQsendPrepare);
    BSUP_RESOLVE(PQsendQueryPrepared);
    BSUP_RESOLVE(PQflush);
    BSUP_RESOLVE(PQconsumeInput);
    BSUP_RESOLVE(PQisBusy);
    BSUP_RESOLVE(PQgetResult);
    BSUP_RESOLVE(PQresultStatus);
    BSUP_RESOLVE(PQresultErrorField);
    BSUP_RESOLVE(PQresultErrorMessage);
    BSUP_RESOLVE(PQclear);
    BSUP_RESOLVE(PQntuples);
    BSUP_RESOLVE(PQnfields);
    BSUP_RESOLVE(PQgetvalue);
    BSUP_RESOLVE(PQgetlength);
    BSUP_RESOLVE(PQgetisnull);
    BSUP_RESOLVE(PQnotifies);
    BSUP_RESOLVE(PQfreemem);
    BSUP_RESOLVE(PQgetCancel);
    BSUP_RESOLVE(PQcancel);
    BSUP_RESOLVE(PQfreeCancel);
#undef BSUP_RESOLVE
    return lib;
}

} // namespace

const Libpq& libpq() {
    static const Libpq lib = load();
    return lib;
}

} // namespace bsup::drivers::postgres
