/* The tokenizer half of the C API from plain C11: load, encode, decode, the
 * streaming decoder and constraints over the tokenizer's vocabulary.
 * Usage: capi_tokenizer_c11_test TOKENIZER_DIR */
#include <math.h>
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

  /* A constraint at V3.2's logits width: the ids past the tokenizer's and
   * the end token (until the output matches) are masked. */
  enum { kVocab = 129280 };
  const int32_t end[1] = {eos};
  dsv32_constraint* c = NULL;
  CHECK(dsv32_constraint_create(tokenizer, kVocab, "{\"enum\":[\"yes\",\"no\"]}", NULL, end, 1,
                                &c) == DSV32_OK);
  float* logits = malloc(kVocab * sizeof(float));
  for (int i = 0; i < kVocab; ++i) logits[i] = 0.0f;
  CHECK(dsv32_constraint_mask_logits(c, logits, kVocab) == DSV32_OK);
  int allowed = 0;
  for (int i = 0; i < kVocab; ++i) allowed += logits[i] == 0.0f;
  CHECK(allowed > 0 && allowed < 100 && isinf(logits[eos]) && isinf(logits[kVocab - 1]));
  dsv32_constraint* fork = NULL;
  CHECK(dsv32_constraint_clone(c, &fork) == DSV32_OK);
  int32_t answer[8];
  size_t n_answer = 0;
  CHECK(dsv32_tokenizer_encode(tokenizer, "\"no\"", 4, 0, 0, answer, 8, &n_answer) == DSV32_OK);
  int32_t complete = -1, finished = -1;
  for (size_t i = 0; i < n_answer; ++i) {
    CHECK(dsv32_constraint_state(c, &complete, &finished) == DSV32_OK);
    CHECK(complete == 0 && finished == 0);
    CHECK(dsv32_constraint_advance(c, answer[i]) == DSV32_OK);
  }
  CHECK(dsv32_constraint_state(c, &complete, NULL) == DSV32_OK && complete == 1);
  CHECK(dsv32_constraint_advance(c, eos) == DSV32_OK);
  CHECK(dsv32_constraint_state(c, NULL, &finished) == DSV32_OK && finished == 1);
  /* The fork is still at the start, where neither EOS nor "x" fits. */
  CHECK(dsv32_constraint_advance(fork, eos) == DSV32_ERR_INVALID_ARGUMENT);
  CHECK(dsv32_tokenizer_encode(tokenizer, "x", 1, 0, 0, answer, 8, &n_answer) == DSV32_OK);
  CHECK(dsv32_constraint_advance(fork, answer[0]) == DSV32_ERR_INVALID_ARGUMENT);
  CHECK(dsv32_constraint_state(fork, &complete, &finished) == DSV32_OK && complete == 0);
  dsv32_constraint_free(fork);
  dsv32_constraint_free(c);
  dsv32_constraint_free(NULL);
  free(logits);
  CHECK(dsv32_constraint_create(tokenizer, kVocab, "{\"minimum\":1}", NULL, end, 1, &c) ==
        DSV32_ERR_UNSUPPORTED);
  CHECK(c == NULL && strstr(dsv32_last_error(), "schema.minimum") != NULL);
  CHECK(dsv32_constraint_create(tokenizer, 0, NULL, "[a-", end, 1, &c) ==
        DSV32_ERR_INVALID_ARGUMENT);
  CHECK(dsv32_constraint_create(tokenizer, 0, NULL, NULL, end, 1, &c) ==
        DSV32_ERR_INVALID_ARGUMENT);
  CHECK(dsv32_constraint_create(tokenizer, 0, NULL, "a", end, 0, &c) == DSV32_ERR_INVALID_ARGUMENT);
  CHECK(dsv32_constraint_create(tokenizer, 0, NULL, "a", end, 1, &c) == DSV32_OK);
  CHECK(dsv32_constraint_mask_logits(NULL, NULL, 0) == DSV32_ERR_INVALID_ARGUMENT);
  dsv32_constraint_free(c);

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
