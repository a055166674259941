#!/usr/bin/python3
"""Streams a chat completion from libdsv32 with nothing but the standard library.

Usage: stream_completion.py --lib path/to/libdsv32.so --model MODEL_DIR
           [--tokenizer DIR] [--thinking] [--max-tokens N] MESSAGE

The engine encodes the chat request as DeepSeek-V3.2's prompt, tokenizes it
and streams the output as text; the chat parser splits that text into
reasoning, content and tool calls as it arrives.

The structs below mirror include/dsv32/dsv32.h. Each starts with its own
size, so a binding may declare only the leading fields it uses (as the
metrics struct here does): the library reads and fills no more than that.
Defaults come from the *_params_init functions, given the struct's size.
"""
import argparse
import ctypes as C
import json
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
                ("interactive_chunk", C.c_int32), ("compute_chunk", C.c_int32),
                ("kv_dtype", C.c_int), ("page_tokens", C.c_int32), ("prefix_cache", C.c_int32),
                ("tokenizer", C.c_void_p)]


class TokenLogprob(C.Structure):
    _fields_ = [("token", C.c_int32), ("logprob", C.c_float)]


class TokenEvent(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("request", C.c_uint64), ("token", C.c_int32),
                ("logprob", C.c_float), ("top", C.POINTER(TokenLogprob)), ("n_top", C.c_size_t),
                ("finished", C.c_int32), ("reason", C.c_int), ("text", C.c_char_p),
                ("text_length", C.c_size_t)]


StreamFn = C.CFUNCTYPE(None, C.POINTER(TokenEvent), C.c_void_p)


class RequestParams(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("prompt", C.POINTER(C.c_int32)),
                ("n_prompt", C.c_size_t), ("sampling", C.POINTER(SamplingParams)),
                ("max_tokens", C.c_int32), ("stop_tokens", C.POINTER(C.c_int32)),
                ("n_stop_tokens", C.c_size_t), ("stop_at_eos", C.c_int32), ("lane", C.c_int),
                ("on_token", StreamFn), ("user_data", C.c_void_p),
                ("chat_request", C.c_char_p), ("stop_strings", C.POINTER(C.c_char_p)),
                ("n_stop_strings", C.c_size_t), ("kv_export_path", C.c_char_p),
                ("kv_import_path", C.c_char_p),
                ("json_schema", C.c_char_p), ("regex", C.c_char_p), ("tokenizer", C.c_void_p)]


class ChatParserParams(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("thinking", C.c_int32)]


class ChatEvent(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("type", C.c_int), ("tool_index", C.c_int32),
                ("text", C.c_char_p), ("text_length", C.c_size_t)]


REASONING, CONTENT, TOOL_START, TOOL_ARGUMENTS, TOOL_END, ERROR, FINISH = range(7)


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
    lib.dsv32_tokenizer_load.argtypes = [C.c_char_p, C.POINTER(C.c_void_p)]
    lib.dsv32_tokenizer_free.argtypes = [C.c_void_p]
    lib.dsv32_engine_params_init.argtypes = [C.POINTER(EngineParams), C.c_size_t]
    lib.dsv32_engine_create.argtypes = [C.c_void_p, C.POINTER(EngineParams), C.POINTER(C.c_void_p)]
    lib.dsv32_engine_free.argtypes = [C.c_void_p]
    lib.dsv32_engine_sampling_defaults.argtypes = [C.c_void_p, C.POINTER(SamplingParams)]
    lib.dsv32_request_params_init.argtypes = [C.POINTER(RequestParams), C.c_size_t]
    lib.dsv32_engine_submit.argtypes = [C.c_void_p, C.POINTER(RequestParams), C.POINTER(C.c_uint64)]
    lib.dsv32_engine_wait.argtypes = [C.c_void_p, C.c_uint64, C.c_int64, C.POINTER(C.c_int32)]
    lib.dsv32_engine_release.argtypes = [C.c_void_p, C.c_uint64]
    lib.dsv32_engine_get_metrics.argtypes = [C.c_void_p, C.POINTER(MetricsHead)]
    lib.dsv32_chat_parser_params_init.argtypes = [C.POINTER(ChatParserParams), C.c_size_t]
    lib.dsv32_chat_parser_create.argtypes = [C.POINTER(ChatParserParams), C.POINTER(C.c_void_p)]
    lib.dsv32_chat_parser_free.argtypes = [C.c_void_p]
    lib.dsv32_chat_parser_feed.argtypes = [C.c_void_p, C.c_char_p, C.c_size_t]
    lib.dsv32_chat_parser_finish.argtypes = [C.c_void_p]
    lib.dsv32_chat_parser_next.argtypes = [C.c_void_p, C.POINTER(ChatEvent),
                                           C.POINTER(C.c_int32)]
    return lib


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lib", required=True, help="path to libdsv32.so")
    parser.add_argument("--model", required=True, help="model directory")
    parser.add_argument("--tokenizer", help="tokenizer directory (default: the model's)")
    parser.add_argument("--thinking", action="store_true", help="thinking mode")
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("message", nargs="?", default="Hello! Who are you?")
    args = parser.parse_args()

    lib = bind(args.lib)

    def check(status, what):
        if status != 0:
            sys.exit(f"{what}: {lib.dsv32_last_error().decode()}")

    model = C.c_void_p()
    check(lib.dsv32_model_load(args.model.encode(), None, C.byref(model)), "load")
    tokenizer = C.c_void_p()
    check(lib.dsv32_tokenizer_load((args.tokenizer or args.model).encode(), C.byref(tokenizer)),
          "tokenizer")
    params = EngineParams()
    lib.dsv32_engine_params_init(C.byref(params), C.sizeof(params))
    params.max_context = 512
    params.tokenizer = tokenizer
    engine = C.c_void_p()
    check(lib.dsv32_engine_create(model, C.byref(params), C.byref(engine)), "engine")
    lib.dsv32_model_free(model)  # the engine keeps both alive
    lib.dsv32_tokenizer_free(tokenizer)

    sampling = SamplingParams(struct_size=C.sizeof(SamplingParams))
    check(lib.dsv32_engine_sampling_defaults(engine, C.byref(sampling)), "defaults")
    sampling.seed = 7

    chat_params = ChatParserParams()
    lib.dsv32_chat_parser_params_init(C.byref(chat_params), C.sizeof(chat_params))
    chat_params.thinking = 1 if args.thinking else 0
    chat = C.c_void_p()
    check(lib.dsv32_chat_parser_create(C.byref(chat_params), C.byref(chat)), "chat parser")
    message = {"reasoning": "", "content": "", "tool_calls": [], "errors": []}
    shown = [None]  # which part the terminal is printing

    def drain():
        event = ChatEvent(struct_size=C.sizeof(ChatEvent))
        has = C.c_int32()
        while lib.dsv32_chat_parser_next(chat, C.byref(event), C.byref(has)) == 0 and has.value:
            text = C.string_at(event.text, event.text_length).decode()
            part = {REASONING: "reasoning", CONTENT: "content"}.get(event.type)
            if part:
                if shown[0] != part:
                    print(f"\n[{part}] ", end="")
                    shown[0] = part
                print(text, end="", flush=True)
                message[part] += text
            elif event.type == TOOL_START:
                message["tool_calls"].append({"name": text, "arguments": ""})
            elif event.type == TOOL_ARGUMENTS:
                message["tool_calls"][event.tool_index]["arguments"] += text
            elif event.type == ERROR:
                message["errors"].append(text)

    tokens = [0]

    def on_token(event_ptr, _user_data):
        # Runs on the engine's thread; ctypes takes the GIL for it.
        event = event_ptr.contents
        if event.token >= 0:
            tokens[0] += 1
        check(lib.dsv32_chat_parser_feed(chat, event.text, event.text_length), "parse")
        drain()
        if event.finished:
            check(lib.dsv32_chat_parser_finish(chat), "parse")
            drain()
            message["finish_reason"] = event.reason

    callback = StreamFn(on_token)  # must outlive the request
    chat_request = {"messages": [{"role": "user", "content": args.message}],
                    "thinking": args.thinking}
    request = RequestParams()
    lib.dsv32_request_params_init(C.byref(request), C.sizeof(request))
    request.chat_request = json.dumps(chat_request).encode()
    request.sampling = C.pointer(sampling)
    request.max_tokens = args.max_tokens
    request.on_token = callback
    request_id = C.c_uint64()
    start = time.monotonic()
    check(lib.dsv32_engine_submit(engine, C.byref(request), C.byref(request_id)), "submit")
    finished = C.c_int32()
    check(lib.dsv32_engine_wait(engine, request_id, -1, C.byref(finished)), "wait")
    elapsed = time.monotonic() - start

    metrics = MetricsHead(struct_size=C.sizeof(MetricsHead))
    check(lib.dsv32_engine_get_metrics(engine, C.byref(metrics)), "metrics")
    print(f"\n{tokens[0]} tokens in {elapsed:.2f} s, "
          f"time to first token {metrics.ttft_mean:.3f} s, libdsv32 {lib.dsv32_version().decode()}")
    print(json.dumps(message, ensure_ascii=False))
    lib.dsv32_engine_release(engine, request_id)
    lib.dsv32_engine_free(engine)
    lib.dsv32_chat_parser_free(chat)
    if tokens[0] == 0 or metrics.generated_tokens != tokens[0] or "finish_reason" not in message:
        sys.exit("the stream did not deliver every token")


if __name__ == "__main__":
    main()
