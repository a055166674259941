#!/usr/bin/env python3
"""Writes more chat goldens by running DeepSeek's V3.2 reference encoder.

The reference (encoding/encoding_dsv32.py of the DeepSeek-V3.2 release, also
vendored by vLLM) is not part of this repository: pass its path.

    python3 tools/goldens/chat_goldens.py --reference /path/to/encoding_dsv32.py \
        --out tests/chat/data

Writes more_cases.jsonl and more_parse_cases.jsonl in the format of
cases.jsonl / parse_cases.jsonl (see tests/chat/data/README.md).
"""
import argparse
import importlib.util
import json
import os

BOS = "<｜begin▁of▁sentence｜>"
EOS = "<｜end▁of▁sentence｜>"
D = "｜DSML｜"


def tool(name, description, properties, required=()):
    return {"type": "function", "function": {
        "name": name, "description": description,
        "parameters": {"type": "object", "properties": properties, "required": list(required)}}}


def call(name, arguments):
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments, ensure_ascii=False)
    return {"type": "function", "function": {"name": name, "arguments": arguments}}


WEATHER = tool("get_weather", "Current weather for a city",
               {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
               ["city"])
SEARCH = tool("search", "Web search · 搜索",
              {"query": {"type": "string"}, "top_k": {"type": "integer", "minimum": 1}},
              ["query"])
RUN = tool("run_code", "Run a snippet\nand return stdout",
           {"code": {"type": "string"}, "timeout": {"type": "number"},
            "env": {"type": "object", "additionalProperties": {"type": "string"}}}, ["code"])


def conversations():
    """(messages, thinking, drop_thinking) triples."""
    out = []

    def add(messages, thinking=True, drop=True):
        out.append((messages, thinking, drop))

    earlier_dev = [
        {"role": "developer", "content": "Check the build."},
        {"role": "assistant", "content": "Build is green.", "reasoning_content": "ran make"},
        {"role": "user", "content": "And the tests?"},
    ]
    for thinking in (True, False):
        for drop in (True, False):
            add(earlier_dev, thinking, drop)

    odd_args = {
        "small": 1e-05, "big": 1e16, "edge": 1e15, "tenth": 0.1, "neg_zero": -0.0,
        "int": 12345678901234, "uint": 10000000000000000000, "huge": 1.5e300,
        "pi": 3.141592653589793, "whole": 2.0, "t": True, "f": False, "none": None,
        "list": [1, "two", [3.5]], "empty_list": [], "empty_obj": {},
        "text": "tab\there \"quoted\" back\\slash\nnew line \u0001 ctrl é 日本",
        "ключ": "значение",
    }
    for thinking in (True, False):
        add([
            {"role": "system", "content": "You run code.", "tools": [RUN, SEARCH]},
            {"role": "user", "content": "Try all the types"},
            {"role": "assistant", "content": "", "reasoning_content": "Many args.",
             "tool_calls": [call("run_code", odd_args)]},
            {"role": "tool", "content": "ok"},
        ], thinking)
    add([
        {"role": "user", "content": "order"},
        {"role": "assistant", "content": "x", "reasoning_content": "r",
         "tool_calls": [call("f", '{"b": 1, "a": 2, "b": 3}'), call("g", "{}"),
                        call("h", '  {"nested": {"z": [], "a": {"k": null}}}  ')]},
        {"role": "tool", "content": "1"}, {"role": "tool", "content": "2"},
        {"role": "tool", "content": "3"},
    ])

    # Tool use over two user turns: the earlier results close with </think>.
    two_turns = [
        {"role": "system", "content": "", "tools": [WEATHER]},
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": "", "reasoning_content": "call it",
         "tool_calls": [call("get_weather", {"city": "Oslo"})]},
        {"role": "tool", "content": "{\"temp\": -3}"},
        {"role": "assistant", "content": "-3°C.", "reasoning_content": "report"},
        {"role": "user", "content": "And in Bergen?"},
        {"role": "assistant", "content": "Checking.", "reasoning_content": "again",
         "tool_calls": [call("get_weather", {"city": "Bergen", "unit": "c"})]},
        {"role": "tool", "content": "{\"temp\": 4}"},
    ]
    for thinking in (True, False):
        for drop in (True, False):
            add(two_turns, thinking, drop)
    add(two_turns + [{"role": "assistant", "content": "4°C.", "reasoning_content": "done"}])

    # Fewer results than calls, then the user moves on.
    add([
        {"role": "user", "content": "two calls"},
        {"role": "assistant", "content": "", "reasoning_content": "r",
         "tool_calls": [call("a", {"x": 1}), call("b", {"y": 2})]},
        {"role": "tool", "content": "only one"},
        {"role": "user", "content": "never mind"},
    ])

    for thinking in (True, False):
        add([
            {"role": "system", "content": "Reply in JSON.",
             "response_format": {"type": "json_schema", "json_schema": {
                 "name": "answer", "schema": {"type": "object", "properties": {
                     "ok": {"type": "boolean"}}}}}},
            {"role": "user", "content": "Is it?"},
        ], thinking)
    add([{"role": "system", "content": "S", "response_format": {}, "tools": []},
         {"role": "user", "content": "u"}])
    add([{"role": "developer", "content": "Use the tools.", "tools": [SEARCH, WEATHER]}])
    add([{"role": "developer", "content": "Use the tools.", "tools": [SEARCH],
          "response_format": {"type": "json_object"}},
         {"role": "assistant", "content": "", "reasoning_content": "search",
          "tool_calls": [call("search", {"query": "q", "top_k": 2})]},
         {"role": "tool", "content": "r1"}], thinking=False)

    for thinking in (True, False):
        add([{"role": "user", "content": ""}], thinking)
        add([{"role": "user", "content": "literal <think> and </think> and " + EOS + " text"}],
            thinking)
        add([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}], thinking)
        add([{"role": "user", "content": "carriage\r\nreturn\ttab  spaces  "}], thinking)
        add([{"role": "system", "content": "first"}, {"role": "user", "content": "u"},
             {"role": "system", "content": "late system"}, {"role": "user", "content": "v"}],
            thinking)
    add([{"role": "user", "content": "prefill"},
         {"role": "assistant", "content": "done", "reasoning_content": "full turn"}])
    add([{"role": "user", "content": "prefill"},
         {"role": "assistant", "content": "no reasoning needed in chat mode"}], thinking=False)
    add([{"role": "user", "content": "u"},
         {"role": "assistant", "content": "c", "reasoning_content": "",
          "tool_calls": [call("f", {})]}])
    add([{"role": "system", "content": "only a system prompt"}])
    add([])

    # The reference refuses these.
    add([{"role": "user", "content": "x"}, {"role": "tool", "content": "y"}])
    add([{"role": "user", "content": "x"},
         {"role": "assistant", "content": "", "tool_calls": [call("f", {})]},
         {"role": "tool", "content": "1"}, {"role": "tool", "content": "2"}])
    add([{"role": "developer", "content": ""}])
    add([{"role": "user", "content": "x"},
         {"role": "assistant", "content": "y", "reasoning_content": "", "tool_calls": []}])
    add([{"role": "user", "content": "x"},
         {"role": "assistant", "content": "", "tool_calls": [call("f", "{bad json")]}])
    add([{"role": "user", "content": "x"},
         {"role": "assistant", "content": "", "tool_calls": [call("f", "[1, 2]")]}])
    add([{"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"arguments": "{}"}}]}], thinking=False)
    return out


def completions():
    """(text, thinking) pairs."""
    def block(*invokes):
        return f"\n\n<{D}function_calls>\n" + "\n".join(invokes) + f"\n</{D}function_calls>"

    def invoke(name, *params, header_ws=""):
        return (f'<{D}invoke{header_ws} name="{name}">\n' + "\n".join(params) +
                f"\n</{D}invoke>")

    def param(name, value, string=True, close="<"):
        return (f'<{D}parameter name="{name}" string="{"true" if string else "false"}">'
                f"{value}{close}/{D}parameter>")

    out = [
        ("plain reply" + EOS, False),
        ("</think>empty reasoning" + EOS, True),
        ("multi\nline\n\nreasoning</think>and content" + EOS, True),
        ("reason</think>Calling." + block(invoke("f", param("a", "1"))) + EOS, True),
        (block(invoke("noargs")) + EOS, False),
        (block(invoke("ws", param("x", "y"), header_ws=" \n\t")) + EOS, False),
        (block(invoke("nl", param("v", "[1, 2]", string=False, close="<\n"))) + EOS, False),
        (block(invoke("raw", param("v", "not json at all", string=False))) + EOS, False),
        (block(invoke("esc", param("s", 'quote " backslash \\ nl \n tab \t ctrl \x01 é 😀'))) + EOS,
         False),
        (block(invoke("quote", '<' + D + 'parameter name="a"b" string="true">v</' + D +
                      'parameter>')) + EOS, False),
        (block(invoke("工具", param("参数", "值"), param("n", "-1.5e-07", string=False))) + EOS,
         False),
        (block(invoke("a", param("x", "1")), invoke("b"), invoke("c", param("y", "{}", False)))
         + EOS, False),
        (block(invoke("f", param("a", "1"))), False),
        ("lead" + block(invoke("f")) + "tail" + EOS, False),
        (block(invoke("f")) + block(invoke("g")) + EOS, False),
        ("a" + BOS + "b" + EOS, False),
        ("thinking with\n\n<" + D + "function_calls> inside</think>x" + EOS, True),
        ("\n\n<" + D + "function_callsX" + EOS, False),
        (block(invoke("f", param("a", "1"), param("a", "2"))) + EOS, False),
        (block('<' + D + 'invoke nam="f">\n</' + D + 'invoke>') + EOS, False),
        ("no end of sentence</think>", True),
        ("", False),
    ]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reference", required=True, help="path to encoding_dsv32.py")
    ap.add_argument("--out", default="tests/chat/data")
    args = ap.parse_args()
    spec = importlib.util.spec_from_file_location("encoding_dsv32", args.reference)
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)

    with open(os.path.join(args.out, "more_cases.jsonl"), "w", encoding="utf-8") as f:
        for messages, thinking, drop in conversations():
            row = {"messages": messages, "thinking": thinking, "drop_thinking": drop}
            try:
                row["prompt"] = ref.encode_messages(
                    json.loads(json.dumps(messages)), "thinking" if thinking else "chat",
                    drop_thinking=drop)
            except Exception as e:  # the reference's refusals are goldens too
                row["error"] = f"{type(e).__name__}: {e}"
            f.write(json.dumps(row, ensure_ascii=False) + "\n")

    with open(os.path.join(args.out, "more_parse_cases.jsonl"), "w", encoding="utf-8") as f:
        for text, thinking in completions():
            row = {"text": text, "thinking": thinking}
            try:
                m = ref.parse_message_from_completion_text(
                    text, "thinking" if thinking else "chat")
                row["message"] = {k: m[k] for k in ("content", "reasoning_content", "tool_calls")}
            except Exception as e:
                row["error"] = str(e)
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
