#include "api_error.h"

#include <nlohmann/json.hpp>

namespace dsv32_server {

ApiError::ApiError(int status, std::string message, std::string param, std::string type,
                   std::string code)
    : std::runtime_error(std::move(message)),
      status(status),
      param(std::move(param)),
      type(type.empty() ? ErrorTypeForStatus(status) : std::move(type)),
      code(std::move(code)) {}

ApiError InvalidField(const std::string& param, const std::string& why) {
  return ApiError(400, param + ": " + why, param);
}

std::string ErrorBody(const ApiError& error) {
  nlohmann::json body = {
      {"error",
       {{"message", error.what()}, {"type", error.type}, {"param", nullptr}, {"code", nullptr}}}};
  if (!error.param.empty()) body["error"]["param"] = error.param;
  if (!error.code.empty()) body["error"]["code"] = error.code;
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string ErrorTypeForStatus(int status) {
  switch (status) {
    case 401:
      return "authentication_error";
    case 404:
      return "not_found_error";
    case 413:
      return "invalid_request_error";
    case 429:
      return "rate_limit_error";
    default:
      return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

}  // namespace dsv32_server
