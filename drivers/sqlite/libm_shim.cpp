// SQLite's SQL math functions (sin(), pow(), ...) make the static libsqlite3.a need libm. bsup
// never calls them, yet a libm.so linked in is mapped and relocated at every start, its IFUNC
// resolvers run, and it costs about 340 KiB of resident memory and a share of the start-up time
// of every bsup call (docs/performance/sqlite.md). These definitions stand in for libm's in the
// executable: each one loads libm on its first call and forwards to it, so that behaviour stays
// the same if one is ever called. Linked only with the static SQLite (see CMakeLists.txt), which
// pulls this object in through the marker symbol below.
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>

extern "C" {
// Referenced by -Wl,--undefined so that the linker takes this object out of the archive before
// it meets SQLite's references to the math functions.
int bsup_sqlite_libm_shim = 0;
}

namespace {

template <typename Function> Function libm_function(const char* name) {
    static void* const handle = ::dlopen("libm.so.6", RTLD_NOW | RTLD_LOCAL);
    void* symbol = handle != nullptr ? ::dlsym(handle, name) : nullptr;
    if (symbol == nullptr) {
        std::abort(); // no libm.so.6: the C library itself is broken
    }
    Function function = nullptr;
    static_assert(sizeof function == sizeof symbol);
    std::memcpy(&function, &symbol, sizeof function);
    return function;
}

} // namespace

#define BSUP_LIBM_1(name)                                                                          \
    extern "C" double name(double x) {                                                             \
        static const auto f = libm_function<double (*)(double)>(#name);                            \
        return f(x);                                                                               \
    }
#define BSUP_LIBM_2(name)                                                                          \
    extern "C" double name(double x, double y) {                                                   \
        static const auto f = libm_function<double (*)(double, double)>(#name);                    \
        return f(x, y);                                                                            \
    }

BSUP_LIBM_1(acos)
BSUP_LIBM_1(acosh)
BSUP_LIBM_1(asin)
BSUP_LIBM_1(asinh)
BSUP_LIBM_1(atan)
BSUP_LIBM_1(atanh)
BSUP_LIBM_1(ceil) // also fmt's float formatting, which bsup does not use
BSUP_LIBM_1(cos)
BSUP_LIBM_1(cosh)
BSUP_LIBM_1(exp)
BSUP_LIBM_1(log)
BSUP_LIBM_1(sin)
BSUP_LIBM_1(sinh)
BSUP_LIBM_1(sqrt)
BSUP_LIBM_1(tan)
BSUP_LIBM_1(tanh)
BSUP_LIBM_1(trunc)
BSUP_LIBM_2(atan2)
BSUP_LIBM_2(fmod)
BSUP_LIBM_2(pow)
