/* The tokenizer half of the C API from plain C11: load, encode, decode and
 * the streaming decoder. Usage: capi_tokenizer_c11_test TOKENIZER_DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c_check.h"
#include "dsv32/dsv32.h"


int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s TOKENIZER_DIR\n", argv[0]);
    return 2;
  }
  dsv32_tokenizer* tokenizer = (dsv32_tokenizer*)1;
  CHECK(dsv32_tokenizer_load("/nonexistent", &tokenizer) != DSV32_OK);
  CHECK(tokenizer == NULL);
  CHECK(dsv32_tokenizer_load(argv[1], &tokenizer) == DSV32_OK);
  if (!tokenizer) return 1;
  int32_t bos = -2, eos = -2;
  CHECK(dsv32_tokenizer_special_ids(tokenizer, &bos, &eos) == DSV32_OK);
  CHECK(bos >= 0 && eos >= 0 && bos != eos);

  /* "Hello, world! " then two CJK characters, which byte-level BPE may split. */
  const char text[] = "Hello, world! \xe4\xbd\xa0\xe5\xa5\xbd";
  size_t n = 0;
  CHECK(dsv32_tokenizer_encode(tokenizer, text, strlen(text), 1, 1, NULL, 0, &n) == DSV32_OK);
  CHECK(n > 2);
  int32_t* ids = malloc(n * sizeof(int32_t));
  CHECK(dsv32_tokenizer_encode(tokenizer, text, strlen(text), 1, 1, ids, n, &n) == DSV32_OK);
  CHECK(ids[0] == bos);

  char decoded[128];
  size_t length = 0;
  CHECK(dsv32_tokenizer_decode(tokenizer, ids, n, 1, decoded, sizeof decoded, &length) == DSV32_OK);
  CHECK(strcmp(decoded, text) == 0 && length == strlen(text));
  CHECK(dsv32_tokenizer_decode(tokenizer, ids, n, 0, NULL, 0, &length) == DSV32_OK);
  CHECK(length > strlen(text)); /* BOS's text is in it */

  /* The streaming decoder's pieces join to the same text. */
  dsv32_token_decoder* decoder = NULL;
  CHECK(dsv32_token_decoder_create(tokenizer, 1, &decoder) == DSV32_OK);
  dsv32_tokenizer_free(tokenizer); /* the decoder keeps it alive */
  char joined[128] = "";
  for (size_t i = 0; i <= n; ++i) {
    const char* piece = NULL;
    size_t piece_length = 0;
    CHECK(dsv32_token_decoder_push(decoder, i < n ? ids[i] : -1, &piece, &piece_length) ==
          DSV32_OK);
    if (piece) {
      CHECK(strlen(piece) == piece_length);
      strncat(joined, piece, sizeof joined - strlen(joined) - 1);
    }
  }
  CHECK(strcmp(joined, text) == 0);
  const char* piece = NULL;
  CHECK(dsv32_token_decoder_push(decoder, 1 << 30, &piece, NULL) == DSV32_ERR_OUT_OF_RANGE);
  dsv32_token_decoder_free(decoder);
  dsv32_token_decoder_free(NULL);
  dsv32_tokenizer_free(NULL);

  const char bad_utf8[] = "\xff\xfe";
  CHECK(dsv32_tokenizer_encode(NULL, bad_utf8, 2, 0, 0, NULL, 0, &n) == DSV32_ERR_INVALID_ARGUMENT);
  free(ids);

  printf("%d passed, %d failed\n", checks - failures, failures);
  return failures == 0 ? 0 : 1;
}
