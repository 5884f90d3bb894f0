#include "cli/context.hpp"

#include <cstdio>
#include <cstdlib>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

int main(int argc, char** argv) {
    int code = bsup::cli::run(argc, argv);
    // Every connection, file and lock of the command is closed when run() returns. What is left
    // are the exit handlers of the client libraries loaded with dlopen (OpenSSL's cleanup under
    // libpq and libcurl takes milliseconds): skip them, as nothing of ours depends on them.
    std::fflush(nullptr);
#if defined(__SANITIZE_ADDRESS__)
    __lsan_do_leak_check(); // _Exit runs no exit handlers, LeakSanitizer's included
#endif
    std::_Exit(code);
}
