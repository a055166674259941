// Typed reads of a request body's fields: each read checks the type and
// range and throws ApiError (400) naming the field when they are wrong. A
// field that is absent or null reads as std::nullopt.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace dsv32_server {

// Parses a request body; invalid JSON or a non-object is a 400.
nlohmann::json ParseBody(const std::string& body);

class Fields {
 public:
  // `prefix` is put before field names in errors ("chat_template_kwargs.").
  explicit Fields(const nlohmann::json& object, std::string prefix = {})
      : object_(object), prefix_(std::move(prefix)) {}

  const nlohmann::json* Get(const char* name) const;  // nullptr when absent or null
  std::optional<bool> Bool(const char* name) const;
  std::optional<double> Number(const char* name, double min, double max) const;
  std::optional<int64_t> Int(const char* name, int64_t min, int64_t max) const;
  std::optional<std::string> String(const char* name) const;
  std::string Path(const char* name) const { return prefix_ + name; }

 private:
  const nlohmann::json& object_;
  std::string prefix_;
};

}  // namespace dsv32_server
