#include "cli/context.hpp"

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
    int code = bsup::cli::run(argc, argv);
    // Every connection, file and lock of the command is closed when run() returns. What is left
    // are the exit handlers of the client libraries loaded with dlopen (OpenSSL's cleanup under
    // libpq and libcurl takes milliseconds): skip them, as nothing of ours depends on them.
    std::fflush(nullptr);
    std::_Exit(code);
}
