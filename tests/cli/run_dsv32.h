// Runs the built dsv32 tool as a user would, for tests of its contracts.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace dsv32::testing {

struct CommandRun {
  int exit_code;
  std::string output;  // stdout and stderr together
};

inline CommandRun Dsv32(const std::string& args) {
  const std::string cmd = std::string(DSV32_BINARY_DIR) + "/bin/dsv32 " + args + " 2>&1";
  CommandRun r{-1, {}};
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace dsv32::testing
