/* The smallest complete use of libdsv32: load a model, start an engine,
 * stream one completion from prompt token ids, print the numbers.
 * Usage: dsv32_minimal MODEL_DIR [TOKEN_ID...] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dsv32/dsv32.h>

static void print_token(const dsv32_token_event* event, void* user_data) {
  (void)user_data;
  if (event->token >= 0) printf("%d ", event->token);
  if (event->finished) printf("\n[finished: reason %d]\n", (int)event->reason);
  fflush(stdout);
}

static int fail(const char* what) {
  fprintf(stderr, "%s: %s\n", what, dsv32_last_error());
  return 1;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL_DIR [TOKEN_ID...]\n", argv[0]);
    return 2;
  }
  dsv32_model* model = NULL;
  if (dsv32_model_load(argv[1], NULL, &model) != DSV32_OK) return fail("load");

  dsv32_engine* engine = NULL;
  if (dsv32_engine_create(model, NULL, &engine) != DSV32_OK) return fail("engine");
  dsv32_model_free(model); /* the engine holds its own reference */

  int32_t prompt[64] = {0, 1000, 2000, 300};
  size_t n_prompt = 4;
  if (argc > 2) {
    n_prompt = 0;
    for (int i = 2; i < argc && n_prompt < 64; ++i) prompt[n_prompt++] = (int32_t)atoi(argv[i]);
  }
  dsv32_request_params request = dsv32_request_default_params();
  request.prompt = prompt;
  request.n_prompt = n_prompt;
  request.max_tokens = 16;
  request.on_token = print_token;
  dsv32_request_id id = 0;
  if (dsv32_engine_submit(engine, &request, &id) != DSV32_OK) return fail("submit");
  if (dsv32_engine_wait(engine, id, -1, NULL) != DSV32_OK) return fail("wait");

  dsv32_engine_metrics metrics;
  memset(&metrics, 0, sizeof metrics);
  metrics.struct_size = sizeof metrics;
  if (dsv32_engine_get_metrics(engine, &metrics) != DSV32_OK) return fail("metrics");
  printf("%llu tokens, time to first token %.3f s, %.1f tokens/s\n",
         (unsigned long long)metrics.generated_tokens, metrics.ttft_mean,
         metrics.generated_tokens_per_second);
  dsv32_engine_release(engine, id);
  dsv32_engine_free(engine);
  return 0;
}
