/* The check macro the C11 programs share: counts checks and reports each
 * failure with the library's last error, without stopping the program. */
#ifndef DSV32_TESTS_CAPI_C_CHECK_H_
#define DSV32_TESTS_CAPI_C_CHECK_H_

#include <stdio.h>

#include "dsv32/dsv32.h"

static int failures = 0;
static int checks = 0;

#define CHECK(cond)                                                           \
  do {                                                                        \
    ++checks;                                                                 \
    if (!(cond)) {                                                            \
      ++failures;                                                             \
      fprintf(stderr, "%s:%d: check failed: %s (last error: %s)\n", __FILE__, \
              __LINE__, #cond, dsv32_last_error());                           \
    }                                                                         \
  } while (0)

#endif /* DSV32_TESTS_CAPI_C_CHECK_H_ */
