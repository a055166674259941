// Subcommands of the dsv32 tool register themselves here at start-up.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace dsv32::cli {

using CommandFn = int (*)(int argc, char** argv);

struct Command {
  const char* name;
  const char* summary;
  CommandFn run;
};

std::vector<Command>& Commands();

struct CommandRegistrar {
  CommandRegistrar(const char* name, const char* summary, CommandFn run) {
    Commands().push_back({name, summary, run});
  }
};

#define DSV32_CLI_COMMAND(name, summary, fn) \
  static ::dsv32::cli::CommandRegistrar dsv32_cli_registrar_##fn(name, summary, fn)

}  // namespace dsv32::cli
