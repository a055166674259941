#include "chat/tool_call_grammar.h"

#include <optional>
#include <set>
#include <vector>

#include "chat/python_json.h"
#include "chat/special_tokens.h"
#include "structured/text_avoiding.h"

namespace dsv32::chat {

namespace {

using structured::Alt;
using structured::Concat;
using structured::Literal;
using structured::Regex;

constexpr std::string_view kValueClose = "</｜DSML｜parameter>";
// U+FF5C, the bar of "｜DSML｜": JSON values spell it escaped.
constexpr uint32_t kFullwidthBar = 0xFF5C;

bool IsAnnotation(const std::string& key) {
  static const std::set<std::string> kAnnotations = {
      "title", "description", "default",    "examples", "$schema",
      "$id",   "$comment",    "deprecated", "readOnly", "writeOnly"};
  return kAnnotations.contains(key);
}

// Whether `name` can sit between the markup's quotes and come back intact
// from the parser.
bool IsMarkupName(const std::string& name) {
  if (name.empty()) return false;
  for (unsigned char c : name)
    if (c < 0x20 || c == '"' || c == '<' || c == '>') return false;
  return name.find("｜") == std::string::npos;
}

// The raw text of a string="true" value, when the schema is a plain string
// (type "string", annotations, an enum or const of strings); nullopt for
// any other schema.
std::optional<Result<Regex>> RawStringValue(const OrderedJson& schema) {
  if (!schema.is_object() || !schema.contains("type") || schema["type"] != "string")
    return std::nullopt;
  std::vector<const OrderedJson*> values;
  for (const auto& [key, value] : schema.items()) {
    if (key == "type" || IsAnnotation(key)) continue;
    if (key == "const") {
      values.push_back(&value);
    } else if (key == "enum" && value.is_array()) {
      for (const OrderedJson& v : value) values.push_back(&v);
    } else {
      return std::nullopt;
    }
  }
  // Values of other types, or none at all, are the JSON compiler's to read
  // (and an empty enum its to refuse).
  for (const OrderedJson* v : values)
    if (!v->is_string()) return std::nullopt;
  if ((schema.contains("enum") || schema.contains("const")) && values.empty()) return std::nullopt;
  if (schema.contains("enum") || schema.contains("const")) {
    std::vector<Regex> options;
    for (const OrderedJson* v : values) options.push_back(Literal(v->get<std::string>()));
    // A value with the bar could spell the closing tag.
    return Result<Regex>(
        structured::WithoutCodepoints(Alt(std::move(options)), {{kFullwidthBar, kFullwidthBar}}));
  }
  return structured::TextAvoiding({kParameterClose});
}

Result<Regex> ParameterRegex(const std::string& name, const OrderedJson& schema,
                             const OrderedJson& parameters, const ToolCallGrammarOptions& options) {
  if (!IsMarkupName(name))
    return InvalidArgument(
        "the name may not be empty or hold '\"', '<', '>', '｜' or control "
        "characters");
  const std::string open = "<｜DSML｜parameter name=\"" + name + "\" string=\"";
  if (auto raw = RawStringValue(schema)) {
    DSV32_ASSIGN_OR_RETURN(Regex value, std::move(*raw));
    return Concat({Literal(open + "true\">"), value, Literal(kValueClose)});
  }
  // The subschema keeps the parameters' definitions in reach of its $refs.
  OrderedJson sub = schema;
  if (sub.is_object())
    for (const char* defs : {"$defs", "definitions"})
      if (parameters.contains(defs) && !sub.contains(defs)) sub[defs] = parameters[defs];
  DSV32_ASSIGN_OR_RETURN(Regex json, structured::JsonSchemaToRegex(sub.dump(), options.json));
  return Concat({Literal(open + "false\">"),
                 structured::WithoutCodepoints(json, {{kFullwidthBar, kFullwidthBar}}),
                 Literal(kValueClose)});
}

// The parameters one per line, in declared order, optional ones skippable:
// Head(i) is parameters i.. with none before, Tail(i) the same after one.
Regex ParameterList(const std::vector<Regex>& params, const std::vector<bool>& required) {
  const size_t n = params.size();
  std::vector<Regex> tail(n + 1), head(n + 1);
  tail[n] = structured::Empty();
  head[n] = structured::Empty();
  for (size_t i = n; i-- > 0;) {
    const Regex line = Concat({Literal("\n"), params[i]});
    tail[i] = Concat({required[i] ? line : structured::Optional(line), tail[i + 1]});
    const Regex first = Concat({params[i], tail[i + 1]});
    head[i] = required[i] ? first : Alt({first, head[i + 1]});
  }
  return head[0];
}

struct Tool {
  std::string name;
  Regex invoke;
};

Result<Tool> InvokeRegex(const OrderedJson& tool, size_t index,
                         const ToolCallGrammarOptions& options) {
  const std::string path = "tools[" + std::to_string(index) + "]";
  if (!tool.is_object() || !tool.contains("function") || !tool["function"].is_object())
    return InvalidArgument(path + ": expected an object with a \"function\" object");
  const OrderedJson& function = tool["function"];
  if (!function.contains("name") || !function["name"].is_string())
    return InvalidArgument(path + ".function.name: expected a string");
  Tool out{function["name"].get<std::string>(), nullptr};
  const std::string where = path + " (" + out.name + ")";
  if (!IsMarkupName(out.name))
    return InvalidArgument(where +
                           ".function.name: may not be empty or hold '\"', '<', '>', "
                           "'｜' or control characters");
  std::vector<Regex> params;
  std::vector<bool> required;
  if (function.contains("parameters")) {
    const OrderedJson& parameters = function["parameters"];
    const std::string ppath = where + ".function.parameters";
    if (!parameters.is_object()) return InvalidArgument(ppath + ": expected an object schema");
    for (const auto& [key, value] : parameters.items()) {
      if (key == "type" && value != "object")
        return Unsupported(ppath + ".type: only \"object\" parameters are supported");
      if (key != "type" && key != "properties" && key != "required" &&
          key != "additionalProperties" && key != "$defs" && key != "definitions" &&
          key != "strict" && !IsAnnotation(key))
        return Unsupported(ppath + "." + key + ": not supported on a function's parameters");
    }
    const OrderedJson empty = OrderedJson::object();
    const OrderedJson& properties =
        parameters.contains("properties") ? parameters["properties"] : empty;
    if (!properties.is_object()) return InvalidArgument(ppath + ".properties: expected an object");
    std::set<std::string> needed;
    if (parameters.contains("required")) {
      const OrderedJson& r = parameters["required"];
      if (!r.is_array()) return InvalidArgument(ppath + ".required: expected an array of names");
      for (const OrderedJson& name : r) {
        if (!name.is_string())
          return InvalidArgument(ppath + ".required: expected an array of names");
        if (!properties.contains(name.get<std::string>()))
          return InvalidArgument(ppath + ".required: \"" + name.get<std::string>() +
                                 "\" is not among the properties");
        needed.insert(name.get<std::string>());
      }
    }
    for (const auto& [name, schema] : properties.items()) {
      auto p = ParameterRegex(name, schema, parameters, options);
      if (!p.ok()) return p.status().WithContext(where + " property \"" + name + "\"");
      params.push_back(std::move(p).value());
      required.push_back(needed.contains(name));
    }
  }
  out.invoke = Concat({Literal("<｜DSML｜invoke name=\"" + out.name + "\">\n"),
                       ParameterList(params, required), Literal("\n</｜DSML｜invoke>")});
  return out;
}

}  // namespace

Result<ToolChoice> ParseToolChoice(std::string_view json_text) {
  const OrderedJson v = OrderedJson::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (v.is_discarded()) return InvalidArgument("tool_choice: not valid JSON");
  if (v == "auto") return ToolChoice{ToolChoice::Kind::kAuto, ""};
  if (v == "none") return ToolChoice{ToolChoice::Kind::kNone, ""};
  if (v == "required") return ToolChoice{ToolChoice::Kind::kRequired, ""};
  if (v.is_object() && v.contains("type") && v["type"] == "function" && v.contains("function") &&
      v["function"].is_object() && v["function"].contains("name") &&
      v["function"]["name"].is_string())
    return ToolChoice{ToolChoice::Kind::kFunction, v["function"]["name"].get<std::string>()};
  return InvalidArgument(
      "tool_choice: expected \"auto\", \"none\", \"required\" or "
      "{\"type\": \"function\", \"function\": {\"name\": ...}}");
}

namespace {

// JSON matching the content schema, without a raw "｜" so that no DSML
// markup can appear in it.
Result<Regex> SchemaContent(const ToolCallGrammarOptions& options) {
  auto content = structured::JsonSchemaToRegex(options.content_schema, options.json);
  if (!content.ok()) return content.status().WithContext("content schema");
  return structured::WithoutCodepoints(content.value(), {{kFullwidthBar, kFullwidthBar}});
}

// `reply` after the reasoning when the reply opens with it: free text up to
// the first "</think>", with nothing the parser would read as its end early.
Result<Regex> AfterReasoning(Regex reply, const ToolCallGrammarOptions& options) {
  if (!options.thinking) return reply;
  DSV32_ASSIGN_OR_RETURN(
      Regex reasoning,
      structured::TextUntil(kThinkEnd, {kDsml, kBeginOfSentence, kEndOfSentence, kThinkStart}));
  return Concat({reasoning, std::move(reply)});
}

}  // namespace

Result<Regex> ContentReplyRegex(const ToolCallGrammarOptions& options) {
  if (options.content_schema.empty()) return InvalidArgument("content schema: empty");
  DSV32_ASSIGN_OR_RETURN(Regex content, SchemaContent(options));
  return AfterReasoning(std::move(content), options);
}

Result<Regex> ToolCallReplyRegex(std::string_view tools_json, const ToolChoice& choice,
                                 const ToolCallGrammarOptions& options) {
  if (choice.kind == ToolChoice::Kind::kNone)
    return InvalidArgument("tool_choice \"none\" constrains nothing");
  const OrderedJson tools = OrderedJson::parse(tools_json, nullptr, /*allow_exceptions=*/false);
  if (tools.is_discarded() || !tools.is_array()) return InvalidArgument("tools: expected an array");
  if (tools.empty()) return InvalidArgument("tools: empty, so no tool can be called");
  std::vector<Regex> invokes;
  std::set<std::string> names;
  for (size_t i = 0; i < tools.size(); ++i) {
    DSV32_ASSIGN_OR_RETURN(Tool tool, InvokeRegex(tools[i], i, options));
    if (!names.insert(tool.name).second)
      return InvalidArgument("tools[" + std::to_string(i) + "] (" + tool.name +
                             "): a second function of that name");
    if (choice.kind != ToolChoice::Kind::kFunction || tool.name == choice.function)
      invokes.push_back(tool.invoke);
  }
  if (invokes.empty())
    return InvalidArgument("tool_choice: function \"" + choice.function +
                           "\" is not among the tools");
  const Regex invoke = Alt(std::move(invokes));
  const Regex calls =
      choice.kind == ToolChoice::Kind::kFunction
          ? invoke
          : Concat({invoke, structured::Repeat(Concat({Literal("\n"), invoke}), 0, -1)});
  const Regex block = Concat({Literal(std::string(kToolCallsStart) + ">\n"), calls,
                              Literal(std::string("\n") + std::string(kFunctionCallsClose))});

  // Text the parser would read as the end of the stretch, or report.
  const std::vector<std::string_view> markers = {kDsml, kBeginOfSentence, kEndOfSentence,
                                                 kThinkStart, kThinkEnd};
  Regex reply = block;
  if (choice.kind == ToolChoice::Kind::kAuto) {
    if (options.content_schema.empty()) {
      DSV32_ASSIGN_OR_RETURN(Regex content, structured::TextAvoiding(markers));
      reply = Concat({content, structured::Optional(block)});
    } else {
      DSV32_ASSIGN_OR_RETURN(Regex content, SchemaContent(options));
      reply = Alt({std::move(content), block});
    }
  }
  return AfterReasoning(std::move(reply), options);
}

}  // namespace dsv32::chat
