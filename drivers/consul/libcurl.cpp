#include "drivers/consul/libcurl.hpp"

#include "core/errors.hpp"

#include <dlfcn.h>
#include <fmt/format.h>

namespace bsup::drivers::consul {

namespace {

constexpr const char* k_soname = "libcurl.so.4";

[[noreturn]] void cannot_load(const std::string& why) {
    throw core::backend_error(
        fmt::format("cannot load {}, which the consul driver needs: {}", k_soname, why),
        "install libcurl4 (apt-get install libcurl4, dnf install libcurl)");
}

template <typename F> void resolve(void* handle, F& slot, const char* name) {
    void* symbol = ::dlsym(handle, name);
    if (symbol == nullptr) {
        cannot_load(fmt::format("it has no symbol {}", name));
    }
    slot = reinterpret_cast<F>(symbol);
}

Libcurl load() {
    // Never closed: libcurl stays loaded until the process ends.
    void* handle = ::dlopen(k_soname, RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        const char* why = ::dlerror();
        cannot_load(why != nullptr ? why : "dlopen failed");
    }
    Libcurl lib;
    resolve(handle, lib.curl_global_init, "curl_global_init");
    resolve(handle, lib.curl_easy_init, "curl_easy_init");
    resolve(handle, lib.curl_easy_cleanup, "curl_easy_cleanup");
    resolve(handle, lib.curl_easy_setopt, "curl_easy_setopt");
    resolve(handle, lib.curl_easy_getinfo, "curl_easy_getinfo");
    resolve(handle, lib.curl_easy_perform, "curl_easy_perform");
    resolve(handle, lib.curl_easy_strerror, "curl_easy_strerror");
    resolve(handle, lib.curl_easy_escape, "curl_easy_escape");
    resolve(handle, lib.curl_free, "curl_free");
    resolve(handle, lib.curl_slist_append, "curl_slist_append");
    resolve(handle, lib.curl_slist_free_all, "curl_slist_free_all");
    if (lib.curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        cannot_load("curl_global_init failed");
    }
    return lib;
}

} // namespace

const Libcurl& libcurl() {
    static const Libcurl lib = load();
    return lib;
}

} // namespace bsup::drivers::consul
