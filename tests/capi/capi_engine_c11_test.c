/* The engine half of the C API from plain C11: sampling params, engine
 * create (background and stepped), submit / stream / poll / tokens / wait /
 * cancel / release, metrics as a struct and as Prometheus text; an engine
 * with a tokenizer: streamed text, stop strings, chat requests, paged fp8
 * caches; requests constrained by a JSON Schema or a regex; speculative
 * decoding with the MTP layer.
 * Usage: capi_engine_c11_test MODEL_DIR TOKENIZER_DIR */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c_check.h"
#include "dsv32/dsv32.h"


typedef struct stream_state {
  int tokens;
  int finished;
  int n_top;
  dsv32_finish_reason reason;
  int32_t first_token;
} stream_state;

static void on_token(const dsv32_token_event* e, void* user_data) {
  stream_state* s = (stream_state*)user_data;
  if (e->token >= 0) {
    if (s->tokens == 0) s->first_token = e->token;
    ++s->tokens;
    s->n_top = (int)e->n_top;
  }
  if (e->finished) {
    ++s->finished;
    s->reason = e->reason;
  }
}

static const int32_t kPrompt[5] = {5, 17, 3, 99, 42};

/* A request for kPrompt under `sp`, up to max_tokens tokens, not ended by EOS. */
static dsv32_request_params prompt_request(const dsv32_sampling_params* sp, int32_t max_tokens) {
  dsv32_request_params rp = dsv32_request_default_params();
  rp.prompt = kPrompt;
  rp.n_prompt = 5;
  rp.sampling = sp;
  rp.max_tokens = max_tokens;
  rp.stop_at_eos = 0;
  return rp;
}

/* A greedy request on an engine stepped by this thread. */
static void stepped_engine(dsv32_model* model, int32_t* greedy_out) {
  dsv32_engine_params ep = dsv32_engine_default_params();
  ep.background = 0;
  ep.n_threads = 1;
  ep.max_context = 64;
  dsv32_engine* engine = NULL;
  CHECK(dsv32_engine_create(model, &ep, &engine) == DSV32_OK);
  if (!engine) return;

  dsv32_sampling_params sp = dsv32_sampling_default_params();
  sp.temperature = 0.0f;
  sp.top_logprobs = 2;
  stream_state st = {0, 0, 0, DSV32_FINISH_NONE, -1};
  dsv32_request_params rp = prompt_request(&sp, 4);
  rp.lane = DSV32_LANE_COMPUTE;
  rp.on_token = on_token;
  rp.user_data = &st;
  dsv32_request_id id = 0;
  CHECK(dsv32_engine_submit(engine, &rp, &id) == DSV32_OK);
  CHECK(id != 0);

  dsv32_request_status rs;
  memset(&rs, 0, sizeof rs);
  rs.struct_size = sizeof rs;
  CHECK(dsv32_engine_poll(engine, id, &rs) == DSV32_OK);
  CHECK(rs.state == DSV32_REQUEST_QUEUED && rs.n_prompt == 5 && rs.ttft_seconds < 0);

  int32_t done = 1;
  CHECK(dsv32_engine_wait(engine, id, 0, &done) == DSV32_OK);
  CHECK(done == 0);
  int64_t ran = 0;
  for (int i = 0; i < 100; ++i) {
    CHECK(dsv32_engine_step(engine, &ran) == DSV32_OK);
    if (ran == 0) break;
  }
  CHECK(dsv32_engine_wait(engine, id, -1, &done) == DSV32_OK);
  CHECK(done == 1);
  CHECK(dsv32_engine_poll(engine, id, &rs) == DSV32_OK);
  CHECK(rs.state == DSV32_REQUEST_FINISHED && rs.reason == DSV32_FINISH_MAX_TOKENS);
  CHECK(rs.n_generated == 4 && rs.ttft_seconds >= 0 && rs.queue_seconds >= 0);
  CHECK(st.tokens == 4 && st.finished == 1 && st.reason == DSV32_FINISH_MAX_TOKENS);
  CHECK(st.n_top == 2);

  size_t n = 0;
  float logprobs[4];
  CHECK(dsv32_engine_tokens(engine, id, NULL, NULL, 0, &n) == DSV32_OK);
  CHECK(n == 4);
  CHECK(dsv32_engine_tokens(engine, id, greedy_out, logprobs, 4, &n) == DSV32_OK);
  CHECK(greedy_out[0] == st.first_token && logprobs[0] <= 0.0f);
  CHECK(dsv32_engine_release(engine, id) == DSV32_OK);
  CHECK(dsv32_engine_poll(engine, id, &rs) == DSV32_ERR_NOT_FOUND);

  /* Disaggregated: a prefill writes the prompt's cache, a decode continues
   * from it and gives the same tokens. */
  rp.on_token = NULL;
  rp.max_tokens = 1;
  rp.kv_export_path = "capi_engine_kv.bin";
  CHECK(dsv32_engine_submit(engine, &rp, &id) == DSV32_OK);
  for (int i = 0; i < 100; ++i) {
    CHECK(dsv32_engine_step(engine, &ran) == DSV32_OK);
    if (ran == 0) break;
  }
  int32_t first = -1;
  CHECK(dsv32_engine_tokens(engine, id, &first, NULL, 1, &n) == DSV32_OK && first == greedy_out[0]);
  CHECK(dsv32_engine_release(engine, id) == DSV32_OK);
  int32_t continued[6] = {kPrompt[0], kPrompt[1], kPrompt[2], kPrompt[3], kPrompt[4], first};
  rp.prompt = continued;
  rp.n_prompt = 6;
  rp.max_tokens = 3;
  rp.kv_export_path = NULL;
  rp.kv_import_path = "capi_engine_kv.bin";
  CHECK(dsv32_engine_submit(engine, &rp, &id) == DSV32_OK);
  for (int i = 0; i < 100; ++i) {
    CHECK(dsv32_engine_step(engine, &ran) == DSV32_OK);
    if (ran == 0) break;
  }
  int32_t rest[3] = {-1, -1, -1};
  CHECK(dsv32_engine_tokens(engine, id, rest, NULL, 3, &n) == DSV32_OK && n == 3);
  CHECK(memcmp(rest, greedy_out + 1, sizeof rest) == 0);
  CHECK(dsv32_engine_release(engine, id) == DSV32_OK);
  rp.kv_import_path = "no-such-file.bin";
  CHECK(dsv32_engine_submit(engine, &rp, &id) == DSV32_OK);
  CHECK(dsv32_engine_step(engine, &ran) == DSV32_OK);
  CHECK(dsv32_engine_poll(engine, id, &rs) == DSV32_OK && rs.reason == DSV32_FINISH_ERROR);
  CHECK(strstr(dsv32_last_error(), "no-such-file.bin") != NULL);
  CHECK(dsv32_engine_release(engine, id) == DSV32_OK);
  remove("capi_engine_kv.bin");
  rp.kv_import_path = NULL;
  rp.prompt = kPrompt;
  rp.n_prompt = 5;
  rp.max_tokens = 4;

  /* Cancelling a queued request ends it at the next step. */
  rp.on_token = NULL;
  CHECK(dsv32_engine_submit(engine, &rp, &id) == DSV32_OK);
  CHECK(dsv32_engine_cancel(engine, id) == DSV32_OK);
  CHECK(dsv32_engine_step(engine, &ran) == DSV32_OK);
  CHECK(dsv32_engine_poll(engine, id, &rs) == DSV32_OK);
  CHECK(rs.reason == DSV32_FINISH_CANCELLED && rs.n_generated == 0);
  CHECK(dsv32_engine_cancel(engine, id) == DSV32_OK);
  CHECK(dsv32_engine_release(engine, id) == DSV32_OK);
  CHECK(dsv32_engine_cancel(engine, id) == DSV32_ERR_NOT_FOUND);

  /* Bad requests. */
  const int32_t bad = 1 << 30;
  rp.prompt = &bad;
  rp.n_prompt = 1;
  CHECK(dsv32_engine_submit(engine, &rp, &id) == DSV32_ERR_OUT_OF_RANGE);
  rp.prompt = NULL;
  rp.n_prompt = 0;
  CHECK(dsv32_engine_submit(engine, &rp, &id) == DSV32_ERR_INVALID_ARGUMENT);
  rp.prompt = kPrompt;
  rp.n_prompt = 5;
  sp.top_p = 5.0f;
  CHECK(dsv32_engine_submit(engine, &rp, &id) == DSV32_ERR_INVALID_ARGUMENT);
  CHECK(dsv32_engine_submit(engine, NULL, &id) == DSV32_ERR_INVALID_ARGUMENT);
  dsv32_engine_free(engine);
}

typedef struct text_state {
  char text[4096];
  size_t length;
  int finished;
  dsv32_finish_reason reason;
} text_state;

static void on_text(const dsv32_token_event* e, void* user_data) {
  text_state* s = (text_state*)user_data;
  CHECK(e->text != NULL && strlen(e->text) == e->text_length);
  if (s->length + e->text_length < sizeof s->text) {
    memcpy(s->text + s->length, e->text, e->text_length + 1);
    s->length += e->text_length;
  }
  if (e->finished) {
    s->finished = 1;
    s->reason = e->reason;
  }
}

/* Runs the request to its end on a stepped engine; returns its id. */
static dsv32_request_id run_text(dsv32_engine* engine, dsv32_request_params* rp, text_state* st) {
  memset(st, 0, sizeof *st);
  rp->on_token = on_text;
  rp->user_data = st;
  dsv32_request_id id = 0;
  CHECK(dsv32_engine_submit(engine, rp, &id) == DSV32_OK);
  int64_t ran = 1;
  for (int i = 0; i < 200 && ran > 0; ++i) CHECK(dsv32_engine_step(engine, &ran) == DSV32_OK);
  CHECK(st->finished == 1);
  return id;
}

/* An engine with a tokenizer and an fp8 paged cache. */
static void text_engine(dsv32_model* model, const char* tokenizer_dir) {
  dsv32_tokenizer* tokenizer = NULL;
  CHECK(dsv32_tokenizer_load(tokenizer_dir, &tokenizer) == DSV32_OK);
  if (!tokenizer) return;
  dsv32_engine_params ep = dsv32_engine_default_params();
  CHECK(ep.kv_dtype == DSV32_KV_F32 && ep.page_tokens == 64 && ep.prefix_cache == 1);
  ep.background = 0;
  ep.n_threads = 1;
  ep.max_context = 64;
  ep.kv_dtype = 7;
  dsv32_engine* engine = NULL;
  CHECK(dsv32_engine_create(model, &ep, &engine) == DSV32_ERR_INVALID_ARGUMENT);
  ep.kv_dtype = DSV32_KV_FP8;
  ep.page_tokens = 4;
  ep.tokenizer = tokenizer;
  CHECK(dsv32_engine_create(model, &ep, &engine) == DSV32_OK);
  dsv32_tokenizer_free(tokenizer); /* the engine keeps it */
  if (!engine) return;

  dsv32_sampling_params sp = dsv32_sampling_default_params();
  sp.temperature = 0.0f;
  dsv32_request_params rp = prompt_request(&sp, 8);
  text_state full, stopped;
  dsv32_request_id id = run_text(engine, &rp, &full);
  CHECK(full.reason == DSV32_FINISH_MAX_TOKENS && full.length > 2);
  size_t length = 0;
  char copy[4096];
  CHECK(dsv32_engine_text(engine, id, NULL, 0, &length) == DSV32_OK && length == full.length);
  CHECK(dsv32_engine_text(engine, id, copy, sizeof copy, NULL) == DSV32_OK);
  CHECK(strcmp(copy, full.text) == 0);
  CHECK(dsv32_engine_release(engine, id) == DSV32_OK);

  /* A stop string from the middle of that text ends the same request there. */
  char stop[3] = {full.text[full.length / 2], full.text[full.length / 2 + 1], 0};
  const char* stops[1] = {stop};
  rp.stop_strings = stops;
  rp.n_stop_strings = 1;
  id = run_text(engine, &rp, &stopped);
  CHECK(stopped.reason == DSV32_FINISH_STOP_STRING);
  CHECK(strstr(full.text, stop) == full.text + stopped.length);
  CHECK(dsv32_engine_release(engine, id) == DSV32_OK);
  stops[0] = NULL;
  CHECK(dsv32_engine_submit(engine, &rp, &id) == DSV32_ERR_INVALID_ARGUMENT);
  rp.stop_strings = NULL;
  rp.n_stop_strings = 0;

  /* A chat request is tokenized by the engine; this model's vocabulary is
   * smaller than the tokenizer's, which submit reports. */
  rp.chat_request = "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}";
  CHECK(dsv32_engine_submit(engine, &rp, &id) == DSV32_ERR_INVALID_ARGUMENT);
  rp.prompt = NULL;
  rp.n_prompt = 0;
  CHECK(dsv32_engine_submit(engine, &rp, &id) == DSV32_ERR_OUT_OF_RANGE);
  rp.chat_request = "{\"messages\": 3}";
  CHECK(dsv32_engine_submit(engine, &rp, &id) == DSV32_ERR_INVALID_ARGUMENT);

  dsv32_engine_metrics m;
  memset(&m, 0, sizeof m);
  m.struct_size = sizeof m;
  CHECK(dsv32_engine_get_metrics(engine, &m) == DSV32_OK);
  CHECK(m.kv_page_tokens == 4 && m.kv_pages_total > 0 && m.kv_pages_used <= m.kv_pages_total);
  CHECK(m.prefix_cached_pages > 0 && m.prefix_hit_rate > 0.0 && m.prefix_evicted_pages == 0);
  dsv32_engine_free(engine);
}

/* Runs one greedy request to its end on a stepped engine and decodes what
 * it generated without the final stop token into text[capacity]. */
static dsv32_finish_reason run_to_end(dsv32_engine* engine, const dsv32_request_params* rp,
                                      const dsv32_tokenizer* tokenizer, char* text,
                                      size_t capacity) {
  dsv32_request_id id = 0;
  text[0] = '\0';
  CHECK(dsv32_engine_submit(engine, rp, &id) == DSV32_OK);
  if (id == 0) return DSV32_FINISH_ERROR;
  int64_t ran = 1;
  while (ran > 0) CHECK(dsv32_engine_step(engine, &ran) == DSV32_OK);
  dsv32_request_status rs;
  memset(&rs, 0, sizeof rs);
  rs.struct_size = sizeof rs;
  CHECK(dsv32_engine_poll(engine, id, &rs) == DSV32_OK);
  int32_t tokens[512];
  size_t n = 0, length = 0;
  CHECK(dsv32_engine_tokens(engine, id, tokens, NULL, 512, &n) == DSV32_OK);
  if (rs.reason == DSV32_FINISH_STOP_TOKEN && n > 0) --n;
  CHECK(dsv32_tokenizer_decode(tokenizer, tokens, n, 0, text, capacity, &length) == DSV32_OK);
  CHECK(dsv32_engine_release(engine, id) == DSV32_OK);
  return rs.reason;
}

/* How many calls of `name` the chat parser reads in `text`, with the last
 * one's arguments; -1 on a parser error. */
static int parse_calls(const char* text, const char* name, char* arguments, size_t capacity) {
  dsv32_chat_parser* parser = NULL;
  CHECK(dsv32_chat_parser_create(NULL, &parser) == DSV32_OK);
  if (!parser) return -1;
  CHECK(dsv32_chat_parser_feed(parser, text, strlen(text)) == DSV32_OK);
  CHECK(dsv32_chat_parser_finish(parser) == DSV32_OK);
  int calls = 0, errors = 0;
  dsv32_chat_event ev;
  memset(&ev, 0, sizeof ev);
  ev.struct_size = sizeof ev;
  int32_t more = 0;
  arguments[0] = '\0';
  while (dsv32_chat_parser_next(parser, &ev, &more) == DSV32_OK && more) {
    if (ev.type == DSV32_CHAT_TOOL_CALL_START) {
      calls += strcmp(ev.text, name) == 0;
      arguments[0] = '\0';
    }
    if (ev.type == DSV32_CHAT_TOOL_CALL_ARGUMENTS && strlen(arguments) + ev.text_length < capacity)
      strncat(arguments, ev.text, ev.text_length);
    errors += ev.type == DSV32_CHAT_ERROR;
  }
  dsv32_chat_parser_free(parser);
  return errors ? -1 : calls;
}

/* A chat request is held to its own tools and tool_choice (chat prompts
 * need a model with the tokenizer's whole vocabulary). */
static void chat_tool_requests(const char* model_dir, const dsv32_tokenizer* tokenizer) {
  dsv32_model* model = NULL;
  CHECK(dsv32_model_load(model_dir, NULL, &model) == DSV32_OK);
  if (!model) return;
  dsv32_engine_params ep = dsv32_engine_default_params();
  ep.background = 0;
  ep.n_threads = 1;
  ep.tokenizer = tokenizer;
  ep.max_context = 1024;
  dsv32_engine* engine = NULL;
  CHECK(dsv32_engine_create(model, &ep, &engine) == DSV32_OK);
  dsv32_model_free(model);
  if (!engine) return;
  dsv32_sampling_params sp = dsv32_sampling_default_params();
  sp.temperature = 0.0f;
  dsv32_request_params rp = dsv32_request_default_params();
  rp.sampling = &sp;
  rp.max_tokens = 300;
  rp.chat_request =
      "{\"messages\":[{\"role\":\"user\",\"content\":\"Pick one\"}],\"tools\":[{\"type\":"
      "\"function\",\"function\":{\"name\":\"pick\",\"parameters\":{\"type\":\"object\","
      "\"properties\":{\"ok\":{\"type\":\"boolean\"}},\"required\":[\"ok\"]}}}],"
      "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"pick\"}}}";
  char text[2048], arguments[256];
  CHECK(run_to_end(engine, &rp, tokenizer, text, sizeof text) == DSV32_FINISH_STOP_TOKEN);
  CHECK(parse_calls(text, "pick", arguments, sizeof arguments) == 1);
  CHECK(strcmp(arguments, "{\"ok\": true}") == 0 || strcmp(arguments, "{\"ok\": false}") == 0);
  /* ... unless it opts out, or names its own tools. */
  rp.chat_tools_unconstrained = 1;
  rp.max_tokens = 4;
  dsv32_request_id id = 0;
  CHECK(dsv32_engine_submit(engine, &rp, &id) == DSV32_OK);
  CHECK(dsv32_engine_release(engine, id) == DSV32_OK);
  rp.chat_tools_unconstrained = 0;
  rp.tools = "[{\"type\":\"function\",\"function\":{\"name\":\"other\"}}]";
  rp.tool_choice = "\"required\"";
  rp.max_tokens = 300;
  CHECK(run_to_end(engine, &rp, tokenizer, text, sizeof text) == DSV32_FINISH_STOP_TOKEN);
  CHECK(parse_calls(text, "other", arguments, sizeof arguments) >= 1);
  /* The request's own tool_choice must still be valid JSON of the kind. */
  rp.tools = NULL;
  rp.tool_choice = NULL;
  rp.chat_request =
      "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"tools\":[{\"type\":"
      "\"function\",\"function\":{\"name\":\"pick\"}}],\"tool_choice\":\"sometimes\"}";
  CHECK(dsv32_engine_submit(engine, &rp, &id) == DSV32_ERR_INVALID_ARGUMENT);
  CHECK(strstr(dsv32_last_error(), "tool_choice") != NULL);

  /* A reply that opens with reasoning (thinking on): a schema holds only
   * what follows "</think>", so the reasoning is free. This model does not
   * close it within the budget, so the reply runs to max_tokens as free
   * text, where an unframed schema would have made it JSON from the first
   * token. */
  rp.chat_request =
      "{\"messages\":[{\"role\":\"user\",\"content\":\"Answer in JSON\"}],\"thinking\":true}";
  rp.json_schema = "{\"type\":\"object\",\"properties\":{\"ok\":{\"type\":\"boolean\"}}}";
  rp.max_tokens = 24;
  const dsv32_finish_reason reasoned = run_to_end(engine, &rp, tokenizer, text, sizeof text);
  CHECK(reasoned == DSV32_FINISH_MAX_TOKENS || strstr(text, "</think>{") != NULL);
  CHECK(text[0] != '{');
  /* Without thinking the schema holds the whole reply. */
  rp.chat_request = "{\"messages\":[{\"role\":\"user\",\"content\":\"Answer in JSON\"}]}";
  rp.max_tokens = 300;
  CHECK(run_to_end(engine, &rp, tokenizer, text, sizeof text) == DSV32_FINISH_STOP_TOKEN);
  CHECK(text[0] == '{' && text[strlen(text) - 1] == '}');
  rp.json_schema = NULL;
  dsv32_engine_free(engine);
}

/* Replies held to a call of the tools in DSML markup: the chat parser
 * reads them as calls with JSON arguments. */
static void tool_requests(dsv32_model* model, dsv32_request_params* rp,
                          const dsv32_tokenizer* tokenizer) {
  dsv32_engine_params ep = dsv32_engine_default_params();
  ep.background = 0;
  ep.n_threads = 1;
  ep.tokenizer = tokenizer;
  ep.max_context = 2048; /* the tools' preamble, and markup spelled a byte at a time */
  dsv32_engine* engine = NULL;
  CHECK(dsv32_engine_create(model, &ep, &engine) == DSV32_OK);
  if (!engine) return;
  static const char kTools[] =
      "[{\"type\":\"function\",\"function\":{\"name\":\"pick\",\"parameters\":"
      "{\"type\":\"object\",\"properties\":{\"ok\":{\"type\":\"boolean\"},"
      "\"size\":{\"enum\":[1,2,3]}},\"required\":[\"ok\",\"size\"]}}},"
      "{\"type\":\"function\",\"function\":{\"name\":\"other\"}}]";
  char text[2048];
  rp->tools = kTools;
  rp->tool_choice = "{\"type\":\"function\",\"function\":{\"name\":\"pick\"}}";
  rp->max_tokens = 400;
  CHECK(run_to_end(engine, rp, tokenizer, text, sizeof text) == DSV32_FINISH_STOP_TOKEN);
  char arguments[256];
  CHECK(parse_calls(text, "pick", arguments, sizeof arguments) == 1);
  CHECK(strncmp(arguments, "{\"ok\": ", 7) == 0 && strstr(arguments, "\"size\": ") != NULL);

  /* "required" opens the block at once; "none" constrains nothing. */
  rp->tool_choice = "\"required\"";
  dsv32_request_id id = 0;
  rp->max_tokens = 8;
  run_to_end(engine, rp, tokenizer, text, sizeof text);
  CHECK(strncmp(text, "\n\n<\xef\xbd\x9c", 6) == 0); /* "\n\n<｜" */
  rp->tool_choice = "\"none\"";
  CHECK(dsv32_engine_submit(engine, rp, &id) == DSV32_OK);
  CHECK(dsv32_engine_release(engine, id) == DSV32_OK);
  rp->tools = "[]"; /* "auto" over no tools: free text */
  rp->tool_choice = NULL;
  CHECK(dsv32_engine_submit(engine, rp, &id) == DSV32_OK);
  CHECK(dsv32_engine_release(engine, id) == DSV32_OK);
  rp->tool_choice = "\"required\"";
  CHECK(dsv32_engine_submit(engine, rp, &id) == DSV32_ERR_INVALID_ARGUMENT);
  CHECK(strstr(dsv32_last_error(), "tools: empty") != NULL);
  rp->tools = kTools;

  /* Errors name the tool and property. */
  rp->tool_choice = "{\"type\":\"function\",\"function\":{\"name\":\"missing\"}}";
  CHECK(dsv32_engine_submit(engine, rp, &id) == DSV32_ERR_INVALID_ARGUMENT);
  CHECK(strstr(dsv32_last_error(), "\"missing\" is not among the tools") != NULL);
  rp->tool_choice = NULL;
  rp->tools =
      "[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":"
      "{\"properties\":{\"n\":{\"type\":\"integer\",\"multipleOf\":2}}}}}]";
  CHECK(dsv32_engine_submit(engine, rp, &id) == DSV32_ERR_UNSUPPORTED);
  CHECK(strstr(dsv32_last_error(), "tools[0] (f) property \"n\"") != NULL);
  rp->tools = "[";
  CHECK(dsv32_engine_submit(engine, rp, &id) == DSV32_ERR_INVALID_ARGUMENT);
  rp->tools = kTools;
  rp->regex = "x";
  CHECK(dsv32_engine_submit(engine, rp, &id) == DSV32_ERR_INVALID_ARGUMENT);
  rp->regex = NULL;
  rp->tools = NULL;
  rp->tool_choice = "\"auto\"";
  CHECK(dsv32_engine_submit(engine, rp, &id) == DSV32_ERR_INVALID_ARGUMENT); /* no tools */
  rp->tool_choice = NULL;
  dsv32_engine_free(engine);
}

/* Requests whose output must match a JSON Schema or a regex. */
static void constrained_requests(dsv32_model* model, const char* tokenizer_dir) {
  dsv32_tokenizer* tokenizer = NULL;
  CHECK(dsv32_tokenizer_load(tokenizer_dir, &tokenizer) == DSV32_OK);
  dsv32_engine_params ep = dsv32_engine_default_params();
  ep.background = 0;
  ep.n_threads = 1;
  ep.max_context = 128;
  dsv32_engine* engine = NULL;
  CHECK(dsv32_engine_create(model, &ep, &engine) == DSV32_OK);
  if (!engine || !tokenizer) return;
  dsv32_sampling_params sp = dsv32_sampling_default_params();
  sp.temperature = 0.0f;
  dsv32_request_params rp = dsv32_request_default_params();
  CHECK(rp.json_schema == NULL && rp.regex == NULL && rp.tokenizer == NULL);
  rp.prompt = kPrompt;
  rp.n_prompt = 5;
  rp.sampling = &sp;
  rp.max_tokens = 100;
  rp.tokenizer = tokenizer;
  char text[1024];

  rp.json_schema =
      "{\"type\":\"object\",\"properties\":{\"ok\":{\"type\":\"boolean\"},"
      "\"n\":{\"type\":\"integer\"}},\"required\":[\"ok\",\"n\"]}";
  CHECK(run_to_end(engine, &rp, tokenizer, text, sizeof text) == DSV32_FINISH_STOP_TOKEN);
  CHECK(text[0] == '{' && strstr(text, "\"ok\"") && strstr(text, "\"n\"") &&
        text[strlen(text) - 1] == '}');
  rp.json_schema = NULL;
  rp.regex = "(yes|no)!";
  CHECK(run_to_end(engine, &rp, tokenizer, text, sizeof text) == DSV32_FINISH_STOP_TOKEN);
  CHECK(strcmp(text, "yes!") == 0 || strcmp(text, "no!") == 0);

  /* A caller built before these fields existed gets unconstrained output. */
  rp.struct_size = offsetof(dsv32_request_params, json_schema);
  rp.max_tokens = 3;
  rp.stop_at_eos = 0;
  dsv32_request_id id = 0;
  CHECK(dsv32_engine_submit(engine, &rp, &id) == DSV32_OK);
  CHECK(dsv32_engine_release(engine, id) == DSV32_OK);
  rp.struct_size = sizeof rp;

  /* Errors name the problem. */
  CHECK(dsv32_engine_submit(engine, &rp, &id) == DSV32_ERR_INVALID_ARGUMENT); /* no stop token */
  CHECK(strstr(dsv32_last_error(), "end token") != NULL);
  rp.stop_at_eos = 1;
  rp.regex = "(yes";
  CHECK(dsv32_engine_submit(engine, &rp, &id) == DSV32_ERR_INVALID_ARGUMENT);
  CHECK(strstr(dsv32_last_error(), "regex") != NULL);
  rp.regex = "a(?=b)";
  CHECK(dsv32_engine_submit(engine, &rp, &id) == DSV32_ERR_UNSUPPORTED);
  rp.json_schema = "{\"type\":\"string\"}";
  CHECK(dsv32_engine_submit(engine, &rp, &id) == DSV32_ERR_INVALID_ARGUMENT); /* both */
  rp.regex = NULL;
  rp.json_schema = "{\"properties\":{\"n\":{\"type\":\"integer\",\"multipleOf\":2}}}";
  CHECK(dsv32_engine_submit(engine, &rp, &id) == DSV32_ERR_UNSUPPORTED);
  CHECK(strstr(dsv32_last_error(), "schema.properties.n.multipleOf") != NULL);
  rp.json_schema = "{\"enum\":[]}";
  CHECK(dsv32_engine_submit(engine, &rp, &id) == DSV32_ERR_INVALID_ARGUMENT);
  CHECK(strstr(dsv32_last_error(), "schema.enum") != NULL);
  rp.tokenizer = NULL;
  rp.json_schema = "{}";
  CHECK(dsv32_engine_submit(engine, &rp, &id) == DSV32_ERR_INVALID_ARGUMENT);
  CHECK(strstr(dsv32_last_error(), "tokenizer") != NULL);
  rp.json_schema = NULL;
  rp.tokenizer = tokenizer;
  tool_requests(model, &rp, tokenizer);
  dsv32_engine_free(engine);
  dsv32_tokenizer_free(tokenizer);
}

/* Speculative decoding with the model's MTP layer: the same greedy tokens
 * as stepped_engine's, and the drafts counted in the metrics. */
static void speculative_engine(dsv32_model* model, const int32_t* greedy) {
  dsv32_engine_params ep = dsv32_engine_default_params();
  CHECK(ep.speculative_tokens == 0);
  ep.background = 0;
  ep.n_threads = 1;
  ep.max_context = 64;
  ep.speculative_tokens = 17;
  dsv32_engine* engine = NULL;
  CHECK(dsv32_engine_create(model, &ep, &engine) == DSV32_ERR_INVALID_ARGUMENT);
  CHECK(strstr(dsv32_last_error(), "speculative_tokens") != NULL);
  ep.speculative_tokens = 2;
  CHECK(dsv32_engine_create(model, &ep, &engine) == DSV32_OK);
  if (!engine) return;
  dsv32_sampling_params sp = dsv32_sampling_default_params();
  sp.temperature = 0.0f;
  dsv32_request_params rp = prompt_request(&sp, 4);
  dsv32_request_id id = 0;
  CHECK(dsv32_engine_submit(engine, &rp, &id) == DSV32_OK);
  int64_t ran = 0;
  for (int i = 0; i < 100; ++i) {
    CHECK(dsv32_engine_step(engine, &ran) == DSV32_OK);
    if (ran == 0) break;
  }
  int32_t out[4] = {-1, -1, -1, -1};
  size_t n = 0;
  CHECK(dsv32_engine_tokens(engine, id, out, NULL, 4, &n) == DSV32_OK && n == 4);
  CHECK(memcmp(out, greedy, sizeof out) == 0);
  dsv32_engine_metrics m;
  memset(&m, 0, sizeof m);
  m.struct_size = sizeof m;
  CHECK(dsv32_engine_get_metrics(engine, &m) == DSV32_OK);
  CHECK(m.speculative_steps > 0 && m.draft_tokens > 0);
  CHECK(m.accepted_draft_tokens <= m.draft_tokens);
  CHECK(m.draft_acceptance_rate >= 0.0 && m.draft_acceptance_rate <= 1.0);
  CHECK(m.kv_mtp_pages_used == 0);
  dsv32_engine_free(engine);
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s MODEL_DIR TOKENIZER_DIR CHAT_MODEL_DIR\n", argv[0]);
    return 2;
  }
  dsv32_model* model = NULL;
  CHECK(dsv32_model_load(argv[1], NULL, &model) == DSV32_OK);
  if (!model) return 1;
  dsv32_model_info info;
  memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  CHECK(dsv32_model_get_info(model, &info) == DSV32_OK);

  /* NULL handles are errors, never crashes. */
  dsv32_engine* engine = (dsv32_engine*)1;
  CHECK(dsv32_engine_create(NULL, NULL, &engine) == DSV32_ERR_INVALID_ARGUMENT);
  CHECK(engine == NULL);
  CHECK(dsv32_engine_cancel(NULL, 1) == DSV32_ERR_INVALID_ARGUMENT);
  CHECK(dsv32_engine_step(NULL, NULL) == DSV32_ERR_INVALID_ARGUMENT);
  dsv32_engine_free(NULL);
  dsv32_engine_params ep = dsv32_engine_default_params();
  CHECK(ep.struct_size == sizeof ep && ep.background == 1 && ep.max_batch_tokens > 0);
  ep.max_running = 0;
  CHECK(dsv32_engine_create(model, &ep, &engine) == DSV32_ERR_INVALID_ARGUMENT);

  int32_t greedy[4] = {0, 0, 0, 0};
  stepped_engine(model, greedy);
  speculative_engine(model, greedy);
  text_engine(model, argv[2]);
  constrained_requests(model, argv[2]);
  {
    dsv32_tokenizer* tokenizer = NULL;
    CHECK(dsv32_tokenizer_load(argv[2], &tokenizer) == DSV32_OK);
    if (tokenizer) chat_tool_requests(argv[3], tokenizer);
    dsv32_tokenizer_free(tokenizer);
  }

  /* A background engine: the same greedy request gives the same tokens,
   * while a second one runs beside it. */
  ep = dsv32_engine_default_params();
  ep.n_threads = 2;
  ep.max_context = 64;
  CHECK(dsv32_engine_create(model, &ep, &engine) == DSV32_OK);
  dsv32_model_free(model); /* the engine keeps the model alive */
  if (!engine) return 1;
  dsv32_sampling_params sp;
  memset(&sp, 0, sizeof sp);
  sp.struct_size = sizeof sp;
  CHECK(dsv32_engine_sampling_defaults(engine, &sp) == DSV32_OK);
  CHECK(sp.temperature == 1.0f && sp.top_p == 1.0f && sp.seed < 0);
  sp.temperature = 0.0f;
  dsv32_request_params rp = prompt_request(&sp, 4);
  dsv32_request_id a = 0, b = 0;
  CHECK(dsv32_engine_submit(engine, &rp, &a) == DSV32_OK);
  rp.max_tokens = 1000;
  rp.lane = DSV32_LANE_COMPUTE;
  CHECK(dsv32_engine_submit(engine, &rp, &b) == DSV32_OK);
  int32_t done = 0;
  CHECK(dsv32_engine_wait(engine, a, 60000, &done) == DSV32_OK && done == 1);
  int32_t tokens[4];
  size_t n = 0;
  CHECK(dsv32_engine_tokens(engine, a, tokens, NULL, 4, &n) == DSV32_OK && n == 4);
  CHECK(memcmp(tokens, greedy, sizeof tokens) == 0);
  CHECK(dsv32_engine_step(engine, NULL) == DSV32_ERR_INVALID_ARGUMENT);
  CHECK(dsv32_engine_cancel(engine, b) == DSV32_OK);
  CHECK(dsv32_engine_wait(engine, b, 60000, &done) == DSV32_OK && done == 1);
  dsv32_request_status rs;
  memset(&rs, 0, sizeof rs);
  rs.struct_size = sizeof rs;
  CHECK(dsv32_engine_poll(engine, b, &rs) == DSV32_OK);
  CHECK(rs.reason == DSV32_FINISH_CANCELLED || rs.reason == DSV32_FINISH_CONTEXT_FULL);

  dsv32_engine_metrics m;
  memset(&m, 0, sizeof m);
  m.struct_size = sizeof m;
  CHECK(dsv32_engine_get_metrics(engine, &m) == DSV32_OK);
  CHECK(m.requests_submitted == 2 && m.requests_finished == 2);
  CHECK(m.generated_tokens >= 4 && m.ttft_mean > 0 && m.steps > 0);
  CHECK(m.kv_used_tokens == 0 && m.kv_capacity_tokens > 0 && m.prefix_hit_rate == 0.0);
  CHECK(m.expert_layers == info.num_hidden_layers && m.experts == info.n_routed_experts);
  size_t n_counts = 0;
  CHECK(dsv32_engine_expert_counts(engine, NULL, 0, &n_counts) == DSV32_OK);
  CHECK(n_counts == (size_t)(m.expert_layers * m.experts));
  uint64_t* counts = calloc(n_counts, sizeof(uint64_t));
  CHECK(dsv32_engine_expert_counts(engine, counts, n_counts, NULL) == DSV32_OK);
  uint64_t routed = 0;
  for (size_t i = 0; i < n_counts; ++i) routed += counts[i];
  CHECK(routed > 0);
  free(counts);
  size_t length = 0;
  CHECK(dsv32_engine_metrics_prometheus(engine, NULL, 0, &length) == DSV32_OK && length > 0);
  char* text = malloc(length + 1);
  CHECK(dsv32_engine_metrics_prometheus(engine, text, length + 1, NULL) == DSV32_OK);
  CHECK(strlen(text) == length);
  CHECK(strstr(text, "dsv32_time_to_first_token_seconds_count 2") != NULL);
  CHECK(strstr(text, "dsv32_expert_routed_tokens_total{layer=") != NULL);
  char small[8];
  CHECK(dsv32_engine_metrics_prometheus(engine, small, sizeof small, NULL) == DSV32_OK);
  CHECK(strlen(small) == 7);
  free(text);
  CHECK(dsv32_engine_release(engine, a) == DSV32_OK);
  CHECK(dsv32_engine_release(engine, b) == DSV32_OK);
  dsv32_engine_free(engine);

  printf("%d passed, %d failed\n", checks - failures, failures);
  return failures == 0 ? 0 : 1;
}
