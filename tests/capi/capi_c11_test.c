/* A plain C11 program against the public header and the shared library:
 * proves the header is C, the symbols are exported, and the calls behave.
 * Usage: capi_c11_test MODEL_DIR [SCRATCH_DIR] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c_check.h"
#include "dsv32/dsv32.h"


static void on_progress(float fraction, void* user_data) { *(float*)user_data = fraction; }

/* Every params struct through its init function; a caller built against a
 * smaller (older) struct gets only the bytes it has. */
static void params_init(void) {
  dsv32_model_params model;
  dsv32_model_params_init(&model, sizeof model);
  CHECK(model.struct_size == sizeof model);
  dsv32_context_params context;
  dsv32_context_params_init(&context, sizeof context);
  CHECK(context.struct_size == sizeof context);
  dsv32_sampling_params sampling;
  dsv32_sampling_params_init(&sampling, sizeof sampling);
  CHECK(sampling.temperature == 1.0f);
  dsv32_engine_params engine;
  dsv32_engine_params_init(&engine, sizeof engine);
  CHECK(engine.background == 1);
  dsv32_chat_parser_params parser;
  dsv32_chat_parser_params_init(&parser, sizeof parser);
  CHECK(parser.thinking == 0);

  union {
    dsv32_request_params params;
    unsigned char bytes[sizeof(dsv32_request_params) + 8];
  } old;
  const size_t old_size = offsetof(dsv32_request_params, max_tokens) + sizeof(int32_t);
  memset(old.bytes, 0xAB, sizeof old.bytes);
  dsv32_request_params_init(&old.params, old_size);
  CHECK(old.params.struct_size == old_size && old.params.max_tokens == 256);
  CHECK(old.params.prompt == NULL && old.params.sampling == NULL);
  int untouched = 1;
  for (size_t i = old_size; i < sizeof old.bytes; ++i) untouched &= old.bytes[i] == 0xAB;
  CHECK(untouched);
  dsv32_request_params_init(NULL, sizeof old.params); /* does nothing */
}

int main(int argc, char** argv) {
  params_init();
  if (argc != 2 && argc != 3) {
    fprintf(stderr, "usage: %s MODEL_DIR [SCRATCH_DIR]\n", argv[0]);
    return 2;
  }
  CHECK(strcmp(dsv32_version(), "0.1.0") == 0);
  CHECK(DSV32_VERSION_NUMBER == 100);
  CHECK(strcmp(dsv32_status_string(DSV32_ERR_FORMAT), "DSV32_ERR_FORMAT") == 0);

  /* Failures come back as codes with a message, never a crash. */
  dsv32_model* model = (dsv32_model*)1;
  CHECK(dsv32_model_load("/nonexistent/model", NULL, &model) == DSV32_ERR_NOT_FOUND);
  CHECK(model == NULL);
  CHECK(strlen(dsv32_last_error()) > 0);
  CHECK(dsv32_model_load(NULL, NULL, &model) == DSV32_ERR_INVALID_ARGUMENT);
  CHECK(dsv32_model_load(argv[1], NULL, NULL) == DSV32_ERR_INVALID_ARGUMENT);
  dsv32_model_free(NULL);
  dsv32_context_free(NULL);

  /* An activations value outside the enum is refused, not guessed at. */
  dsv32_model_params wrong = dsv32_model_default_params();
  CHECK(wrong.activations == DSV32_ACTIVATIONS_F32);
  wrong.activations = 7;
  CHECK(dsv32_model_load(argv[1], &wrong, &model) == DSV32_ERR_INVALID_ARGUMENT);
  CHECK(model == NULL);
  CHECK(strstr(dsv32_last_error(), "activations") != NULL);
  wrong.activations = DSV32_ACTIVATIONS_BF16;
  CHECK(dsv32_model_load(argv[1], &wrong, &model) == DSV32_OK);
  dsv32_model_free(model);
  model = NULL;
  /* populate is 0 or 1, nothing else. */
  CHECK(wrong.populate == 0);
  wrong.populate = 2;
  CHECK(dsv32_model_load(argv[1], &wrong, &model) == DSV32_ERR_INVALID_ARGUMENT);
  CHECK(model == NULL);
  CHECK(strstr(dsv32_last_error(), "populate") != NULL);
  wrong.populate = 1;
  CHECK(dsv32_model_load(argv[1], &wrong, &model) == DSV32_OK);
  dsv32_model_free(model);
  model = NULL;

  float progress = -1.0f;
  dsv32_model_params mp = dsv32_model_default_params();
  mp.progress = on_progress;
  mp.progress_user_data = &progress;
  CHECK(dsv32_model_load(argv[1], &mp, &model) == DSV32_OK);
  if (!model) return 1;
  CHECK(progress == 1.0f);

  dsv32_model_info info;
  memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  CHECK(dsv32_model_get_info(model, &info) == DSV32_OK);
  CHECK(info.vocab_size > 0 && info.hidden_size > 0);
  CHECK(info.kv_bytes_per_token > 0);
  CHECK(info.model_type != NULL);

  dsv32_context_params cp = dsv32_context_default_params();
  cp.n_threads = 2;
  cp.max_tokens = 64;
  dsv32_context* ctx = NULL;
  CHECK(dsv32_context_create(model, &cp, &ctx) == DSV32_OK);
  dsv32_context* restored = NULL; /* receives a saved cache below */
  CHECK(dsv32_context_create(model, &cp, &restored) == DSV32_OK);
  /* The context keeps the model alive. */
  dsv32_model_free(model);
  if (!ctx || !restored) return 1;

  const int32_t tokens[6] = {5, 17, 3, 99, 42, 7};
  CHECK(dsv32_context_eval(ctx, tokens, 6, 0) == DSV32_OK);
  const float* logits = NULL;
  size_t rows = 0, vocab = 0;
  CHECK(dsv32_context_logits(ctx, &logits, &rows, &vocab) == DSV32_OK);
  CHECK(rows == 6 && vocab == (size_t)info.vocab_size);
  float* full_last = malloc(vocab * sizeof(float));
  memcpy(full_last, logits + 5 * vocab, vocab * sizeof(float));

  /* Roll back to position 5 and decode the last token alone: same logits. */
  CHECK(dsv32_context_eval(ctx, tokens + 5, 1, 5) == DSV32_OK);
  CHECK(dsv32_context_length(ctx) == 6);
  CHECK(dsv32_context_logits(ctx, &logits, &rows, &vocab) == DSV32_OK);
  double diff = 0.0, norm = 0.0;
  for (size_t i = 0; i < vocab; ++i) {
    diff += (logits[i] - full_last[i]) * (logits[i] - full_last[i]);
    norm += full_last[i] * full_last[i];
  }
  CHECK(sqrt(diff) <= 1e-4 * sqrt(norm));
  free(full_last);

  /* Bad tokens and positions are errors that leave the context intact. */
  const int32_t bad = (int32_t)info.vocab_size;
  CHECK(dsv32_context_eval(ctx, &bad, 1, 6) == DSV32_ERR_OUT_OF_RANGE);
  CHECK(dsv32_context_eval(ctx, tokens, 1, 9) == DSV32_ERR_OUT_OF_RANGE);
  CHECK(dsv32_context_length(ctx) == 6);
  int32_t many[64];
  for (int i = 0; i < 64; ++i) many[i] = 1;
  CHECK(dsv32_context_eval(ctx, many, 64, 6) == DSV32_ERR_OUT_OF_RANGE);
  CHECK(dsv32_context_length(ctx) == 6);

  /* Save the cache, restore it into a fresh context, and decode on. */
  size_t n_cached = 0;
  int32_t cached[8];
  CHECK(dsv32_context_tokens(ctx, cached, 8, &n_cached) == DSV32_OK);
  CHECK(n_cached == 6 && cached[5] == tokens[5]);
  char cache_path[256];
  snprintf(cache_path, sizeof cache_path, "%s/capi_c11_test.kvcache", argc > 2 ? argv[2] : ".");
  CHECK(dsv32_context_save_cache(ctx, cache_path) == DSV32_OK);
  const int32_t next = 11;
  CHECK(dsv32_context_eval(ctx, &next, 1, 6) == DSV32_OK);
  float* continued = malloc(vocab * sizeof(float));
  CHECK(dsv32_context_logits(ctx, &logits, &rows, &vocab) == DSV32_OK);
  memcpy(continued, logits, vocab * sizeof(float));
  int64_t n_restored = 0;
  CHECK(dsv32_context_load_cache(restored, cache_path, &n_restored) == DSV32_OK);
  CHECK(n_restored == 6 && dsv32_context_length(restored) == 6);
  CHECK(dsv32_context_load_cache(restored, cache_path, NULL) == DSV32_ERR_INVALID_ARGUMENT);
  CHECK(dsv32_context_eval(restored, &next, 1, 6) == DSV32_OK);
  CHECK(dsv32_context_logits(restored, &logits, &rows, &vocab) == DSV32_OK);
  CHECK(memcmp(logits, continued, vocab * sizeof(float)) == 0);
  free(continued);
  dsv32_context_free(restored);
  remove(cache_path);

  CHECK(dsv32_context_reset(ctx) == DSV32_OK);
  CHECK(dsv32_context_length(ctx) == 0);
  CHECK(dsv32_context_logits(ctx, &logits, &rows, &vocab) == DSV32_ERR_INVALID_ARGUMENT);
  dsv32_context_free(ctx);

  printf("%d passed, %d failed\n", checks - failures, failures);
  return failures == 0 ? 0 : 1;
}
