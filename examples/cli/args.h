// Flag parsing shared by the subcommands: "--name value" and bare "--flag".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

namespace dsv32::cli {

class Args {
 public:
  // `flags` are the options that take no value. Anything not starting with
  // "--", or an unknown option, makes ok() false with a message.
  Args(int argc, char** argv, std::set<std::string> valued, std::set<std::string> flags);

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  bool Has(const std::string& name) const;
  std::optional<std::string> Get(const std::string& name) const;
  // The value, or a message about what was missing.
  std::string Require(const std::string& name);
  // Parses an integer option; sets the error on junk.
  int64_t Int(const std::string& name, int64_t fallback);

 private:
  std::map<std::string, std::string> values_;
  std::set<std::string> present_;
  std::string error_;
};

// Prints "dsv32 <cmd>: error: <message>" on one line to stderr and returns 1.
int Fail(const char* command, const std::string& message);

}  // namespace dsv32::cli
