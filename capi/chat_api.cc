// The chat layer through the C API: prompt encoding and the streaming
// output parser.
#include <cstdlib>
#include <deque>
#include <string>

#include "capi_internal.h"
#include "chat/chat_encoder.h"
#include "chat/output_parser.h"

struct dsv32_chat_parser {
  dsv32::chat::OutputParser parser;
  std::deque<dsv32::chat::OutputEvent> queue;
  dsv32::chat::OutputEvent current;  // the event whose text the caller holds
};

using dsv32::capi::FromStatus;
using dsv32::capi::Guard;
using dsv32::capi::ReadParams;
using dsv32::capi::SetError;

extern "C" {

dsv32_status dsv32_chat_encode(const char* request_json, char** out, size_t* length) {
  return Guard([&] {
    if (!out) return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_chat_encode: out is NULL");
    *out = nullptr;
    if (!request_json)
      return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_chat_encode: request_json is NULL");
    auto prompt = dsv32::chat::EncodeChatJson(request_json);
    if (!prompt.ok()) return FromStatus(prompt.status());
    // malloc, so that the string outlives nothing of the library's.
    char* text = static_cast<char*>(std::malloc(prompt->size() + 1));
    if (!text) return SetError(DSV32_ERR_OUT_OF_MEMORY, "dsv32_chat_encode: out of memory");
    std::memcpy(text, prompt->data(), prompt->size());
    text[prompt->size()] = '\0';
    if (length) *length = prompt->size();
    *out = text;
    return DSV32_OK;
  });
}

void dsv32_string_free(char* text) { std::free(text); }

static dsv32_chat_parser_params ChatParserDefaults() {
  dsv32_chat_parser_params p{};
  p.struct_size = sizeof p;
  return p;
}

dsv32_status dsv32_chat_parser_create(const dsv32_chat_parser_params* params,
                                      dsv32_chat_parser** out) {
  return Guard([&] {
    if (!out) return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_chat_parser_create: out is NULL");
    const dsv32_chat_parser_params p = ReadParams(params, dsv32_chat_parser_default_params());
    dsv32::chat::OutputParserOptions options;
    options.thinking = p.thinking != 0;
    *out = new dsv32_chat_parser{dsv32::chat::OutputParser(options), {}, {}};
    return DSV32_OK;
  });
}

void dsv32_chat_parser_free(dsv32_chat_parser* parser) { delete parser; }

dsv32_status dsv32_chat_parser_feed(dsv32_chat_parser* parser, const char* text, size_t length) {
  return Guard([&] {
    if (!parser || (!text && length))
      return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_chat_parser_feed: NULL argument");
    for (auto& e : parser->parser.Feed(std::string_view(text ? text : "", length)))
      parser->queue.push_back(std::move(e));
    return DSV32_OK;
  });
}

dsv32_status dsv32_chat_parser_finish(dsv32_chat_parser* parser) {
  return Guard([&] {
    if (!parser)
      return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_chat_parser_finish: parser is NULL");
    for (auto& e : parser->parser.Finish()) parser->queue.push_back(std::move(e));
    return DSV32_OK;
  });
}

dsv32_status dsv32_chat_parser_next(dsv32_chat_parser* parser, dsv32_chat_event* event,
                                    int32_t* has_event) {
  return Guard([&] {
    if (!parser || !event || !has_event)
      return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_chat_parser_next: NULL argument");
    if (event->struct_size < sizeof(size_t))
      return SetError(DSV32_ERR_INVALID_ARGUMENT,
                      "dsv32_chat_parser_next: set event->struct_size to sizeof(dsv32_chat_event)");
    *has_event = 0;
    if (parser->queue.empty()) return DSV32_OK;
    parser->current = std::move(parser->queue.front());
    parser->queue.pop_front();
    dsv32_chat_event full{};
    full.struct_size = event->struct_size;
    full.type = static_cast<dsv32_chat_event_type>(parser->current.type);
    full.tool_index = parser->current.tool_index;
    full.text = parser->current.text.c_str();
    full.text_length = parser->current.text.size();
    std::memcpy(event, &full, std::min(event->struct_size, sizeof full));
    *has_event = 1;
    return DSV32_OK;
  });
}

void dsv32_chat_parser_params_init(dsv32_chat_parser_params* params, size_t struct_size) {
  dsv32::capi::InitParams(params, struct_size, ChatParserDefaults());
}

}  // extern "C"
