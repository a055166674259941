// The official openai npm client against dsv32-server started with
// --echo-completion data/tool_call_completion.txt, so every reply is that
// known text: a plain and a streamed chat completion with a tool call
// (reasoning, content and the call's arguments checked), the model list and
// an error reply. (Completions are the curl test's.)
// Usage: node openai_client_test.mjs BASE_URL
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

await models();
await plainChat();
await streamedChat();
await badRequest();
console.log('all openai client checks passed');
