#pragma once

// libcurl, loaded with dlopen("libcurl.so.4") the first time the Consul driver needs it, so that
// bsup neither links it nor pays for loading it (and OpenSSL) when another driver is used. The
// pointers are typed from libcurl's own headers; curl_easy_setopt and curl_easy_getinfo stay
// variadic, so pass them exactly the types libcurl documents (long, char*, curl_off_t, ...).

#define CURL_DISABLE_TYPECHECK 1 // the type-checking macros would shadow the members below
#include <curl/curl.h>

namespace bsup::drivers::consul {

struct Libcurl {
    decltype(&::curl_global_init) curl_global_init = nullptr;
    decltype(&::curl_easy_init) curl_easy_init = nullptr;
    decltype(&::curl_easy_cleanup) curl_easy_cleanup = nullptr;
    decltype(&::curl_easy_setopt) curl_easy_setopt = nullptr;
    decltype(&::curl_easy_getinfo) curl_easy_getinfo = nullptr;
    decltype(&::curl_easy_perform) curl_easy_perform = nullptr;
    decltype(&::curl_easy_strerror) curl_easy_strerror = nullptr;
    decltype(&::curl_easy_escape) curl_easy_escape = nullptr;
    decltype(&::curl_free) curl_free = nullptr;
    decltype(&::curl_slist_append) curl_slist_append = nullptr;
    decltype(&::curl_slist_free_all) curl_slist_free_all = nullptr;
};

// The loaded library (loaded and initialized once per process). Throws a backend Error (exit 3)
// that says to install libcurl4 when it cannot be loaded.
const Libcurl& libcurl();

} // namespace bsup::drivers::consul
