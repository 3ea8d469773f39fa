// Entry point of the `actjit` tool.
#include "examples/actjit/cli.hpp"

int main(int argc, char** argv) { return actjit::cli::run(argc, argv); }
