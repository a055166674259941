#!/usr/bin/python3
"""Streams a completion from libdsv32 with nothing but the standard library.

Usage: stream_completion.py --lib path/to/libdsv32.so --model MODEL_DIR [TOKEN_ID ...]

The structs below mirror include/dsv32/dsv32.h. Each starts with its own
size, so a binding may declare only the leading fields it uses (as the
metrics struct here does) and the library fills no more than that.
"""
import argparse
import ctypes as C
import sys
import time


class SamplingParams(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("temperature", C.c_float), ("top_k", C.c_int32),
                ("top_p", C.c_float), ("min_p", C.c_float), ("repetition_penalty", C.c_float),
                ("presence_penalty", C.c_float), ("frequency_penalty", C.c_float),
                ("seed", C.c_int64), ("top_logprobs", C.c_int32)]


class EngineParams(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("n_threads", C.c_int32), ("background", C.c_int32),
                ("kv_budget_bytes", C.c_int64), ("max_context", C.c_int64),
                ("max_batch_tokens", C.c_int32), ("max_running", C.c_int32),
                ("interactive_chunk", C.c_int32), ("compute_chunk", C.c_int32)]


class TokenLogprob(C.Structure):
    _fields_ = [("token", C.c_int32), ("logprob", C.c_float)]


class TokenEvent(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("request", C.c_uint64), ("token", C.c_int32),
                ("logprob", C.c_float), ("top", C.POINTER(TokenLogprob)), ("n_top", C.c_size_t),
                ("finished", C.c_int32), ("reason", C.c_int)]


StreamFn = C.CFUNCTYPE(None, C.POINTER(TokenEvent), C.c_void_p)


class RequestParams(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("prompt", C.POINTER(C.c_int32)),
                ("n_prompt", C.c_size_t), ("sampling", C.POINTER(SamplingParams)),
                ("max_tokens", C.c_int32), ("stop_tokens", C.POINTER(C.c_int32)),
                ("n_stop_tokens", C.c_size_t), ("stop_at_eos", C.c_int32), ("lane", C.c_int),
                ("on_token", StreamFn), ("user_data", C.c_void_p),
                ("json_schema", C.c_char_p), ("regex", C.c_char_p), ("tokenizer", C.c_void_p)]


class MetricsHead(C.Structure):
    """The first fields of dsv32_engine_metrics only."""
    _fields_ = [("struct_size", C.c_size_t), ("requests_submitted", C.c_uint64),
                ("requests_finished", C.c_uint64), ("requests_cancelled", C.c_uint64),
                ("requests_failed", C.c_uint64), ("requests_running", C.c_uint64),
                ("requests_queued", C.c_uint64), ("prompt_tokens", C.c_uint64),
                ("generated_tokens", C.c_uint64), ("preemptions", C.c_uint64),
                ("steps", C.c_uint64), ("busy_seconds", C.c_double),
                ("generated_tokens_per_second", C.c_double), ("ttft_mean", C.c_double)]


def bind(path):
    lib = C.CDLL(path)
    lib.dsv32_last_error.restype = C.c_char_p
    lib.dsv32_version.restype = C.c_char_p
    lib.dsv32_model_load.argtypes = [C.c_char_p, C.c_void_p, C.POINTER(C.c_void_p)]
    lib.dsv32_model_free.argtypes = [C.c_void_p]
    lib.dsv32_engine_default_params.restype = EngineParams
    lib.dsv32_engine_create.argtypes = [C.c_void_p, C.POINTER(EngineParams), C.POINTER(C.c_void_p)]
    lib.dsv32_engine_free.argtypes = [C.c_void_p]
    lib.dsv32_engine_sampling_defaults.argtypes = [C.c_void_p, C.POINTER(SamplingParams)]
    lib.dsv32_request_default_params.restype = RequestParams
    lib.dsv32_engine_submit.argtypes = [C.c_void_p, C.POINTER(RequestParams), C.POINTER(C.c_uint64)]
    lib.dsv32_engine_wait.argtypes = [C.c_void_p, C.c_uint64, C.c_int64, C.POINTER(C.c_int32)]
    lib.dsv32_engine_release.argtypes = [C.c_void_p, C.c_uint64]
    lib.dsv32_engine_get_metrics.argtypes = [C.c_void_p, C.POINTER(MetricsHead)]
    lib.dsv32_engine_metrics_prometheus.argtypes = [C.c_void_p, C.c_char_p, C.c_size_t,
                                                    C.POINTER(C.c_size_t)]
    return lib


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lib", required=True, help="path to libdsv32.so")
    parser.add_argument("--model", required=True, help="model directory")
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("prompt", nargs="*", type=int, default=[0, 1000, 2000, 300])
    args = parser.parse_args()

    lib = bind(args.lib)

    def check(status, what):
        if status != 0:
            sys.exit(f"{what}: {lib.dsv32_last_error().decode()}")

    model = C.c_void_p()
    check(lib.dsv32_model_load(args.model.encode(), None, C.byref(model)), "load")
    params = lib.dsv32_engine_default_params()
    params.max_context = 512
    engine = C.c_void_p()
    check(lib.dsv32_engine_create(model, C.byref(params), C.byref(engine)), "engine")
    lib.dsv32_model_free(model)

    sampling = SamplingParams(struct_size=C.sizeof(SamplingParams))
    check(lib.dsv32_engine_sampling_defaults(engine, C.byref(sampling)), "defaults")
    sampling.seed = 7
    sampling.top_logprobs = 1

    streamed = []

    def on_token(event_ptr, _user_data):
        # Runs on the engine's thread; ctypes takes the GIL for it.
        event = event_ptr.contents
        if event.token >= 0:
            streamed.append(event.token)
            print(event.token, end=" ", flush=True)
        if event.finished:
            print(f"\n[finished: reason {event.reason}]", flush=True)

    callback = StreamFn(on_token)  # must outlive the request
    prompt = (C.c_int32 * len(args.prompt))(*args.prompt)
    request = lib.dsv32_request_default_params()
    request.prompt = prompt
    request.n_prompt = len(args.prompt)
    request.sampling = C.pointer(sampling)
    request.max_tokens = args.max_tokens
    request.stop_at_eos = 0
    request.on_token = callback
    request_id = C.c_uint64()
    start = time.monotonic()
    check(lib.dsv32_engine_submit(engine, C.byref(request), C.byref(request_id)), "submit")
    finished = C.c_int32()
    check(lib.dsv32_engine_wait(engine, request_id, -1, C.byref(finished)), "wait")
    elapsed = time.monotonic() - start

    metrics = MetricsHead(struct_size=C.sizeof(MetricsHead))
    check(lib.dsv32_engine_get_metrics(engine, C.byref(metrics)), "metrics")
    print(f"{len(streamed)} tokens in {elapsed:.2f} s, "
          f"time to first token {metrics.ttft_mean:.3f} s, libdsv32 {lib.dsv32_version().decode()}")
    length = C.c_size_t()
    check(lib.dsv32_engine_metrics_prometheus(engine, None, 0, C.byref(length)), "prometheus")
    text = C.create_string_buffer(length.value + 1)
    check(lib.dsv32_engine_metrics_prometheus(engine, text, len(text), None), "prometheus")
    generated = [line for line in text.value.decode().splitlines()
                 if line.startswith("dsv32_generated_tokens_total")]
    print(generated[0])
    lib.dsv32_engine_release(engine, request_id)
    lib.dsv32_engine_free(engine)
    if len(streamed) != args.max_tokens or metrics.generated_tokens != args.max_tokens:
        sys.exit("the stream did not deliver every token")


if __name__ == "__main__":
    main()
