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

/* ---- Models ------------------------------------------------------------ */

/* A loaded checkpoint: config, weights (mmap'd in their stored dtype).
 * Immutable once loaded and safe to share between threads and contexts; a
 * context keeps its model alive, so the model may be freed first. */
typedef struct dsv32_model dsv32_model;

/* Called during loading with the fraction done in [0, 1]. */
typedef void (*dsv32_progress_fn)(float fraction, void* user_data);

typedef struct dsv32_model_params {
  size_t struct_size; /* sizeof(dsv32_model_params), set by default_params */
  dsv32_progress_fn progress; /* may be NULL */
  void* progress_user_data;
} dsv32_model_params;

DSV32_API dsv32_model_params dsv32_model_default_params(void);

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

DSV32_API dsv32_context_params dsv32_context_default_params(void);

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

#ifdef __cplusplus
}
#endif

#endif /* DSV32_DSV32_H_ */
