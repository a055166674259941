#!/usr/bin/env bash
# Runs openai_client_test.mjs against dsv32-server answering with the canned
# tool-call completion, then its --constrained checks against the model.
# Usage: openai_client_test.sh SERVER_BIN MODEL_DIR TOKENIZER_DIR NODE_DIR WORK_DIR
set -euo pipefail
server_bin="$1" model="$2" tokenizer="$3" node_dir="$4" work="$5"
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/server_common.sh"
if ! command -v node > /dev/null; then
  [[ "${CI:-}" == true ]] && fail "node is needed for the openai client test"
  echo "node missing: skipping"
  exit 77
fi
[[ -d "$node_dir/node_modules/openai" ]] || fail "no openai package in $node_dir (server.npm_install)"
rm -rf "$work" && mkdir -p "$work"
start_server "$work/server.log" "$server_bin" --model "$model" --tokenizer "$tokenizer" \
  --served-model-name tiny --threads 2 --echo-completion "$here/data/tool_call_completion.txt"
# Node resolves 'openai' from the script's folder upwards, so the script
# runs from beside the installed modules.
cp "$here/openai_client_test.mjs" "$node_dir/"
timeout 500 node "$node_dir/openai_client_test.mjs" "$BASE" || { cat "$work/server.log" >&2; fail "openai client checks"; }
finish_server
# The same client against the model itself, with tool_choice holding the
# reply to tool calls.
start_server "$work/server_constrained.log" "$server_bin" --model "$model" --tokenizer "$tokenizer" \
  --served-model-name tiny --threads 2
timeout 500 node "$node_dir/openai_client_test.mjs" "$BASE" --constrained ||
  { cat "$work/server_constrained.log" >&2; fail "openai client checks, constrained"; }
finish_server
