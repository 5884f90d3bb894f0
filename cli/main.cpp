#include "cli/context.hpp"

int main(int argc, char** argv) { return bsup::cli::run(argc, argv); }
