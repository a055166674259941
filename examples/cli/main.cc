// dsv32: the command-line face of libdsv32. `dsv32 help` lists subcommands.
#include <cstdio>
#include <cstring>

#include "command.h"

namespace dsv32::cli {

std::vector<Command>& Commands() {
  static std::vector<Command> commands;
  return commands;
}

}  // namespace dsv32::cli

int main(int argc, char** argv) {
  using dsv32::cli::Commands;
  if (argc >= 2) {
    for (const auto& c : Commands())
      if (std::strcmp(argv[1], c.name) == 0) return c.run(argc - 2, argv + 2);
  }
  const bool asked = argc >= 2 && (std::strcmp(argv[1], "help") == 0 ||
                                   std::strcmp(argv[1], "--help") == 0);
  std::FILE* out = asked ? stdout : stderr;
  if (argc >= 2 && !asked) std::fprintf(out, "dsv32: unknown command '%s'\n\n", argv[1]);
  std::fprintf(out, "usage: dsv32 <command> [options]\n\ncommands:\n");
  for (const auto& c : Commands()) std::fprintf(out, "  %-14s %s\n", c.name, c.summary);
  return asked ? 0 : 2;
}
