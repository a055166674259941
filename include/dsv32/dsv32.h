/*
 * libdsv32: inference for DeepSeek-V3.2 (and the V3 / V3.1 checkpoints that
 * share its architecture) on the CPU.
 *
 * This header is the whole public surface. Conventions:
 *  - Every fallible function returns a dsv32_status; DSV32_OK is 0.
 *    dsv32_last_error() gives the message of the calling thread's last
 *    failure.
 *  - Handles are opaque and released with their own *_free function;
 *    passing NULL to a *_free function does nothing.
 *  - Params structs start with their own size (struct_size) so the library
 *    can tell which fields a caller compiled against; get them from the
 *    matching *_default_params() function.
 *  - No function throws or aborts on bad input.
 */
#ifndef DSV32_DSV32_H_
#define DSV32_DSV32_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(DSV32_BUILDING_LIBRARY)
#define DSV32_API __attribute__((visibility("default")))
#else
#define DSV32_API
#endif

#define DSV32_VERSION_MAJOR 0
#define DSV32_VERSION_MINOR 1
#define DSV32_VERSION_PATCH 0
#define DSV32_VERSION_NUMBER \
  (DSV32_VERSION_MAJOR * 10000 + DSV32_VERSION_MINOR * 100 + DSV32_VERSION_PATCH)

typedef enum dsv32_status {
  DSV32_OK = 0,
  DSV32_ERR_INVALID_ARGUMENT = 1, /* a NULL handle, a bad value, a wrong shape */
  DSV32_ERR_NOT_FOUND = 2,        /* a file or tensor that should exist does not */
  DSV32_ERR_IO = 3,               /* the operating system refused a read or write */
  DSV32_ERR_FORMAT = 4,           /* a file is malformed or truncated */
  DSV32_ERR_UNSUPPORTED = 5,      /* a well-formed value this library does not handle */
  DSV32_ERR_OUT_OF_RANGE = 6,     /* a token id or position past its limit */
  DSV32_ERR_OUT_OF_MEMORY = 7,    /* an allocation or a memory budget failed */
  DSV32_ERR_CANCELLED = 8,
  DSV32_ERR_INTERNAL = 9
} dsv32_status;

/* The library's version as "MAJOR.MINOR.PATCH". */
DSV32_API const char* dsv32_version(void);

/* A constant English name for a status code ("DSV32_ERR_FORMAT"). */
DSV32_API const char* dsv32_status_string(dsv32_status status);

/* The message of the calling thread's last failed call, or "" if none. The
 * pointer stays valid until the thread's next call into the library. */
DSV32_API const char* dsv32_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* DSV32_DSV32_H_ */
