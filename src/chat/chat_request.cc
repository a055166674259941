#include "chat/chat_request.h"

#include "chat/python_json.h"

namespace dsv32::chat {

namespace {

// Python's json module refuses nesting past about a thousand levels; a bound
// also keeps the recursive serializer off the end of the stack.
constexpr int kMaxJsonDepth = 512;

// Parses JSON text, refusing nesting deeper than kMaxJsonDepth.
Result<OrderedJson> ParseJson(std::string_view text) {
  bool too_deep = false;
  OrderedJson value;
  try {
    value = OrderedJson::parse(text, [&](int depth, OrderedJson::parse_event_t, OrderedJson&) {
      if (depth > kMaxJsonDepth) too_deep = true;
      return depth <= kMaxJsonDepth;
    });
  } catch (const OrderedJson::exception& e) {
    return InvalidArgument(std::string("not valid JSON: ") + e.what());
  }
  if (too_deep)
    return InvalidArgument("nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  return value;
}

Status SchemaError(const std::string& path, const std::string& why) {
  return InvalidArgument(path + ": " + why);
}

std::string Index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

const char* TypeName(const OrderedJson& v) {
  switch (v.type()) {
    case OrderedJson::value_t::null: return "null";
    case OrderedJson::value_t::boolean: return "a boolean";
    case OrderedJson::value_t::string: return "a string";
    case OrderedJson::value_t::array: return "an array";
    case OrderedJson::value_t::object: return "an object";
    default: return "a number";
  }
}

Status WrongType(const std::string& path, const char* expected, const OrderedJson& got) {
  return SchemaError(path, std::string("must be ") + expected + ", got " + TypeName(got));
}

// The field's value, or nullptr when it is absent or null.
const OrderedJson* Field(const OrderedJson& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

Result<Role> ParseRole(const OrderedJson& message, const std::string& path) {
  const OrderedJson* role = Field(message, "role");
  if (!role) return SchemaError(path + ".role", "missing");
  if (!role->is_string()) return WrongType(path + ".role", "a string", *role);
  const std::string& name = role->get_ref<const std::string&>();
  for (Role r : {Role::kSystem, Role::kDeveloper, Role::kUser, Role::kAssistant, Role::kTool})
    if (name == RoleName(r)) return r;
  return SchemaError(path + ".role", "unknown role '" + name +
                                         "' (expected system, developer, user, assistant or tool)");
}

// `content` is a string, or an array of {"type": "text", "text": ...} parts
// joined by newlines. System and assistant messages may leave it out.
Status ParseContent(const OrderedJson& message, Role role, const std::string& path,
                    std::string* out) {
  const std::string content_path = path + ".content";
  const OrderedJson* content = Field(message, "content");
  if (!content) {
    if (role == Role::kSystem || role == Role::kAssistant) return Status::Ok();
    return SchemaError(content_path, std::string("missing; a ") + std::string(RoleName(role)) +
                                         " message needs text");
  }
  if (content->is_string()) {
    *out = content->get<std::string>();
    return Status::Ok();
  }
  if (!content->is_array()) return WrongType(content_path, "a string", *content);
  for (size_t i = 0; i < content->size(); ++i) {
    const OrderedJson& part = (*content)[i];
    const std::string part_path = Index(content_path, i);
    if (!part.is_object()) return WrongType(part_path, "an object", part);
    const OrderedJson* type = Field(part, "type");
    if (!type || *type != "text")
      return SchemaError(part_path + ".type", "only \"text\" parts are supported");
    const OrderedJson* text = Field(part, "text");
    if (!text || !text->is_string()) return SchemaError(part_path + ".text", "must be a string");
    if (i > 0) out->push_back('\n');
    out->append(text->get_ref<const std::string&>());
  }
  return Status::Ok();
}

Status ParseTools(const OrderedJson& tools, const std::string& path,
                  std::vector<std::string>* schemas) {
  if (!tools.is_array()) return WrongType(path, "an array", tools);
  for (size_t i = 0; i < tools.size(); ++i) {
    const std::string tool_path = Index(path, i);
    if (!tools[i].is_object()) return WrongType(tool_path, "an object", tools[i]);
    const OrderedJson* function = Field(tools[i], "function");
    if (!function) return SchemaError(tool_path + ".function", "missing");
    if (!function->is_object()) return WrongType(tool_path + ".function", "an object", *function);
    schemas->push_back(PythonJson(*function));
  }
  return Status::Ok();
}

Result<ToolCall> ParseToolCall(const OrderedJson& call, const std::string& path) {
  if (!call.is_object()) return WrongType(path, "an object", call);
  const OrderedJson* function = Field(call, "function");
  if (!function) return SchemaError(path + ".function", "missing");
  if (!function->is_object()) return WrongType(path + ".function", "an object", *function);
  const OrderedJson* name = Field(*function, "name");
  if (!name) return SchemaError(path + ".function.name", "missing");
  if (!name->is_string()) return WrongType(path + ".function.name", "a string", *name);

  const std::string args_path = path + ".function.arguments";
  const OrderedJson* raw = Field(*function, "arguments");
  if (!raw) return SchemaError(args_path, "missing");
  if (!raw->is_string()) return WrongType(args_path, "a string holding a JSON object", *raw);
  Result<OrderedJson> parsed = ParseJson(raw->get_ref<const std::string&>());
  if (!parsed.ok()) return parsed.status().WithContext(args_path);
  const OrderedJson& args = parsed.value();
  if (!args.is_object()) return WrongType(args_path, "a JSON object", args);

  ToolCall out;
  out.name = name->get<std::string>();
  for (const auto& [key, value] : args.items()) {
    ToolCallArgument arg;
    arg.name = key;
    arg.is_string = value.is_string();
    arg.value = arg.is_string ? value.get<std::string>() : PythonJson(value);
    out.arguments.push_back(std::move(arg));
  }
  return out;
}

Result<ChatMessage> ParseMessage(const OrderedJson& message, size_t index) {
  const std::string path = Index("messages", index);
  if (!message.is_object()) return WrongType(path, "an object", message);
  ChatMessage out;
  out.source_index = index;
  DSV32_ASSIGN_OR_RETURN(out.role, ParseRole(message, path));
  DSV32_RETURN_IF_ERROR(ParseContent(message, out.role, path, &out.content));

  if (const OrderedJson* reasoning = Field(message, "reasoning_content")) {
    if (!reasoning->is_string())
      return WrongType(path + ".reasoning_content", "a string", *reasoning);
    out.reasoning_content = reasoning->get<std::string>();
  }
  if (const OrderedJson* calls = Field(message, "tool_calls")) {
    const std::string calls_path = path + ".tool_calls";
    if (!calls->is_array()) return WrongType(calls_path, "an array", *calls);
    for (size_t i = 0; i < calls->size(); ++i) {
      DSV32_ASSIGN_OR_RETURN(ToolCall call, ParseToolCall((*calls)[i], Index(calls_path, i)));
      out.tool_calls.push_back(std::move(call));
    }
  }
  if (const OrderedJson* tools = Field(message, "tools"))
    DSV32_RETURN_IF_ERROR(ParseTools(*tools, path + ".tools", &out.tool_schemas));
  if (const OrderedJson* format = Field(message, "response_format"))
    if (PythonTruthy(*format)) out.response_format = PythonJson(*format);
  return out;
}

Status ParseOptions(const OrderedJson& request, EncodeOptions* options) {
  if (const OrderedJson* thinking = Field(request, "thinking")) {
    if (!thinking->is_boolean()) return WrongType("thinking", "true or false", *thinking);
    options->thinking = thinking->get<bool>();
  }
  const OrderedJson* retention = Field(request, "reasoning_retention");
  const OrderedJson* drop = Field(request, "drop_thinking");
  if (retention && drop)
    return SchemaError("drop_thinking",
                       "give either reasoning_retention or drop_thinking, not both");
  if (retention) {
    if (!retention->is_string()) return WrongType("reasoning_retention", "a string", *retention);
    const std::string& name = retention->get_ref<const std::string&>();
    if (name == "drop")
      options->reasoning_retention = ReasoningRetention::kDrop;
    else if (name == "last")
      options->reasoning_retention = ReasoningRetention::kLastTurn;
    else if (name == "all")
      options->reasoning_retention = ReasoningRetention::kAll;
    else
      return SchemaError("reasoning_retention",
                         "unknown value '" + name + "' (expected drop, last or all)");
  }
  if (drop) {
    if (!drop->is_boolean()) return WrongType("drop_thinking", "true or false", *drop);
    options->reasoning_retention = ReasoningRetention::kDrop;
    options->refuse_earlier_developer = drop->get<bool>();
  }
  return Status::Ok();
}

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kSystem: return "system";
    case Role::kDeveloper: return "developer";
    case Role::kUser: return "user";
    case Role::kAssistant: return "assistant";
    case Role::kTool: return "tool";
  }
  return "unknown";
}

Result<ChatRequest> ParseChatRequest(std::string_view json_text) {
  Result<OrderedJson> parsed = ParseJson(json_text);
  if (!parsed.ok()) return parsed.status().WithContext("request");
  const OrderedJson& request = parsed.value();
  if (!request.is_object()) return WrongType("request", "an object", request);

  ChatRequest out;
  DSV32_RETURN_IF_ERROR(ParseOptions(request, &out.options));

  if (const OrderedJson* tools = Field(request, "tools")) {
    ChatMessage holder;
    holder.role = Role::kSystem;
    DSV32_RETURN_IF_ERROR(ParseTools(*tools, "tools", &holder.tool_schemas));
    if (!holder.tool_schemas.empty()) out.messages.push_back(std::move(holder));
  }

  const OrderedJson* messages = Field(request, "messages");
  if (!messages) return SchemaError("messages", "missing");
  if (!messages->is_array()) return WrongType("messages", "an array", *messages);
  for (size_t i = 0; i < messages->size(); ++i) {
    DSV32_ASSIGN_OR_RETURN(ChatMessage message, ParseMessage((*messages)[i], i));
    out.messages.push_back(std::move(message));
  }
  return out;
}

}  // namespace dsv32::chat
