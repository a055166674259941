#!/usr/bin/env bash
# dsv32-server end to end with curl, on a random-weight model: every
# endpoint, streaming and not, the error replies (400 / 404 / 413 / 429) and
# the cancellation of requests whose client disconnects.
# Usage: curl_test.sh SERVER_BIN MODEL_DIR TOKENIZER_DIR WORK_DIR
set -euo pipefail
server_bin="$1" model="$2" tokenizer="$3" work="$4"
source "$(dirname "$0")/server_common.sh"
rm -rf "$work" && mkdir -p "$work"
cd "$work"

# A bad option value is refused before anything loads.
if "$server_bin" --model "$model" --port 0 --activations fp16 > bad_option.log 2>&1; then
  fail "--activations fp16 was accepted"
fi
grep -q -- "--activations" bad_option.log || fail "no message about --activations: $(cat bad_option.log)"
echo "ok: bad --activations refused"

# The fast mode (bf16 activations), with the weights read in at start,
# serves every endpoint below.
start_server server.log "$server_bin" --model "$model" --tokenizer "$tokenizer" \
  --served-model-name tiny --threads 2 --max-concurrency 1 --max-body-bytes 65536 \
  --activations bf16 --populate

# Requests sample greedily or with top_k: sampling from the whole vocabulary
# sorts all of it each token, which a sanitized build makes slow.

# check NAME FILE EXPR: EXPR is Python over d, the JSON in FILE.
check() {
  python3 - "$2" "$3" <<'PY' || fail "$1: $(head -c 2000 "$2")"
import json, sys
d = json.load(open(sys.argv[1]))
if not eval("(" + sys.argv[2] + ")"):
    sys.exit(1)
PY
  echo "ok: $1"
}

# post NAME PATH BODY EXPECTED_STATUS: the reply lands in NAME.json.
post() {
  local status
  status="$(curl -sS --max-time 120 -o "$1.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    -d "$3" "$BASE$2")"
  [[ "$status" == "$4" ]] || fail "$1: status $status, expected $4: $(head -c 2000 "$1.json")"
}

metric() {
  curl -sS --max-time 10 "$BASE/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}

curl -sS --max-time 10 -o health.json "$BASE/health"
check health health.json 'd == {"status": "ok"}'
curl -sS --max-time 10 -o models.json "$BASE/v1/models"
check models models.json 'd["object"] == "list" and d["data"][0]["id"] == "tiny"'

chat='{"model": "tiny", "messages": [{"role": "user", "content": "Hello"}],
       "max_tokens": 6, "temperature": 1, "top_k": 20, "seed": 7, "ignore_eos": true}'
post chat /v1/chat/completions "$chat" 200
check chat chat.json 'd["object"] == "chat.completion" and d["choices"][0]["message"]["role"] == "assistant"
  and d["choices"][0]["finish_reason"] == "length" and d["usage"]["completion_tokens"] == 6
  and d["usage"]["prompt_tokens"] > 0 and "reasoning_content" not in d["choices"][0]["message"]'
post chat_again /v1/chat/completions "$chat" 200
python3 -c 'import json,sys; a,b=(json.load(open(f))["choices"][0]["message"]["content"] for f in sys.argv[1:]); sys.exit(a != b)' \
  chat.json chat_again.json || fail "the same seed gave different text"
echo "ok: seeded sampling is reproducible"

post thinking /v1/chat/completions '{"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4, "temperature": 0,
  "chat_template_kwargs": {"thinking": true}, "logprobs": true, "top_logprobs": 2, "ignore_eos": true}' 200
check thinking thinking.json '"reasoning_content" in d["choices"][0]["message"]
  and len(d["choices"][0]["logprobs"]["content"]) == 4
  and len(d["choices"][0]["logprobs"]["content"][0]["top_logprobs"]) == 2'

post tools /v1/chat/completions '{"messages": [{"role": "user", "content": "Weather in Paris?"}],
  "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}}],
  "response_format": {"type": "json_object"}, "max_tokens": 3, "temperature": 0}' 200
check tools tools.json 'd["choices"][0]["finish_reason"] in ("length", "stop", "tool_calls")'

# tool_choice "required" or a named function holds the reply to calls in
# DSML markup, so even a random model's arguments parse and match the
# schema (bounded values keep its replies short).
mode_tools='[{"type": "function", "function": {"name": "set_mode", "parameters": {"type": "object",
  "properties": {"mode": {"type": "string", "enum": ["fast", "slow"]},
    "level": {"type": "integer", "minimum": 0, "maximum": 9}}, "required": ["mode", "level"]}}},
  {"type": "function", "function": {"name": "stop"}}]'
post tool_named /v1/chat/completions '{"messages": [{"role": "user", "content": "Go fast"}],
  "tools": '"$mode_tools"', "tool_choice": {"type": "function", "function": {"name": "set_mode"}},
  "max_tokens": 300, "temperature": 0}' 200
check tool_named tool_named.json 'd["choices"][0]["finish_reason"] == "tool_calls"
  and len(d["choices"][0]["message"]["tool_calls"]) == 1
  and d["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "set_mode"
  and json.loads(d["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"])["mode"] in ("fast", "slow")
  and 0 <= json.loads(d["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"])["level"] <= 9'
post tool_required /v1/chat/completions '{"messages": [{"role": "user", "content": "Do it"}],
  "tools": '"$mode_tools"', "tool_choice": "required", "max_tokens": 600, "temperature": 1,
  "top_k": 20, "seed": 5}' 200
check tool_required tool_required.json 'd["choices"][0]["finish_reason"] == "tool_calls"
  and d["choices"][0]["message"]["content"] is None
  and all(isinstance(json.loads(c["function"]["arguments"]), dict)
          for c in d["choices"][0]["message"]["tool_calls"])'
post tool_unknown /v1/chat/completions '{"messages": [{"role": "user", "content": "x"}],
  "tools": '"$mode_tools"', "tool_choice": {"type": "function", "function": {"name": "fly"}}}' 400
check tool_unknown tool_unknown.json 'd["error"]["param"] == "tool_choice"'
post tool_unsupported /v1/chat/completions '{"messages": [{"role": "user", "content": "x"}],
  "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object",
    "properties": {"n": {"type": "number", "multipleOf": 3}}}}}], "tool_choice": "required"}' 400
check tool_unsupported tool_unsupported.json 'd["error"]["param"] == "tools"
  and "tools[0] (f) property \"n\"" in d["error"]["message"]'

# Without thinking or tools the reply is held to the response format's
# schema, so even a random model's content parses and validates.
post structured /v1/chat/completions '{"messages": [{"role": "user", "content": "Answer in JSON"}],
  "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "schema":
    {"type": "object", "properties": {"ok": {"type": "boolean"}, "n": {"type": "integer",
     "minimum": 0, "maximum": 9}}, "required": ["ok", "n"]}}},
  "max_tokens": 40, "temperature": 1, "top_k": 20, "seed": 3}' 200
check structured structured.json 'd["choices"][0]["finish_reason"] == "stop"
  and isinstance(json.loads(d["choices"][0]["message"]["content"])["ok"], bool)
  and 0 <= json.loads(d["choices"][0]["message"]["content"])["n"] <= 9'
post unsupported_schema /v1/chat/completions '{"messages": [{"role": "user", "content": "x"}],
  "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema":
    {"type": "number", "multipleOf": 3}}}, "max_tokens": 4}' 400
check unsupported_schema unsupported_schema.json 'd["error"]["param"] == "response_format"
  and "multipleOf" in d["error"]["message"]'

curl -sS -N --max-time 120 -o stream.txt -H 'Content-Type: application/json' -d '{"messages":
  [{"role": "user", "content": "Hello"}], "max_tokens": 5, "temperature": 0, "stream": true, "ignore_eos": true,
  "stream_options": {"include_usage": true}}' "$BASE/v1/chat/completions"
python3 - stream.txt <<'PY' || fail "chat stream: $(head -c 3000 stream.txt)"
import json, sys
events = [l for l in open(sys.argv[1]).read().split("\n\n") if l]
assert all(e.startswith("data: ") for e in events), events
assert events[-1] == "data: [DONE]", events[-1]
chunks = [json.loads(e[6:]) for e in events[:-1]]
assert all(c["object"] == "chat.completion.chunk" for c in chunks)
assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
finals = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
assert len(finals) == 1 and finals[0]["choices"][0]["finish_reason"] == "length", finals
assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 5
PY
echo "ok: chat stream"

post completion /v1/completions '{"model": "tiny", "prompt": "The sky is", "max_tokens": 5, "temperature": 0,
  "ignore_eos": true, "logprobs": 1}' 200
check completion completion.json 'd["object"] == "text_completion" and d["usage"]["completion_tokens"] == 5
  and d["choices"][0]["finish_reason"] == "length" and len(d["choices"][0]["logprobs"]["tokens"]) == 5'
post completion_ids /v1/completions '{"prompt": [0, 100, 200, 300], "max_tokens": 3, "temperature": 0, "ignore_eos": true}' 200
check completion_ids completion_ids.json 'd["usage"]["prompt_tokens"] == 4 and d["usage"]["completion_tokens"] == 3'
curl -sS -N --max-time 120 -o completion_stream.txt -H 'Content-Type: application/json' \
  -d '{"prompt": "Once", "max_tokens": 4, "temperature": 0, "stream": true, "ignore_eos": true}' "$BASE/v1/completions"
python3 - completion_stream.txt <<'PY' || fail "completion stream: $(head -c 3000 completion_stream.txt)"
import json, sys
events = [l for l in open(sys.argv[1]).read().split("\n\n") if l]
assert events[-1] == "data: [DONE]", events[-1]
chunks = [json.loads(e[6:]) for e in events[:-1]]
assert chunks[-1]["choices"][0]["finish_reason"] == "length"
assert all(c["object"] == "text_completion" for c in chunks)
PY
echo "ok: completion stream"

# Stop strings: the seeded text cut before the first occurrence of a piece
# of it, the same whether streamed or not.
seeded='"prompt": "Tell me", "max_tokens": 16, "temperature": 1, "top_k": 20, "seed": 11, "ignore_eos": true'
post seeded /v1/completions "{$seeded}" 200
stop="$(python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["choices"][0]["text"]; print(json.dumps(t[len(t)//2:len(t)//2+3]))' seeded.json)"
post stopped /v1/completions "{$seeded, \"stop\": [\"never appears\", $stop]}" 200
curl -sS -N --max-time 120 -o stopped_stream.txt -H 'Content-Type: application/json' \
  -d "{$seeded, \"stop\": $stop, \"stream\": true}" "$BASE/v1/completions"
python3 - seeded.json stopped.json stopped_stream.txt "$stop" <<'PY' || fail "stop strings"
import json, sys
full = json.load(open(sys.argv[1]))["choices"][0]["text"]
stopped = json.load(open(sys.argv[2]))["choices"][0]
stop = json.loads(sys.argv[4])
expected = full[:full.find(stop)]
assert stopped["text"] == expected and stopped["finish_reason"] == "stop", (full, stop, stopped)
events = [e for e in open(sys.argv[3]).read().split("\n\n") if e and e != "data: [DONE]"]
chunks = [json.loads(e[6:])["choices"][0] for e in events]
assert "".join(c["text"] for c in chunks) == expected, chunks
assert chunks[-1]["finish_reason"] == "stop"
PY
echo "ok: stop strings"

# 400s name the field at fault, in OpenAI's error shape.
error_check() {
  check "$1" "$1.json" "set(d) == {'error'} and d['error']['type'] == '$2' and d['error']['param'] == $3"
}
post bad_json /v1/chat/completions '{"messages": [' 400
error_check bad_json invalid_request_error None
post bad_temperature /v1/chat/completions '{"messages": [{"role": "user", "content": "x"}], "temperature": "hot"}' 400
error_check bad_temperature invalid_request_error '"temperature"'
post bad_n /v1/chat/completions '{"messages": [{"role": "user", "content": "x"}], "n": 2}' 400
error_check bad_n invalid_request_error '"n"'
post no_messages /v1/chat/completions '{"model": "tiny"}' 400
error_check no_messages invalid_request_error '"messages"'
post bad_role /v1/chat/completions '{"messages": [{"role": "robot", "content": "x"}]}' 400
error_check bad_role invalid_request_error '"messages[0].role"'
post bad_prompt /v1/completions '{"prompt": [1, 999999999]}' 400
error_check bad_prompt invalid_request_error '"prompt"'
post bad_max_tokens /v1/completions '{"prompt": "x", "max_tokens": 0}' 400
error_check bad_max_tokens invalid_request_error '"max_tokens"'
python3 -c 'import json; print(json.dumps({"prompt": list(range(2, 5002))}))' > long_prompt.json
status="$(curl -sS --max-time 30 -o long_prompt_reply.json -w '%{http_code}' -H 'Content-Type: application/json' \
  --data-binary @long_prompt.json "$BASE/v1/completions")"
[[ "$status" == 400 ]] || fail "a prompt past the context: status $status"
check long_prompt long_prompt_reply.json 'd["error"]["param"] == "prompt" and d["error"]["code"] == "context_length_exceeded"'
post wrong_model /v1/chat/completions '{"model": "gpt-4", "messages": [{"role": "user", "content": "x"}]}' 404
check wrong_model wrong_model.json 'd["error"]["code"] == "model_not_found"'
post no_route /v1/embeddings '{}' 404
error_check no_route not_found_error None
python3 -c 'import json; print(json.dumps({"prompt": "x" * 70000}))' > big.json
status="$(curl -sS --max-time 30 -o too_large.json -w '%{http_code}' -H 'Content-Type: application/json' \
  --data-binary @big.json "$BASE/v1/completions")"
[[ "$status" == 413 ]] || fail "big body: status $status"
error_check too_large invalid_request_error None

# A long stream holds the one slot: another request gets 429; killing the
# streaming client cancels its request.
long='{"messages": [{"role": "user", "content": "Go on"}], "max_tokens": 4000, "temperature": 0, "ignore_eos": true'
curl -sS -N --max-time 120 -o long_stream.txt -H 'Content-Type: application/json' \
  -d "$long, \"stream\": true}" "$BASE/v1/chat/completions" &
client=$!
for _ in $(seq 1 300); do
  [[ -s long_stream.txt && "$(metric dsv32_server_requests_in_flight)" == 1 ]] && break
  sleep 0.1
done
[[ "$(metric dsv32_server_requests_in_flight)" == 1 ]] || fail "the long stream did not start"
post busy /v1/chat/completions '{"messages": [{"role": "user", "content": "x"}], "max_tokens": 1}' 429
error_check busy rate_limit_error None
kill "$client"
wait "$client" 2>/dev/null || true
for _ in $(seq 1 300); do
  [[ "$(metric dsv32_server_client_disconnects_total)" == 1 && "$(metric dsv32_server_requests_in_flight)" == 0 ]] && break
  sleep 0.1
done
[[ "$(metric dsv32_server_client_disconnects_total)" == 1 ]] || fail "the streaming request was not cancelled"
[[ "$(metric dsv32_requests_cancelled_total)" -ge 1 ]] || fail "the engine saw no cancellation"
echo "ok: a disconnected stream is cancelled"

# A plain request whose client gives up is cancelled too.
curl -sS --max-time 1 -o /dev/null -H 'Content-Type: application/json' -d "$long}" \
  "$BASE/v1/chat/completions" 2>/dev/null || true
for _ in $(seq 1 300); do
  [[ "$(metric dsv32_server_client_disconnects_total)" == 2 && "$(metric dsv32_server_requests_in_flight)" == 0 ]] && break
  sleep 0.1
done
[[ "$(metric dsv32_server_client_disconnects_total)" == 2 ]] || fail "the plain request was not cancelled"
grep -q "client disconnected" server.log || fail "the log does not say so"
echo "ok: a disconnected plain request is cancelled"

curl -sS --max-time 10 "$BASE/metrics" > metrics.txt
grep -q '^dsv32_server_queue_depth 0' metrics.txt || fail "no queue depth in /metrics"
grep -q '^dsv32_server_rejected_busy_total 1' metrics.txt || fail "the 429 is not counted"
grep -q '^dsv32_server_rejected_too_large_total 1' metrics.txt || fail "the 413 is not counted"
finish_server
echo "all server checks passed"
