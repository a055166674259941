// The official openai npm client against dsv32-server started with
// --echo-completion data/tool_call_completion.txt, so every reply is that
// known text: a plain and a streamed chat completion with a tool call
// (reasoning, content and the call's arguments checked), the model list and
// an error reply. (Completions are the curl test's.)
// Usage: node openai_client_test.mjs BASE_URL [--constrained]
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const client = new OpenAI({
  baseURL: `${process.argv[2]}/v1`,
  apiKey: 'unused',
  timeout: 240_000,
  maxRetries: 0,
});

const tools = [{
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The forecast for a city',
    parameters: {
      type: 'object',
      properties: {city: {type: 'string'}, days: {type: 'integer'}},
      required: ['city'],
    },
  },
}];
const request = {
  model: 'tiny',
  messages: [{role: 'user', content: 'What is the weather in Paris?'}],
  tools,
  max_tokens: 200,
  temperature: 0,
  chat_template_kwargs: {thinking: true},
};

function checkCall(call) {
  assert.equal(call.type, 'function');
  assert.match(call.id, /^call_/);
  assert.equal(call.function.name, 'get_weather');
  assert.deepEqual(JSON.parse(call.function.arguments), {city: 'Paris', days: 3});
}

async function plainChat() {
  const reply = await client.chat.completions.create(request);
  const choice = reply.choices[0];
  assert.equal(reply.object, 'chat.completion');
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.equal(choice.message.reasoning_content, 'Hm.');
  assert.equal(choice.message.content, 'OK.');
  assert.equal(choice.message.tool_calls.length, 1);
  checkCall(choice.message.tool_calls[0]);
  assert.ok(reply.usage.prompt_tokens > 0 && reply.usage.completion_tokens > 0);
  console.log('ok: chat completion with a tool call');
}

async function streamedChat() {
  const stream = await client.chat.completions.create(
      {...request, stream: true, stream_options: {include_usage: true}});
  let reasoning = '', content = '', finish = null, usage = null;
  const calls = [];
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) usage = chunk.usage;
    if (chunk.choices.length === 0) continue;
    const {delta, finish_reason} = chunk.choices[0];
    reasoning += delta.reasoning_content ?? '';
    content += delta.content ?? '';
    for (const d of delta.tool_calls ?? []) {
      calls[d.index] ??= {id: '', type: '', function: {name: '', arguments: ''}};
      const call = calls[d.index];
      if (d.id) call.id = d.id;
      if (d.type) call.type = d.type;
      call.function.name += d.function?.name ?? '';
      call.function.arguments += d.function?.arguments ?? '';
    }
    if (finish_reason) finish = finish_reason;
  }
  assert.equal(reasoning, 'Hm.');
  assert.equal(content, 'OK.');
  assert.equal(finish, 'tool_calls');
  assert.equal(calls.length, 1);
  checkCall(calls[0]);
  assert.ok(usage && usage.completion_tokens > 0);
  console.log('ok: streamed chat completion with a tool call');
}

async function models() {
  const list = await client.models.list();
  assert.deepEqual(list.data.map((m) => m.id), ['tiny']);
  console.log('ok: models');
}

async function badRequest() {
  await assert.rejects(client.chat.completions.create({...request, n: 2}), (error) => {
    assert.ok(error instanceof OpenAI.BadRequestError);
    assert.equal(error.status, 400);
    assert.equal(error.param, 'n');
    return true;
  });
  console.log('ok: a 400 reaches the client as BadRequestError');
}

// With --constrained, against the random-weight model itself: tool_choice
// "required" and a named function hold the reply to calls whose arguments
// parse and match the schema, streamed or not.
const modeTools = [{
  type: 'function',
  function: {
    name: 'set_mode',
    parameters: {
      type: 'object',
      properties: {
        mode: {type: 'string', enum: ['fast', 'slow']},
        level: {type: 'integer', minimum: 0, maximum: 9},
      },
      required: ['mode', 'level'],
    },
  },
}, {type: 'function', function: {name: 'stop'}}];
const modeRequest = {
  model: 'tiny',
  messages: [{role: 'user', content: 'Go fast'}],
  tools: modeTools,
  max_tokens: 600,
  temperature: 0,
};

function checkModeCall(call) {
  assert.equal(call.type, 'function');
  if (call.function.name === 'stop') {
    assert.deepEqual(JSON.parse(call.function.arguments), {});
    return;
  }
  assert.equal(call.function.name, 'set_mode');
  const args = JSON.parse(call.function.arguments);
  assert.ok(['fast', 'slow'].includes(args.mode), call.function.arguments);
  assert.ok(Number.isInteger(args.level) && args.level >= 0 && args.level <= 9);
}

async function namedToolChoice() {
  const reply = await client.chat.completions.create(
      {...modeRequest, tool_choice: {type: 'function', function: {name: 'set_mode'}}});
  const choice = reply.choices[0];
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.equal(choice.message.tool_calls.length, 1);
  assert.equal(choice.message.tool_calls[0].function.name, 'set_mode');
  checkModeCall(choice.message.tool_calls[0]);
  console.log('ok: a named tool_choice gives one call of that function');
}

async function requiredToolChoiceStreamed() {
  const stream = await client.chat.completions.create(
      {...modeRequest, tool_choice: 'required', stream: true});
  const calls = [];
  let finish = null;
  for await (const chunk of stream) {
    if (chunk.choices.length === 0) continue;
    const {delta, finish_reason} = chunk.choices[0];
    for (const d of delta.tool_calls ?? []) {
      calls[d.index] ??= {type: '', function: {name: '', arguments: ''}};
      if (d.type) calls[d.index].type = d.type;
      calls[d.index].function.name += d.function?.name ?? '';
      calls[d.index].function.arguments += d.function?.arguments ?? '';
    }
    if (finish_reason) finish = finish_reason;
  }
  assert.equal(finish, 'tool_calls');
  assert.ok(calls.length >= 1);
  calls.forEach(checkModeCall);
  console.log('ok: tool_choice "required" streams calls whose arguments parse');
}

async function unknownToolChoice() {
  await assert.rejects(
      client.chat.completions.create(
          {...modeRequest, tool_choice: {type: 'function', function: {name: 'fly'}}}),
      (error) => {
        assert.ok(error instanceof OpenAI.BadRequestError);
        assert.equal(error.param, 'tool_choice');
        return true;
      });
  console.log('ok: a tool_choice naming no tool is a 400');
}

if (process.argv[3] === '--constrained') {
  await namedToolChoice();
  await requiredToolChoiceStreamed();
  await unknownToolChoice();
  console.log('all constrained openai client checks passed');
} else {
  await models();
  await plainChat();
  await streamedChat();
  await badRequest();
  console.log('all openai client checks passed');
}
