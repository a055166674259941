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
 *    matching *_default_params() function. Those are inline here: they
 *    call the exported *_params_init(params, sizeof *params), which fills
 *    no more than the caller's struct, so a program built against an older
 *    header keeps working with a newer library whose structs grew.
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

/* ---- Models ------------------------------------------------------------ */

/* A loaded checkpoint: config, weights (mmap'd in their stored dtype).
 * Immutable once loaded and safe to share between threads and contexts; a
 * context keeps its model alive, so the model may be freed first. */
typedef struct dsv32_model dsv32_model;

/* Called during loading with the fraction done in [0, 1]. */
typedef void (*dsv32_progress_fn)(float fraction, void* user_data);

/* How the matmuls treat their activations. F32 keeps them exact (the
 * reference mode). BF16 is the fast mode: FP8 matmuls round their
 * block-scaled activations to bf16 and multiply with bf16 dot products on
 * CPUs that have them (AVX-512 BF16), f32 elsewhere. */
typedef enum dsv32_activations {
  DSV32_ACTIVATIONS_F32 = 0,
  DSV32_ACTIVATIONS_BF16 = 1
} dsv32_activations;

typedef struct dsv32_model_params {
  size_t struct_size; /* sizeof(dsv32_model_params), set by default_params */
  dsv32_progress_fn progress; /* may be NULL */
  void* progress_user_data;
  int32_t activations; /* a dsv32_activations; default DSV32_ACTIVATIONS_F32 */
  /* 1: read every page of the weights in before dsv32_model_load returns,
   * so loading takes as long as reading the files and the first requests
   * run at full speed; 0 (default): pages come in as they are first used. */
  int32_t populate;
} dsv32_model_params;

/* Fills the first `struct_size` bytes of *params with the defaults (no
 * more than the library knows; struct_size then says how many the caller has). */
DSV32_API void dsv32_model_params_init(dsv32_model_params* params, size_t struct_size);
static inline dsv32_model_params dsv32_model_default_params(void) {
  dsv32_model_params params;
  dsv32_model_params_init(&params, sizeof params);
  return params;
}

/* Loads the model in directory `dir` (config.json plus model.safetensors or
 * a sharded model.safetensors.index.json set). `params` may be NULL for the
 * defaults. On success *out owns the model; on failure *out is NULL. */
DSV32_API dsv32_status dsv32_model_load(const char* dir, const dsv32_model_params* params,
                                        dsv32_model** out);

DSV32_API void dsv32_model_free(dsv32_model* model);

typedef struct dsv32_model_info {
  size_t struct_size;        /* set by the caller to sizeof(dsv32_model_info) */
  const char* model_type;    /* "deepseek_v32" or "deepseek_v3"; owned by the model */
  int64_t vocab_size;
  int64_t hidden_size;
  int64_t num_hidden_layers;
  int64_t num_attention_heads;
  int64_t kv_lora_rank;
  int64_t qk_rope_head_dim;
  int64_t max_position_embeddings;
  int64_t n_routed_experts;   /* 0 for a dense model */
  int64_t num_experts_per_tok;
  int32_t has_indexer;        /* 1 for DeepSeek-V3.2's sparse attention */
  int64_t index_topk;         /* 0 without an indexer */
  int64_t num_parameters;     /* weight elements in the checkpoint, scales excluded */
  int64_t kv_bytes_per_token; /* bytes of cache a token costs over all layers (f32 cache) */
  int64_t bos_token_id;       /* -1 if the config names none */
  int64_t eos_token_id;
} dsv32_model_info;

/* Fills `info`; the caller sets info->struct_size first. */
DSV32_API dsv32_status dsv32_model_get_info(const dsv32_model* model, dsv32_model_info* info);

/* ---- Contexts ---------------------------------------------------------- */

/* One sequence being evaluated: its KV cache and the logits of its last
 * evaluation. Use a context from one thread at a time. */
typedef struct dsv32_context dsv32_context;

typedef struct dsv32_context_params {
  size_t struct_size; /* sizeof(dsv32_context_params), set by default_params */
  int64_t max_tokens; /* context limit; 0 = the model's max_position_embeddings */
  int32_t n_threads;  /* 0 = the cores this process may use */
  int32_t all_logits; /* 1: logits for every evaluated token; 0: only the last */
} dsv32_context_params;

/* Fills the first `struct_size` bytes of *params with the defaults (no
 * more than the library knows; struct_size then says how many the caller has). */
DSV32_API void dsv32_context_params_init(dsv32_context_params* params, size_t struct_size);
static inline dsv32_context_params dsv32_context_default_params(void) {
  dsv32_context_params params;
  dsv32_context_params_init(&params, sizeof params);
  return params;
}

DSV32_API dsv32_status dsv32_context_create(dsv32_model* model, const dsv32_context_params* params,
                                            dsv32_context** out);

DSV32_API void dsv32_context_free(dsv32_context* ctx);

/* Evaluates `n_tokens` tokens at positions [first_position, first_position +
 * n_tokens). first_position may not exceed the number of tokens already in
 * the context; cached tokens from first_position on are replaced (so a
 * caller can roll back). Fails with DSV32_ERR_OUT_OF_RANGE for a token id
 * outside the vocabulary or a context past max_tokens, leaving the context
 * as it was. */
DSV32_API dsv32_status dsv32_context_eval(dsv32_context* ctx, const int32_t* tokens,
                                          size_t n_tokens, int64_t first_position);

/* The logits of the last evaluation, row-major [*n_rows, *n_vocab]. The
 * pointer stays valid until the next eval or free. */
DSV32_API dsv32_status dsv32_context_logits(const dsv32_context* ctx, const float** logits,
                                            size_t* n_rows, size_t* n_vocab);

/* Tokens currently in the context's cache (0 for a NULL context). */
DSV32_API int64_t dsv32_context_length(const dsv32_context* ctx);

/* Forgets every cached token. */
DSV32_API dsv32_status dsv32_context_reset(dsv32_context* ctx);

/* The token ids in the context's cache, in order: copies up to `capacity`
 * of them to `tokens` (which may be NULL when capacity is 0) and sets
 * *n_tokens to how many there are. */
DSV32_API dsv32_status dsv32_context_tokens(const dsv32_context* ctx, int32_t* tokens,
                                            size_t capacity, size_t* n_tokens);

/* Writes the context's KV cache (latents, rope keys and, for V3.2, indexer
 * keys) and its token ids to a file: zstd-compressed, with a header naming
 * the model's config, the cache layout and a checksum. Another process with
 * the same model restores it with dsv32_context_load_cache instead of
 * evaluating the tokens again. */
DSV32_API dsv32_status dsv32_context_save_cache(const dsv32_context* ctx, const char* path);

/* Restores a file written by dsv32_context_save_cache into an empty context
 * (fresh or reset); *n_tokens (may be NULL) receives how many tokens it now
 * holds. A file of another model, layout or format version, or a corrupted
 * or truncated one, is an error that leaves the context empty. The logits of
 * the saved evaluation are not stored: evaluate the next token to get some. */
DSV32_API dsv32_status dsv32_context_load_cache(dsv32_context* ctx, const char* path,
                                                int64_t* n_tokens);

/* ---- Sampling ---------------------------------------------------------- */

/* How the next token is chosen. Penalties apply first, then temperature
 * (0 = greedy: always the most likely token), then truncation (top_k,
 * min_p, top_p), then a draw from the request's own random stream. */
typedef struct dsv32_sampling_params {
  size_t struct_size;       /* sizeof(dsv32_sampling_params), set by default_params */
  float temperature;        /* >= 0; 0 = greedy */
  int32_t top_k;            /* 0 = no limit */
  float top_p;              /* (0, 1]; 1 = no nucleus cut */
  float min_p;              /* [0, 1]; drop tokens below min_p x the best one's probability */
  float repetition_penalty; /* > 0; 1 = off; divides (multiplies, if negative) the logits
                               of tokens seen in the prompt or the output */
  float presence_penalty;   /* subtracted once from every token already generated */
  float frequency_penalty;  /* subtracted once per earlier occurrence in the output */
  int64_t seed;             /* >= 0: reproducible draws; < 0: a fresh random seed */
  int32_t top_logprobs;     /* [0, 64]: alternatives reported with each token */
} dsv32_sampling_params;

/* The library's defaults: temperature 1, no truncation, no penalties,
 * seed -1. An engine's defaults (dsv32_engine_sampling_defaults) also take
 * the model directory's generation_config.json into account. */
/* Fills the first `struct_size` bytes of *params with the defaults (no
 * more than the library knows; struct_size then says how many the caller has). */
DSV32_API void dsv32_sampling_params_init(dsv32_sampling_params* params, size_t struct_size);
static inline dsv32_sampling_params dsv32_sampling_default_params(void) {
  dsv32_sampling_params params;
  dsv32_sampling_params_init(&params, sizeof params);
  return params;
}

/* ---- Engine ------------------------------------------------------------ */

/* A serving engine over one model: requests are queued, admitted while the
 * KV-cache budget allows, and run together with continuous batching (each
 * step runs the next token of every running request plus chunks of
 * pending prompts, under a per-step token budget). When the KV budget runs
 * out, the newest request of the compute lane (else the interactive lane)
 * is preempted and later recomputed; its output does not change.
 *
 * Thread-safety: every dsv32_engine_* function except dsv32_engine_free and
 * dsv32_engine_step may be called from any number of threads at once.
 * dsv32_engine_step is for engines created with background = 0 and must not
 * run while another thread frees the engine. Stream callbacks run on the
 * engine's stepping thread, outside its locks: they may call any engine
 * function except dsv32_engine_step and dsv32_engine_free, and should
 * return quickly. */
typedef struct dsv32_engine dsv32_engine;

/* Identifies a request within its engine; never 0. */
typedef uint64_t dsv32_request_id;

typedef enum dsv32_lane {
  DSV32_LANE_INTERACTIVE = 0, /* latency first: admitted and decoded first, small prefill chunks */
  DSV32_LANE_COMPUTE = 1      /* throughput first: big prefill chunks, preempted first */
} dsv32_lane;

/* How a KV cache stores its entries: f32 keeps exactly what the forward
 * computed; bf16 rounds every value; fp8 is DeepSeek's fp8_ds_mla layout
 * (E4M3 latent with one scale per 128 values, bf16 rope key, E4M3 indexer
 * key), about 1.8x smaller than bf16 (docs/kv-cache.md). */
typedef enum dsv32_kv_dtype {
  DSV32_KV_F32 = 0,
  DSV32_KV_BF16 = 1,
  DSV32_KV_FP8 = 2
} dsv32_kv_dtype;

typedef struct dsv32_tokenizer dsv32_tokenizer; /* see Tokenizer below */

typedef struct dsv32_engine_params {
  size_t struct_size;        /* sizeof(dsv32_engine_params), set by default_params */
  int32_t n_threads;         /* 0 = the cores this process may use */
  int32_t background;        /* 1: run steps on the engine's own thread; 0: the caller
                                calls dsv32_engine_step */
  int64_t kv_budget_bytes;   /* KV cache all requests may hold together;
                                0 = max_running x max_context tokens */
  int64_t max_context;       /* tokens per request, prompt included; 0 = the model's limit */
  int32_t max_batch_tokens;  /* tokens per step (decodes plus prefill chunks) */
  int32_t max_running;       /* requests admitted at once */
  int32_t interactive_chunk; /* prefill chunk of the interactive lane */
  int32_t compute_chunk;     /* prefill chunk of the compute lane */
  int32_t kv_dtype;          /* a dsv32_kv_dtype: how every request's cache is stored */
  int32_t page_tokens;       /* tokens per KV page; the budget is counted in whole pages */
  int32_t prefix_cache;      /* 1: keep full pages of earlier requests and reuse them for
                                prompts that start the same way (evicted, least recently
                                used first, before any request is preempted) */
  /* May be NULL. With a tokenizer (kept alive by the engine) every token
   * event carries text, requests may give stop strings, and a request may
   * be a chat request instead of token ids. */
  const dsv32_tokenizer* tokenizer;
  /* Speculative decoding with the model's multi-token-prediction layer
   * (appended last: a struct_size that ends before it reads as 0): each
   * decoding request drafts up to this many tokens per step (1 .. 16) and
   * the model verifies them in the same batched pass, so a step may give
   * it several tokens; the output is distributed as without speculation
   * (greedy: the same tokens). The MTP layer's caches share kv_budget_bytes.
   * Requests with json_schema or regex, and those that start from
   * kv_import_path, decode plainly. 0 = off; DSV32_ERR_UNSUPPORTED from
   * create when the model has no MTP layer. */
  int32_t speculative_tokens;
} dsv32_engine_params;

/* background 1, max_context 4096, max_batch_tokens 512, max_running 64,
 * interactive_chunk 64, compute_chunk 512, kv_dtype f32, page_tokens 64,
 * prefix_cache 1, the rest 0 / NULL (speculative_tokens 0: no speculation). */
/* Fills the first `struct_size` bytes of *params with the defaults (no
 * more than the library knows; struct_size then says how many the caller has). */
DSV32_API void dsv32_engine_params_init(dsv32_engine_params* params, size_t struct_size);
static inline dsv32_engine_params dsv32_engine_default_params(void) {
  dsv32_engine_params params;
  dsv32_engine_params_init(&params, sizeof params);
  return params;
}

/* Creates an engine over `model` (which it keeps alive; the model may be
 * freed first). `params` may be NULL for the defaults. */
DSV32_API dsv32_status dsv32_engine_create(dsv32_model* model, const dsv32_engine_params* params,
                                           dsv32_engine** out);

/* Stops the engine's thread, ends every request without further callbacks
 * and frees everything. No other call on the engine may be in progress. */
DSV32_API void dsv32_engine_free(dsv32_engine* engine);

/* The sampling defaults of this engine's model: dsv32_sampling_default_params
 * overridden by temperature / top_p / top_k from the model directory's
 * generation_config.json, if it has one. */
DSV32_API dsv32_status dsv32_engine_sampling_defaults(const dsv32_engine* engine,
                                                      dsv32_sampling_params* out);

typedef enum dsv32_finish_reason {
  DSV32_FINISH_NONE = 0,         /* still running */
  DSV32_FINISH_STOP_TOKEN = 1,   /* emitted one of the stop tokens (or EOS) */
  DSV32_FINISH_MAX_TOKENS = 2,   /* generated max_tokens tokens */
  DSV32_FINISH_CANCELLED = 3,    /* dsv32_engine_cancel */
  DSV32_FINISH_CONTEXT_FULL = 4, /* reached max_context, or outgrew the whole KV budget */
  DSV32_FINISH_ERROR = 5,        /* the forward pass failed; dsv32_engine_poll then leaves
                                    the message in dsv32_last_error() */
  DSV32_FINISH_STOP_STRING = 6   /* the text reached one of the stop strings */
} dsv32_finish_reason;

typedef struct dsv32_token_logprob {
  int32_t token;
  float logprob;
} dsv32_token_logprob;

/* One streamed token. The last event of a request has finished = 1; it
 * carries a token unless the request ended without one (cancelled, error:
 * token = -1). Pointers are valid only during the callback. */
typedef struct dsv32_token_event {
  size_t struct_size;               /* sizeof(dsv32_token_event) of the library */
  dsv32_request_id request;
  int32_t token;                    /* -1 if this event carries no token */
  float logprob;                    /* of `token` under the model (raw logits' softmax) */
  const dsv32_token_logprob* top;   /* top_logprobs alternatives, most likely first */
  size_t n_top;
  int32_t finished;                 /* 1 on the request's last event */
  dsv32_finish_reason reason;       /* why it finished; DSV32_FINISH_NONE before */
  /* With a tokenizer: the output text this event makes certain, NUL-
   * terminated: whole UTF-8 characters, held back while it could begin a
   * stop string (the stop string itself is never sent), and on the last
   * event whatever was still held. Special tokens are included as their
   * text, so the pieces can go straight into a dsv32_chat_parser, unless
   * the request set skip_special_tokens. Empty ("") without a tokenizer. */
  const char* text;
  size_t text_length;
} dsv32_token_event;

typedef void (*dsv32_stream_fn)(const dsv32_token_event* event, void* user_data);

typedef struct dsv32_request_params {
  size_t struct_size;                    /* sizeof(dsv32_request_params), set by default_params */
  const int32_t* prompt;                 /* prompt token ids; copied by submit */
  size_t n_prompt;
  const dsv32_sampling_params* sampling; /* NULL: dsv32_engine_sampling_defaults */
  int32_t max_tokens;                    /* tokens to generate at most (>= 1) */
  const int32_t* stop_tokens;            /* generation ends after emitting one; copied */
  size_t n_stop_tokens;
  int32_t stop_at_eos;                   /* 1: the model's eos_token_id stops too */
  dsv32_lane lane;
  dsv32_stream_fn on_token;              /* may be NULL (poll instead) */
  void* user_data;                       /* passed to on_token */
  /* Instead of `prompt` (which must then be NULL): a chat request as JSON,
   * the form dsv32_chat_encode takes; the engine encodes it and tokenizes
   * the prompt with its tokenizer. Copied by submit. */
  const char* chat_request;
  /* Generation also ends once the output text contains one of these
   * (non-empty, NUL-terminated; needs an engine with a tokenizer). Copied. */
  const char* const* stop_strings;
  size_t n_stop_strings;
  /* Disaggregated prefill and decode (both may be NULL). kv_export_path: once
   * the prompt is computed, write its KV cache there (the format of
   * dsv32_context_save_cache); a request with max_tokens 1 is a pure
   * prefill. kv_import_path: start from such a file, written by an engine
   * over the same model, instead of computing the prompt; the prompt is the
   * exported one plus the tokens generated since (or just the exported one,
   * whose last token is then evaluated again). A bad, foreign or damaged
   * file ends the request with DSV32_FINISH_ERROR and the reason. */
  const char* kv_export_path;
  const char* kv_import_path;
  /* Constrained decoding (appended last: a struct_size that ends before
   * them reads as NULL here). At most one of json_schema and regex;
   * each is NUL-terminated text, read during submit. Only tokens that keep
   * the output a prefix of a match are drawn, and the stop tokens (EOS
   * included when stop_at_eos) only once the output is a whole match, so a
   * request that ends on one has output that matches; one that reaches
   * max_tokens first may be cut short. See docs/structured-output.md for
   * the supported subset. Errors from submit: DSV32_ERR_UNSUPPORTED for a
   * keyword or regex feature outside it, DSV32_ERR_INVALID_ARGUMENT for
   * malformed or unsatisfiable input (enum: [], minLength > maxLength,
   * ...), no tokenizer, or no stop token; dsv32_last_error() names the
   * problem and, for schemas, its path ("schema.properties.age.multipleOf").
   * A prompt that ends with "<think>" (a chat request's, once encoded)
   * opens the reply with reasoning: json_schema then holds what follows the
   * first "</think>", and the reasoning before it is free. */
  const char* json_schema;                 /* a JSON Schema; {"type":"object"} = JSON mode */
  const char* regex;                       /* a whole-match regular expression */
  const struct dsv32_tokenizer* tokenizer; /* the model's tokenizer, needed with either
                                              (NULL: the engine's, if it has one);
                                              not retained after submit */
  /* Tool calls in DeepSeek-V3.2's DSML markup (appended after the fields
   * above, read as NULL/0 from a shorter struct_size). `tools`: an OpenAI
   * "tools" JSON array; the output must then be a reply that
   * a dsv32_chat_parser reads as calls of these tools, with arguments
   * that are JSON matching each function's "parameters" schema, as
   * `tool_choice` says: "auto" (NULL): free content, then optionally a
   * tool-call block; "required": a block of one or more calls; {"type":
   * "function", "function": {"name": N}}: one call of N; "none": no tool
   * constraint. Parameters come in the schema's declared order (optional
   * ones may be left out); docs/structured-output.md has the rules. The
   * reply opens with free reasoning up to "</think>" when the prompt ends
   * with "<think>". With json_schema too, "auto" content must match the
   * schema (or be empty before a block); regex cannot be combined with
   * tools. A chat_request that has "tools" is constrained this way by its
   * own "tools" and "tool_choice" unless this field is set (which wins) or
   * chat_tools_unconstrained is 1 (the tools are then only shown to the
   * model). Errors from submit as for json_schema; dsv32_last_error()
   * names the tool and property ("tools[0] (get_weather) property
   * \"unit\": ..."). JSON text, read during submit. */
  const char* tools;
  const char* tool_choice;
  int32_t chat_tools_unconstrained;
  /* 1: the streamed text (and stop strings) leave special tokens' text out,
   * as a plain completion shows it (appended after the tool fields). */
  int32_t skip_special_tokens;
} dsv32_request_params;

/* max_tokens 256, stop_at_eos 1, the interactive lane, the rest 0/NULL. */
/* Fills the first `struct_size` bytes of *params with the defaults (no
 * more than the library knows; struct_size then says how many the caller has). */
DSV32_API void dsv32_request_params_init(dsv32_request_params* params, size_t struct_size);
static inline dsv32_request_params dsv32_request_default_params(void) {
  dsv32_request_params params;
  dsv32_request_params_init(&params, sizeof params);
  return params;
}

/* Queues a request. Fails with DSV32_ERR_INVALID_ARGUMENT for an empty
 * prompt or bad parameters, DSV32_ERR_OUT_OF_RANGE for a token id outside
 * the vocabulary or a prompt longer than max_context, and
 * DSV32_ERR_OUT_OF_MEMORY for a prompt that can never fit the KV budget. */
DSV32_API dsv32_status dsv32_engine_submit(dsv32_engine* engine,
                                           const dsv32_request_params* params,
                                           dsv32_request_id* out);

/* Ends a request at the engine's next step (its stream gets a last event
 * with DSV32_FINISH_CANCELLED). Cancelling one that has already ended does
 * nothing; an unknown or released id is DSV32_ERR_NOT_FOUND. */
DSV32_API dsv32_status dsv32_engine_cancel(dsv32_engine* engine, dsv32_request_id id);

typedef enum dsv32_request_state {
  DSV32_REQUEST_QUEUED = 0,  /* waiting for admission (or preempted) */
  DSV32_REQUEST_RUNNING = 1,
  DSV32_REQUEST_FINISHED = 2
} dsv32_request_state;

typedef struct dsv32_request_status {
  size_t struct_size; /* set by the caller to sizeof(dsv32_request_status) */
  dsv32_request_state state;
  dsv32_finish_reason reason;
  int64_t n_prompt;
  int64_t n_generated;
  double queue_seconds; /* submission to admission; -1 until admitted */
  double ttft_seconds;  /* submission to first token; -1 until then */
} dsv32_request_status;

/* Where a request stands; the caller sets status->struct_size first. */
DSV32_API dsv32_status dsv32_engine_poll(const dsv32_engine* engine, dsv32_request_id id,
                                         dsv32_request_status* status);

/* Copies up to `capacity` generated tokens (from the first) to `tokens`
 * and, if `logprobs` is not NULL, their log-probabilities; *n_generated
 * receives how many there are in all (which may exceed capacity). Together
 * with dsv32_engine_wait or dsv32_engine_poll this is the pull-style
 * stream. */
DSV32_API dsv32_status dsv32_engine_tokens(const dsv32_engine* engine, dsv32_request_id id,
                                           int32_t* tokens, float* logprobs, size_t capacity,
                                           size_t* n_generated);

/* Copies the request's output text so far (engines with a tokenizer: the
 * text its token events have carried) like dsv32_tokenizer_decode: at most
 * `capacity` bytes including the terminating NUL (always terminated when
 * capacity > 0); *length (may be NULL) receives the full length. */
DSV32_API dsv32_status dsv32_engine_text(const dsv32_engine* engine, dsv32_request_id id,
                                         char* text, size_t capacity, size_t* length);

/* Blocks until the request has ended or `timeout_ms` milliseconds have
 * passed (< 0: no limit); *finished (may be NULL) says which. A request
 * counts as ended (here and in dsv32_engine_poll) only once its stream
 * callback has returned from the last event, so what the callback writes to
 * may be freed as soon as this says finished. */
DSV32_API dsv32_status dsv32_engine_wait(const dsv32_engine* engine, dsv32_request_id id,
                                         int64_t timeout_ms, int32_t* finished);

/* Forgets a request and its output (cancelling it first if it runs). Every
 * request should be released once its results have been read. */
DSV32_API dsv32_status dsv32_engine_release(dsv32_engine* engine, dsv32_request_id id);

/* Runs one scheduler step on the calling thread (engines created with
 * background = 0); *n_tokens (may be NULL) receives the tokens it ran, 0 when
 * there was nothing to do. DSV32_ERR_INVALID_ARGUMENT on a background
 * engine. */
DSV32_API dsv32_status dsv32_engine_step(dsv32_engine* engine, int64_t* n_tokens);

/* ---- Metrics ----------------------------------------------------------- */

typedef struct dsv32_engine_metrics {
  size_t struct_size; /* set by the caller to sizeof(dsv32_engine_metrics) */
  uint64_t requests_submitted;
  uint64_t requests_finished; /* every request that ended, for any reason */
  uint64_t requests_cancelled;
  uint64_t requests_failed;
  uint64_t requests_running;
  uint64_t requests_queued;
  uint64_t prompt_tokens;    /* prompt tokens run, recomputation after preemption included */
  uint64_t generated_tokens;
  uint64_t preemptions;
  uint64_t steps;
  double busy_seconds;                /* time spent in steps */
  double generated_tokens_per_second; /* generated_tokens / busy_seconds */
  /* Latencies in seconds: mean, and median / 99th percentile over the most
   * recent 4096 samples. TTFT: submission to first token; TPOT: per
   * request, (last token - first token) / (tokens - 1); inter-token: between
   * consecutive tokens of a request; queue: submission to admission. */
  double ttft_mean, ttft_p50, ttft_p99;
  double tpot_mean, tpot_p50, tpot_p99;
  double inter_token_mean, inter_token_p50, inter_token_p99;
  double queue_mean, queue_p50, queue_p99;
  uint64_t last_batch_sequences; /* sequences in the last step */
  uint64_t last_batch_tokens;    /* tokens in the last step */
  double mean_batch_tokens;
  int64_t kv_used_tokens;     /* in the pages running requests hold */
  int64_t kv_capacity_tokens; /* whole pages the KV budget allows */
  int64_t kv_used_bytes;
  double prefix_hit_rate;     /* share of prompt tokens served from the prefix cache */
  int64_t expert_layers;      /* rows of dsv32_engine_expert_counts (num_hidden_layers) */
  int64_t experts;            /* its columns (n_routed_experts) */
  int64_t kv_page_tokens;
  int64_t kv_pages_used;      /* pages taken from the pool, the prefix cache's included */
  int64_t kv_pages_total;
  int64_t prefix_cached_pages;   /* pages the prefix cache holds (some shared with requests) */
  uint64_t prefix_evicted_pages; /* cached pages given back to make room */
  /* Speculative decoding (appended last; zero without it). */
  uint64_t speculative_steps;     /* verify passes, one per request and step */
  uint64_t draft_tokens;          /* tokens the MTP layer drafted and the model judged */
  uint64_t accepted_draft_tokens; /* drafts the model accepted */
  double draft_acceptance_rate;   /* accepted_draft_tokens / draft_tokens */
  int64_t kv_mtp_pages_used;      /* pages of the MTP layer's pool held (as many pages
                                     as the main pool, from the same budget) */
} dsv32_engine_metrics;

/* A snapshot of the engine's metrics; the caller sets struct_size first. */
DSV32_API dsv32_status dsv32_engine_get_metrics(const dsv32_engine* engine,
                                                dsv32_engine_metrics* metrics);

/* Tokens routed to each expert since the engine started, row-major
 * [expert_layers, experts] (dense layers' rows are 0). Copies up to
 * `capacity` counts; *n_counts (may be NULL) receives how many there are. */
DSV32_API dsv32_status dsv32_engine_expert_counts(const dsv32_engine* engine, uint64_t* counts,
                                                  size_t capacity, size_t* n_counts);

/* The metrics in the Prometheus text exposition format (0.0.4), with the
 * per-layer expert counts. Writes at most `capacity` bytes including the
 * terminating NUL (always terminated when capacity > 0); *length (may be
 * NULL) receives the full text's length without the NUL, so a caller can
 * size a buffer with capacity 0 first. */
DSV32_API dsv32_status dsv32_engine_metrics_prometheus(const dsv32_engine* engine, char* buffer,
                                                       size_t capacity, size_t* length);

/* ---- Chat ------------------------------------------------------------- */

/* Turns an OpenAI-style chat request, JSON text
 *   {"messages": [...], "tools": [...], "thinking": true|false,
 *    "reasoning_retention": "drop"|"last"|"all", "drop_thinking": true|false}
 * into DeepSeek-V3.2's prompt text, byte for byte what DeepSeek's reference
 * encoder writes (it starts with the begin-of-sentence marker and ends with
 * "<｜Assistant｜>" plus "<think>" or "</think>"). On success *out is a
 * NUL-terminated UTF-8 string the caller frees with dsv32_string_free, and
 * *length (may be NULL) its length in bytes. A malformed request is
 * DSV32_ERR_INVALID_ARGUMENT with the JSON path of the bad field in
 * dsv32_last_error(). Token ids come from the tokenizer. Thread-safe. */
DSV32_API dsv32_status dsv32_chat_encode(const char* request_json, char** out, size_t* length);

/* Frees a string the library returned; NULL does nothing. */
DSV32_API void dsv32_string_free(char* text);

/* A streaming parser for the model's output text: feed the generated text in
 * pieces of any size (a piece may end inside a marker or a UTF-8 character)
 * and take events as soon as they are certain: reasoning and content deltas,
 * tool calls (name, then the arguments' JSON text in pieces, then the end),
 * errors for malformed output (whose text then follows as content, never
 * dropped) and a last finish event. Use a parser from one thread at a time. */
typedef struct dsv32_chat_parser dsv32_chat_parser;

typedef struct dsv32_chat_parser_params {
  size_t struct_size; /* sizeof(dsv32_chat_parser_params), set by default_params */
  int32_t thinking;   /* 1: the prompt ended with "<think>", so output opens with reasoning */
} dsv32_chat_parser_params;

/* thinking = 0. */
/* Fills the first `struct_size` bytes of *params with the defaults (no
 * more than the library knows; struct_size then says how many the caller has). */
DSV32_API void dsv32_chat_parser_params_init(dsv32_chat_parser_params* params, size_t struct_size);
static inline dsv32_chat_parser_params dsv32_chat_parser_default_params(void) {
  dsv32_chat_parser_params params;
  dsv32_chat_parser_params_init(&params, sizeof params);
  return params;
}

DSV32_API dsv32_status dsv32_chat_parser_create(const dsv32_chat_parser_params* params,
                                                dsv32_chat_parser** out);

DSV32_API void dsv32_chat_parser_free(dsv32_chat_parser* parser);

/* Consumes `length` bytes of generated text; the events they complete queue
 * up in the parser (take them with dsv32_chat_parser_next). */
DSV32_API dsv32_status dsv32_chat_parser_feed(dsv32_chat_parser* parser, const char* text,
                                              size_t length);

/* Ends the stream: flushes held-back text, reports truncation (output that
 * did not end with the end-of-sentence marker) and queues the finish event. */
DSV32_API dsv32_status dsv32_chat_parser_finish(dsv32_chat_parser* parser);

typedef enum dsv32_chat_event_type {
  DSV32_CHAT_REASONING_DELTA = 0,      /* text: more reasoning */
  DSV32_CHAT_CONTENT_DELTA = 1,        /* text: more content */
  DSV32_CHAT_TOOL_CALL_START = 2,      /* tool_index; text: the function name */
  DSV32_CHAT_TOOL_CALL_ARGUMENTS = 3,  /* tool_index; text: more of the arguments' JSON */
  DSV32_CHAT_TOOL_CALL_END = 4,        /* tool_index */
  DSV32_CHAT_ERROR = 5,                /* text: what was wrong; tool_index: abandoned call or -1 */
  DSV32_CHAT_FINISH = 6                /* text: "stop" (end of sentence seen) or "end" */
} dsv32_chat_event_type;

typedef struct dsv32_chat_event {
  size_t struct_size; /* set by the caller to sizeof(dsv32_chat_event) */
  dsv32_chat_event_type type;
  int32_t tool_index; /* which tool call, from 0; -1 where none */
  const char* text;   /* NUL-terminated, valid until the next call on the parser */
  size_t text_length;
} dsv32_chat_event;

/* Takes the oldest queued event: *has_event = 1 and `event` filled, or
 * *has_event = 0 when the queue is empty. The caller sets
 * event->struct_size first. */
DSV32_API dsv32_status dsv32_chat_parser_next(dsv32_chat_parser* parser, dsv32_chat_event* event,
                                              int32_t* has_event);

/* ---- Tokenizer -------------------------------------------------------- */

/* DeepSeek's byte-level BPE tokenizer (tokenizer.json and
 * tokenizer_config.json, as shipped beside the checkpoint); ids match the
 * reference `tokenizers` library. Immutable once loaded: safe to use from
 * several threads at once. */
typedef struct dsv32_tokenizer dsv32_tokenizer;

/* Loads dir/tokenizer.json and dir/tokenizer_config.json. */
DSV32_API dsv32_status dsv32_tokenizer_load(const char* dir, dsv32_tokenizer** out);

DSV32_API void dsv32_tokenizer_free(dsv32_tokenizer* tokenizer);

/* BOS and EOS ids from tokenizer_config.json (-1 where it names none). */
DSV32_API dsv32_status dsv32_tokenizer_special_ids(const dsv32_tokenizer* tokenizer,
                                                   int32_t* bos_id, int32_t* eos_id);

/* Encodes `length` bytes of UTF-8 text. Copies up to `capacity` ids to `ids`;
 * *n_ids receives how many there are in all (so a call with capacity 0 sizes
 * the buffer). add_bos: put BOS in front. parse_special: turn markup such as
 * "<｜User｜>" in the text into its special ids (0 for untrusted user text, so
 * it cannot forge chat markup). Invalid UTF-8 is DSV32_ERR_INVALID_ARGUMENT. */
DSV32_API dsv32_status dsv32_tokenizer_encode(const dsv32_tokenizer* tokenizer, const char* text,
                                              size_t length, int32_t add_bos,
                                              int32_t parse_special, int32_t* ids,
                                              size_t capacity, size_t* n_ids);

/* Decodes ids to UTF-8 text. Writes at most `capacity` bytes including the
 * terminating NUL (always terminated when capacity > 0); *length receives the
 * full text's length without the NUL. skip_special leaves out BOS, EOS and
 * the other special tokens. An unknown id is DSV32_ERR_OUT_OF_RANGE. */
DSV32_API dsv32_status dsv32_tokenizer_decode(const dsv32_tokenizer* tokenizer,
                                              const int32_t* ids, size_t n_ids,
                                              int32_t skip_special, char* text, size_t capacity,
                                              size_t* length);

/* Decodes ids one at a time as they are generated and hands out whole UTF-8
 * characters only (a token may end inside one); the pieces joined equal
 * dsv32_tokenizer_decode of all the ids. It keeps its tokenizer alive. Use
 * one from one thread at a time. */
typedef struct dsv32_token_decoder dsv32_token_decoder;

DSV32_API dsv32_status dsv32_token_decoder_create(dsv32_tokenizer* tokenizer,
                                                  int32_t skip_special,
                                                  dsv32_token_decoder** out);

DSV32_API void dsv32_token_decoder_free(dsv32_token_decoder* decoder);

/* Adds token `id` (or, with id = -1, ends the stream and flushes what is
 * held: an unfinished character becomes U+FFFD). *text receives the text it
 * completes, NUL-terminated, possibly empty, valid until the next call on
 * the decoder; *length (may be NULL) its length. */
DSV32_API dsv32_status dsv32_token_decoder_push(dsv32_token_decoder* decoder, int32_t id,
                                                const char** text, size_t* length);

/* ---- Constrained decoding ---------------------------------------------- */

/* For hosts that sample themselves (over dsv32_context_logits): where an
 * output stands in a JSON Schema or regex, and which tokens may come next.
 * Engine requests take the same constraints through dsv32_request_params.
 * The compiled grammar and its per-state masks are shared by clones; use one
 * constraint from one thread at a time (clones on other threads are fine). */
typedef struct dsv32_constraint dsv32_constraint;

/* Compiles exactly one of json_schema and regex (NUL-terminated; the
 * subset of docs/structured-output.md) against the tokenizer's vocabulary,
 * for logits rows vocab_size wide (the model's; 0 = the tokenizer's id
 * range). end_tokens: the ids that end the output (EOS, stop tokens), at
 * least one; they are allowed only where the output is a whole match.
 * Errors as for dsv32_engine_submit: DSV32_ERR_UNSUPPORTED or
 * DSV32_ERR_INVALID_ARGUMENT with the problem (and schema path) in
 * dsv32_last_error(). The constraint does not keep the tokenizer. */
DSV32_API dsv32_status dsv32_constraint_create(const dsv32_tokenizer* tokenizer, int32_t vocab_size,
                                               const char* json_schema, const char* regex,
                                               const int32_t* end_tokens, size_t n_end_tokens,
                                               dsv32_constraint** out);

/* A copy at the same position, to fork an output (cheap). */
DSV32_API dsv32_status dsv32_constraint_clone(const dsv32_constraint* constraint,
                                              dsv32_constraint** out);

DSV32_API void dsv32_constraint_free(dsv32_constraint* constraint);

/* Sets logits[i] to -INFINITY for every token i that may not come next
 * (ids at or past vocab_size included); the others are left as they are. */
DSV32_API dsv32_status dsv32_constraint_mask_logits(const dsv32_constraint* constraint,
                                                    float* logits, size_t n_logits);

/* Moves past `token`. DSV32_ERR_INVALID_ARGUMENT, with the position
 * unchanged, when the mask would not have allowed it. */
DSV32_API dsv32_status dsv32_constraint_advance(dsv32_constraint* constraint, int32_t token);

/* *complete (may be NULL): the output so far is a whole match, so an end
 * token may come next; *finished (may be NULL): an end token was taken. */
DSV32_API dsv32_status dsv32_constraint_state(const dsv32_constraint* constraint, int32_t* complete,
                                              int32_t* finished);

#ifdef __cplusplus
}
#endif

#endif /* DSV32_DSV32_H_ */
