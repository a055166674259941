#include "dsv32/dsv32.h"

#include <string>

namespace {
thread_local std::string g_last_error;
}

extern "C" {

const char* dsv32_version(void) { return "0.1.0"; }

const char* dsv32_status_string(dsv32_status status) {
  switch (status) {
    case DSV32_OK: return "DSV32_OK";
    case DSV32_ERR_INVALID_ARGUMENT: return "DSV32_ERR_INVALID_ARGUMENT";
    case DSV32_ERR_NOT_FOUND: return "DSV32_ERR_NOT_FOUND";
    case DSV32_ERR_IO: return "DSV32_ERR_IO";
    case DSV32_ERR_FORMAT: return "DSV32_ERR_FORMAT";
    case DSV32_ERR_UNSUPPORTED: return "DSV32_ERR_UNSUPPORTED";
    case DSV32_ERR_OUT_OF_RANGE: return "DSV32_ERR_OUT_OF_RANGE";
    case DSV32_ERR_OUT_OF_MEMORY: return "DSV32_ERR_OUT_OF_MEMORY";
    case DSV32_ERR_CANCELLED: return "DSV32_ERR_CANCELLED";
    case DSV32_ERR_INTERNAL: return "DSV32_ERR_INTERNAL";
  }
  return "DSV32_ERR_UNKNOWN";
}

const char* dsv32_last_error(void) { return g_last_error.c_str(); }

}  // extern "C"
