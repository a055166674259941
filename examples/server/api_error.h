// Errors a request can get, in OpenAI's shape:
//   {"error": {"message": ..., "type": ..., "param": ..., "code": ...}}
// Request parsing throws ApiError; the routes turn it into the HTTP reply.
#pragma once

#include <stdexcept>
#include <string>

namespace dsv32_server {

struct ApiError : std::runtime_error {
  ApiError(int status, std::string message, std::string param = {}, std::string type = {},
           std::string code = {});

  int status;         // the HTTP status
  std::string param;  // the request field at fault; empty: null
  std::string type;   // "invalid_request_error", "rate_limit_error", ...
  std::string code;   // empty: null
};

// A 400 naming the field at fault.
ApiError InvalidField(const std::string& param, const std::string& why);

// The JSON body of an error reply.
std::string ErrorBody(const ApiError& error);

// The type OpenAI gives errors of this HTTP status.
std::string ErrorTypeForStatus(int status);

}  // namespace dsv32_server
