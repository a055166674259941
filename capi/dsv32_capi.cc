// Status codes, error text and version: the part of the C API every other
// part leans on.
#include "capi_internal.h"

namespace dsv32::capi {

namespace {
thread_local std::string g_last_error;
}

dsv32_status SetError(dsv32_status code, const std::string& message) {
  g_last_error = message;
  return code;
}

const char* LastError() { return g_last_error.c_str(); }

dsv32_status FromStatus(const Status& status) {
  if (status.ok()) return DSV32_OK;
  dsv32_status code = DSV32_ERR_INTERNAL;
  switch (status.code()) {
    case StatusCode::kOk:
      code = DSV32_OK;
      break;
    case StatusCode::kInvalidArgument:
      code = DSV32_ERR_INVALID_ARGUMENT;
      break;
    case StatusCode::kNotFound:
      code = DSV32_ERR_NOT_FOUND;
      break;
    case StatusCode::kIoError:
      code = DSV32_ERR_IO;
      break;
    case StatusCode::kFormatError:
      code = DSV32_ERR_FORMAT;
      break;
    case StatusCode::kUnsupported:
      code = DSV32_ERR_UNSUPPORTED;
      break;
    case StatusCode::kOutOfRange:
      code = DSV32_ERR_OUT_OF_RANGE;
      break;
    case StatusCode::kOutOfMemory:
      code = DSV32_ERR_OUT_OF_MEMORY;
      break;
    case StatusCode::kCancelled:
      code = DSV32_ERR_CANCELLED;
      break;
    case StatusCode::kInternal:
      code = DSV32_ERR_INTERNAL;
      break;
  }
  return SetError(code, status.message());
}

}  // namespace dsv32::capi

extern "C" {

#define DSV32_STRINGIFY_INNER(x) #x
#define DSV32_STRINGIFY(x) DSV32_STRINGIFY_INNER(x)

const char* dsv32_version(void) {
  return DSV32_STRINGIFY(DSV32_VERSION_MAJOR) "." DSV32_STRINGIFY(
      DSV32_VERSION_MINOR) "." DSV32_STRINGIFY(DSV32_VERSION_PATCH);
}

const char* dsv32_status_string(dsv32_status status) {
  switch (status) {
    case DSV32_OK:
      return "DSV32_OK";
    case DSV32_ERR_INVALID_ARGUMENT:
      return "DSV32_ERR_INVALID_ARGUMENT";
    case DSV32_ERR_NOT_FOUND:
      return "DSV32_ERR_NOT_FOUND";
    case DSV32_ERR_IO:
      return "DSV32_ERR_IO";
    case DSV32_ERR_FORMAT:
      return "DSV32_ERR_FORMAT";
    case DSV32_ERR_UNSUPPORTED:
      return "DSV32_ERR_UNSUPPORTED";
    case DSV32_ERR_OUT_OF_RANGE:
      return "DSV32_ERR_OUT_OF_RANGE";
    case DSV32_ERR_OUT_OF_MEMORY:
      return "DSV32_ERR_OUT_OF_MEMORY";
    case DSV32_ERR_CANCELLED:
      return "DSV32_ERR_CANCELLED";
    case DSV32_ERR_INTERNAL:
      return "DSV32_ERR_INTERNAL";
  }
  return "DSV32_ERR_UNKNOWN";
}

const char* dsv32_last_error(void) { return dsv32::capi::LastError(); }

}  // extern "C"
