// The grammar of a reply that calls tools in DeepSeek-V3.2's DSML markup,
// built from an OpenAI-style `tools` array and `tool_choice`, so that
// constrained decoding (structured/token_constraint.h) yields replies the
// output parser (chat/output_parser.h) reads as tool calls whose arguments
// are JSON matching each function's `parameters` schema.
//
// A reply is
//   [reasoning "</think>"]   thinking: free text, up to the first "</think>"
//   content                  "auto": free text (or, with a content schema,
//                            JSON matching it); "required" and a named
//                            function: nothing
//   [block]                  "auto": optional; otherwise it must come
// and then the end of sentence. The block is written as the chat encoder
// writes tool calls:
//   "\n\n<｜DSML｜function_calls>\n" invoke ("\n" invoke)*
//   "\n</｜DSML｜function_calls>"
// with one invoke of the named function, or one or more of any tools. An
// invoke lists its parameters in the order `properties` declares them, one
// per line; optional ones may be left out, required ones must come (a DFA
// cannot allow any order without growing with the number of orders). A
// parameter whose schema is a plain string (type "string", optionally an
// enum or const of strings) is written string="true" as raw text; every
// other one string="false" as JSON matching its subschema (compiled by
// structured/json_schema.h, with the parameters' $defs in reach), so
// constrained strings (pattern, format, lengths) are JSON strings there.
//
// Free text (reasoning, content, raw values) cannot contain what would end
// it early for the parser: no "｜DSML｜", special-token text or "</think>"
// in reasoning and content, no "/｜DSML｜parameter" in a raw value. JSON
// values never hold a raw "｜" (U+FF5C) in strings (it is written \uff5c),
// which keeps the closing tag out of them. Properties beyond the declared
// ones are never generated, whatever additionalProperties says.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "chat/special_tokens.h"
#include "core/status.h"
#include "structured/json_schema.h"
#include "structured/regex.h"

namespace dsv32::chat {

// Added tokens a reply's grammar spells as text: tokenizers that have
// "</think>" as one token (V3.2's) should let masks allow it
// (structured::TokenVocabulary::Build's markup).
inline constexpr std::array<std::string_view, 1> kMarkupTokens = {kThinkEnd};

struct ToolChoice {
  enum class Kind { kAuto, kRequired, kNone, kFunction };
  Kind kind = Kind::kAuto;
  std::string function;  // kFunction: the function's name
};

// "auto", "none", "required" or {"type": "function", "function": {"name": N}},
// as parsed JSON text; errors name the field "tool_choice".
Result<ToolChoice> ParseToolChoice(std::string_view json_text);

struct ToolCallGrammarOptions {
  bool thinking = false;  // the prompt ended with "<think>": the reply opens with reasoning
  // Not empty: with "auto", content is JSON matching this schema, or empty
  // before a tool-call block.
  std::string content_schema;
  structured::JsonSchemaOptions json;
};

// The whole reply as a regular expression (structured/regex.h). `tools_json`
// is the OpenAI `tools` array. InvalidArgument for malformed tools, a named
// function not among them, "none" (which constrains nothing) or a schema no
// value satisfies; Unsupported for schema features outside the supported
// subset. Messages name the tool and property, e.g.
// "tools[1] (get_weather) property \"unit\": schema.enum: ...".
Result<structured::Regex> ToolCallReplyRegex(std::string_view tools_json, const ToolChoice& choice,
                                             const ToolCallGrammarOptions& options = {});

// A reply held only to options.content_schema (a response format without
// tools): JSON matching it, after the reasoning when options.thinking (free
// text up to the first "</think>", as above), so a thinking model reasons
// freely and its content is the JSON. Errors as ToolCallReplyRegex's for the
// schema, under "content schema".
Result<structured::Regex> ContentReplyRegex(const ToolCallGrammarOptions& options);

}  // namespace dsv32::chat
