#include "json_fields.h"

#include <cmath>

#include "api_error.h"

namespace dsv32_server {

namespace {

std::string Range(double min, double max) {
  auto text = [](double v) {
    if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<int64_t>(v));
    std::string s = std::to_string(v);
    while (s.back() == '0') s.pop_back();
    return s;
  };
  return "[" + text(min) + ", " + text(max) + "]";
}

}  // namespace

nlohmann::json ParseBody(const std::string& body) {
  nlohmann::json value;
  try {
    value = nlohmann::json::parse(body);
  } catch (const nlohmann::json::exception& e) {
    throw ApiError(400, std::string("the body is not valid JSON: ") + e.what());
  }
  if (!value.is_object()) throw ApiError(400, "the body must be a JSON object");
  return value;
}

const nlohmann::json* Fields::Get(const char* name) const {
  auto it = object_.find(name);
  if (it == object_.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<bool> Fields::Bool(const char* name) const {
  const nlohmann::json* v = Get(name);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) throw InvalidField(Path(name), "must be true or false");
  return v->get<bool>();
}

std::optional<double> Fields::Number(const char* name, double min, double max) const {
  const nlohmann::json* v = Get(name);
  if (!v) return std::nullopt;
  if (!v->is_number()) throw InvalidField(Path(name), "must be a number");
  const double x = v->get<double>();
  if (!(x >= min && x <= max)) throw InvalidField(Path(name), "must be in " + Range(min, max));
  return x;
}

std::optional<int64_t> Fields::Int(const char* name, int64_t min, int64_t max) const {
  const nlohmann::json* v = Get(name);
  if (!v) return std::nullopt;
  if (!v->is_number_integer()) throw InvalidField(Path(name), "must be an integer");
  if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
    throw InvalidField(Path(name), "is too large");
  const int64_t x = v->get<int64_t>();
  if (x < min || x > max)
    throw InvalidField(Path(name),
                       "must be in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  return x;
}

std::optional<std::string> Fields::String(const char* name) const {
  const nlohmann::json* v = Get(name);
  if (!v) return std::nullopt;
  if (!v->is_string()) throw InvalidField(Path(name), "must be a string");
  return v->get<std::string>();
}

}  // namespace dsv32_server
