#include "args.h"

#include <cstdio>
#include <cstdlib>

namespace dsv32::cli {

Args::Args(int argc, char** argv, std::set<std::string> valued, std::set<std::string> flags) {
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0) {
      error_ = "unexpected argument '" + a + "'";
      return;
    }
    std::string name = a.substr(2);
    std::string value;
    const size_t eq = name.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (flags.count(name) && !inline_value) {
      present_.insert(name);
      continue;
    }
    if (!valued.count(name)) {
      error_ = "unknown option '--" + name + "'";
      return;
    }
    if (!inline_value) {
      if (i + 1 >= argc) {
        error_ = "option '--" + name + "' needs a value";
        return;
      }
      value = argv[++i];
    }
    values_[name] = value;
    present_.insert(name);
  }
}

bool Args::Has(const std::string& name) const { return present_.count(name) != 0; }

std::optional<std::string> Args::Get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::string Args::Require(const std::string& name) {
  auto v = Get(name);
  if (!v) {
    if (error_.empty()) error_ = "missing required option '--" + name + "'";
    return {};
  }
  return *v;
}

int64_t Args::Int(const std::string& name, int64_t fallback) {
  auto v = Get(name);
  if (!v) return fallback;
  char* end = nullptr;
  const long long n = std::strtoll(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0') {
    if (error_.empty()) error_ = "option '--" + name + "' must be an integer, got '" + *v + "'";
    return fallback;
  }
  return n;
}

int Fail(const char* command, const std::string& message) {
  std::fprintf(stderr, "dsv32 %s: error: %s\n", command, message.c_str());
  return 1;
}

}  // namespace dsv32::cli
