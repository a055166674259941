#include "structured/json_schema.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace dsv32::structured {

namespace {

// ordered_json keeps the declared order of an object's keys (properties).
using json = nlohmann::ordered_json;

std::vector<CodepointRange> Intersect(const std::vector<CodepointRange>& a,
                                      const std::vector<CodepointRange>& b) {
  std::vector<CodepointRange> out;
  for (const CodepointRange& x : a)
    for (const CodepointRange& y : b) {
      const uint32_t lo = std::max(x.lo, y.lo), hi = std::min(x.hi, y.hi);
      if (lo <= hi) out.push_back({lo, hi});
    }
  return out;
}

bool Contains(const std::vector<CodepointRange>& set, uint32_t cp) {
  return std::any_of(set.begin(), set.end(),
                     [&](const CodepointRange& r) { return r.lo <= cp && cp <= r.hi; });
}

// Characters a JSON string may hold as themselves.
const std::vector<CodepointRange>& RawStringChars() {
  static const std::vector<CodepointRange> kRaw = Complement({{0, 0x1F}, {'"', '"'}, {'\\', '\\'}});
  return kRaw;
}

Regex HexDigit() { return Set({{'0', '9'}, {'A', 'F'}, {'a', 'f'}}); }

// One character of a JSON string, escaped or not.
Regex AnyStringChar() {
  const Regex hex_not_surrogate = Alt({
      Concat({Set({{'0', '9'}, {'A', 'C'}, {'E', 'F'}, {'a', 'c'}, {'e', 'f'}}), HexDigit(),
              HexDigit(), HexDigit()}),
      Concat({Set({{'D', 'D'}, {'d', 'd'}}), Set({{'0', '7'}}), HexDigit(), HexDigit()}),
  });
  return Alt({
      Set(RawStringChars()),
      Concat({Char('\\'), Set({{'"', '"'},
                               {'/', '/'},
                               {'\\', '\\'},
                               {'b', 'b'},
                               {'f', 'f'},
                               {'n', 'n'},
                               {'r', 'r'},
                               {'t', 't'}})}),
      Concat({Literal("\\u"), hex_not_surrogate}),
  });
}

// The JSON spellings of one character from `set`.
Regex EncodeSet(const std::vector<CodepointRange>& set) {
  std::vector<Regex> options;
  if (auto raw = Intersect(set, RawStringChars()); !raw.empty()) options.push_back(Set(raw));
  static const std::pair<uint32_t, const char*> kShort[] = {
      {'"', "\\\""}, {'\\', "\\\\"}, {'/', "\\/"},  {0x08, "\\b"},
      {0x0C, "\\f"}, {0x0A, "\\n"},  {0x0D, "\\r"}, {0x09, "\\t"}};
  for (const auto& [cp, spelled] : kShort)
    if (Contains(set, cp)) options.push_back(Literal(spelled));
  for (uint32_t cp = 0; cp < 0x20; ++cp) {
    if (!Contains(set, cp) || cp == 0x08 || cp == 0x09 || cp == 0x0A || cp == 0x0C || cp == 0x0D)
      continue;
    const uint32_t low = cp & 0xF;
    std::vector<CodepointRange> digit = {
        {low < 10 ? '0' + low : 'a' + low - 10, low < 10 ? '0' + low : 'a' + low - 10}};
    if (low >= 10) digit.push_back({'A' + low - 10, 'A' + low - 10});
    options.push_back(Concat({Literal("\\u00"), Char('0' + (cp >> 4)), Set(digit)}));
  }
  return Alt(std::move(options));
}

Regex EncodeContent(const Regex& r) {
  switch (r->kind) {
    case RegexNode::Kind::kSet:
      return EncodeSet(r->ranges);
    case RegexNode::Kind::kRepeat:
      return Repeat(EncodeContent(r->children[0]), r->min, r->max);
    case RegexNode::Kind::kConcat:
    case RegexNode::Kind::kAlt: {
      std::vector<Regex> children;
      for (const Regex& c : r->children) children.push_back(EncodeContent(c));
      return r->kind == RegexNode::Kind::kConcat ? Concat(std::move(children))
                                                 : Alt(std::move(children));
    }
    // Patterns never parse to automata: those are built for raw text only.
    case RegexNode::Kind::kAutomaton:
      return r;
  }
  return r;
}

Regex Whitespace(int32_t max) {
  return Repeat(Set({{'\t', '\n'}, {'\r', '\r'}, {' ', ' '}}), 0, max);
}

Regex Digits(int32_t min, int32_t max) { return Repeat(Set({{'0', '9'}}), min, max); }

Regex IntegerRegex() {
  return Concat(
      {Optional(Char('-')), Alt({Char('0'), Concat({Set({{'1', '9'}}), Digits(0, 17)})})});
}

// Decimal digit strings from a to b, both `a.size()` digits long: split at
// the first digit where they differ, as any interval of fixed-width numbers.
Regex SameLengthRange(std::string_view a, std::string_view b) {
  if (a.empty()) return Empty();
  if (a[0] == b[0])
    return Concat({Char(static_cast<uint8_t>(a[0])), SameLengthRange(a.substr(1), b.substr(1))});
  const size_t rest = a.size() - 1;
  const bool a_lowest = a.find_first_not_of('0', 1) == std::string_view::npos;
  const bool b_highest = b.find_first_not_of('9', 1) == std::string_view::npos;
  std::vector<Regex> options;
  if (!a_lowest)
    options.push_back(Concat(
        {Char(static_cast<uint8_t>(a[0])), SameLengthRange(a.substr(1), std::string(rest, '9'))}));
  const char mid_lo = static_cast<char>(a[0] + (a_lowest ? 0 : 1));
  const char mid_hi = static_cast<char>(b[0] - (b_highest ? 0 : 1));
  if (mid_lo <= mid_hi)
    options.push_back(Concat({Set({{static_cast<uint32_t>(mid_lo), static_cast<uint32_t>(mid_hi)}}),
                              Digits(static_cast<int32_t>(rest), static_cast<int32_t>(rest))}));
  if (!b_highest)
    options.push_back(Concat(
        {Char(static_cast<uint8_t>(b[0])), SameLengthRange(std::string(rest, '0'), b.substr(1))}));
  return Alt(std::move(options));
}

// Non-negative integers in [lo, hi], without leading zeros.
Regex MagnitudeRange(int64_t lo, int64_t hi) {
  std::vector<Regex> options;
  int64_t width_start = 1;  // the smallest number of the current width
  for (int digits = 1; digits <= 18 && width_start <= hi; ++digits, width_start *= 10) {
    const int64_t first = std::max(lo, digits == 1 ? 0 : width_start);
    const int64_t last = std::min(hi, width_start * 10 - 1);
    if (first <= last)
      options.push_back(SameLengthRange(std::to_string(first), std::to_string(last)));
  }
  return Alt(std::move(options));
}

// Integers in [lo, hi]; |bounds| below 10^18.
Regex IntegerRange(int64_t lo, int64_t hi) {
  std::vector<Regex> options;
  if (lo < 0) options.push_back(Concat({Char('-'), MagnitudeRange(hi < 0 ? -hi : 1, -lo)}));
  if (hi >= 0) options.push_back(MagnitudeRange(std::max<int64_t>(lo, 0), hi));
  return Alt(std::move(options));
}

Regex NumberRegex() {
  return Concat({IntegerRegex(), Optional(Concat({Char('.'), Digits(1, 17)})),
                 Optional(Concat({Set({{'E', 'E'}, {'e', 'e'}}),
                                  Optional(Set({{'+', '+'}, {'-', '-'}})), Digits(1, 3)}))});
}

Regex AnyString() { return Concat({Char('"'), Repeat(AnyStringChar(), 0, -1), Char('"')}); }

Regex ScalarRegex() {
  return Alt({AnyString(), NumberRegex(), Literal("true"), Literal("false"), Literal("null")});
}

// "[ a, b, ... ]" with between `min` and `max` (-1: any number) items.
Regex ArrayOf(const Regex& item, int32_t min, int32_t max, int32_t ws) {
  const Regex sep = Concat({Whitespace(ws), Char(','), Whitespace(ws)});
  Regex items;
  if (max == 0) {
    items = Empty();
  } else {
    Regex more = Repeat(Concat({sep, item}), std::max(min, 1) - 1, max < 0 ? -1 : max - 1);
    items = Concat({item, more});
    if (min == 0) items = Optional(items);
  }
  return Concat({Char('['), Whitespace(ws), items, Whitespace(ws), Char(']')});
}

Regex AnyObject(const Regex& value, int32_t ws) {
  const Regex member = Concat({AnyString(), Whitespace(ws), Char(':'), Whitespace(ws), value});
  const Regex sep = Concat({Whitespace(ws), Char(','), Whitespace(ws)});
  return Concat({Char('{'), Whitespace(ws),
                 Optional(Concat({member, Repeat(Concat({sep, member}), 0, -1)})), Whitespace(ws),
                 Char('}')});
}

const std::set<std::string> kAnnotations = {"title",    "description", "default",  "examples",
                                            "$schema",  "$id",         "$comment", "deprecated",
                                            "readOnly", "writeOnly",   "$defs",    "definitions"};

class SchemaCompiler {
 public:
  SchemaCompiler(const json& root, const JsonSchemaOptions& o) : root_(root), o_(o) {}

  Result<Regex> Compile(const json& s, const std::string& path) {
    // Compilation recurses over the schema: its depth stays bounded.
    if (depth_ == kMaxDepth)
      return Unsupported(path + ": schemas nested deeper than " + std::to_string(kMaxDepth));
    ++depth_;
    Result<Regex> r = CompileSchema(s, path);
    --depth_;
    return r;
  }

 private:
  static constexpr int kMaxDepth = 64;

  Result<Regex> CompileSchema(const json& s, const std::string& path) {
    if (s.is_boolean()) {
      if (s.get<bool>()) return AnyJsonValue(o_.any_depth, o_.max_whitespace);
      return InvalidArgument(path + ": the schema false matches nothing");
    }
    if (!s.is_object()) return InvalidArgument(path + ": a schema must be an object or a boolean");
    for (const auto& [key, _] : s.items())
      if (!kAnnotations.contains(key) && !kHandled.contains(key))
        return Unsupported(path + "." + key + ": the keyword '" + key + "' is not supported");

    if (s.contains("$ref")) return Ref(s, path);
    if (s.contains("const")) return LiteralValue(s["const"]);
    if (s.contains("enum")) return Enum(s, path);
    for (const char* key : {"anyOf", "oneOf", "allOf"})
      if (s.contains(key)) return Combination(s, key, path);

    std::vector<std::string> types;
    if (s.contains("type")) {
      const json& t = s["type"];
      if (t.is_string()) {
        types.push_back(t.get<std::string>());
      } else if (t.is_array() && !t.empty()) {
        for (const json& x : t) {
          if (!x.is_string()) return InvalidArgument(path + ".type: names must be strings");
          types.push_back(x.get<std::string>());
        }
      } else {
        return InvalidArgument(path + ".type: must be a type name or a non-empty list of them");
      }
    } else if (s.contains("properties") || s.contains("required") ||
               s.contains("additionalProperties")) {
      types.push_back("object");
    } else if (s.contains("items") || s.contains("minItems") || s.contains("maxItems")) {
      types.push_back("array");
    } else if (s.contains("minLength") || s.contains("maxLength") || s.contains("pattern") ||
               s.contains("format")) {
      types.push_back("string");
    } else if (s.contains("minimum") || s.contains("maximum") || s.contains("exclusiveMinimum") ||
               s.contains("exclusiveMaximum")) {
      types.push_back("number");
    } else {
      return AnyJsonValue(o_.any_depth, o_.max_whitespace);
    }
    std::vector<Regex> options;
    for (const std::string& t : types) {
      Result<Regex> r = Type(s, t, path);
      if (!r.ok()) return r;
      options.push_back(std::move(r).value());
    }
    return Alt(std::move(options));
  }

  inline static const std::set<std::string> kHandled = {"type",
                                                        "properties",
                                                        "required",
                                                        "additionalProperties",
                                                        "enum",
                                                        "const",
                                                        "anyOf",
                                                        "oneOf",
                                                        "allOf",
                                                        "items",
                                                        "minItems",
                                                        "maxItems",
                                                        "minLength",
                                                        "maxLength",
                                                        "pattern",
                                                        "format",
                                                        "$ref",
                                                        "minimum",
                                                        "maximum",
                                                        "exclusiveMinimum",
                                                        "exclusiveMaximum"};

  // Integers between minimum / exclusiveMinimum and maximum /
  // exclusiveMaximum, where given.
  Result<Regex> Integer(const json& s, const std::string& path) {
    constexpr double kLimit = 999'999'999'999'999'999.0;  // 18 digits
    double lo = -kLimit, hi = kLimit;
    for (const char* key : {"minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"}) {
      if (!s.contains(key)) continue;
      if (!s[key].is_number()) return InvalidArgument(path + "." + key + ": must be a number");
      const double v = s[key].get<double>();
      const std::string_view k = key;
      if (k == "minimum") lo = std::max(lo, std::ceil(v));
      if (k == "exclusiveMinimum") lo = std::max(lo, std::floor(v) + 1);
      if (k == "maximum") hi = std::min(hi, std::floor(v));
      if (k == "exclusiveMaximum") hi = std::min(hi, std::ceil(v) - 1);
    }
    if (lo > hi) return InvalidArgument(path + ": the bounds leave no integer");
    if (lo == -kLimit && hi == kLimit) return IntegerRegex();
    return IntegerRange(static_cast<int64_t>(std::max(lo, -kLimit)),
                        static_cast<int64_t>(std::min(hi, kLimit)));
  }

  Result<Regex> Type(const json& s, const std::string& t, const std::string& path) {
    if (t == "string") return String(s, path);
    if (t == "number") {
      for (const char* key : {"minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"})
        if (s.contains(key))
          return Unsupported(path + "." + key + ": bounds on numbers (only on integers)");
      return NumberRegex();
    }
    if (t == "integer") return Integer(s, path);
    if (t == "boolean") return Alt({Literal("true"), Literal("false")});
    if (t == "null") return Literal("null");
    if (t == "object") return Object(s, path);
    if (t == "array") return Array(s, path);
    return InvalidArgument(path + ".type: unknown type '" + t + "'");
  }

  Result<int32_t> Count(const json& s, const char* key, const std::string& path, int32_t dflt) {
    if (!s.contains(key)) return dflt;
    const json& v = s[key];
    if (!v.is_number_integer() &&
        !(v.is_number_float() && v.get<double>() == std::floor(v.get<double>())))
      return InvalidArgument(path + "." + key + ": must be a non-negative integer");
    const double d = v.get<double>();
    if (d < 0) return InvalidArgument(path + "." + key + ": must be a non-negative integer");
    if (d > kMaxRepeatCount)
      return Unsupported(path + "." + key + ": values above " + std::to_string(kMaxRepeatCount) +
                         " are not supported");
    return static_cast<int32_t>(d);
  }

  Result<Regex> String(const json& s, const std::string& path) {
    DSV32_ASSIGN_OR_RETURN(const int32_t min, Count(s, "minLength", path, 0));
    DSV32_ASSIGN_OR_RETURN(const int32_t max, Count(s, "maxLength", path, -1));
    if (max >= 0 && min > max)
      return InvalidArgument(path + ": minLength " + std::to_string(min) + " > maxLength " +
                             std::to_string(max) + " matches no string");
    const bool lengths = s.contains("minLength") || s.contains("maxLength");
    if (s.contains("pattern") || s.contains("format")) {
      if (lengths)
        return Unsupported(path + ": pattern or format together with minLength / maxLength");
      if (s.contains("pattern") && s.contains("format"))
        return Unsupported(path + ": pattern together with format");
      std::string pattern;
      std::string where = path + ".pattern";
      if (s.contains("pattern")) {
        if (!s["pattern"].is_string()) return InvalidArgument(where + ": must be a string");
        pattern = s["pattern"].get<std::string>();
      } else {
        where = path + ".format";
        if (!s["format"].is_string()) return InvalidArgument(where + ": must be a string");
        const std::string f = s["format"].get<std::string>();
        static const std::map<std::string, std::string> kFormats = {
            {"date", "[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"},
            {"time",
             "([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-"
             "5][0-9])"},
            {"date-time",
             "[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-"
             "5][0-9](\\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"},
            {"uuid",
             "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"}};
        auto it = kFormats.find(f);
        if (it == kFormats.end())
          return Unsupported(where + ": the format '" + f + "' is not supported");
        pattern = it->second;
      }
      auto content = ParseRegex(pattern);
      if (!content.ok()) return content.status().WithContext(where);
      return JsonStringOf(content.value());
    }
    return Concat({Char('"'), Repeat(AnyStringChar(), min, max), Char('"')});
  }

  Result<Regex> Array(const json& s, const std::string& path) {
    DSV32_ASSIGN_OR_RETURN(const int32_t min, Count(s, "minItems", path, 0));
    DSV32_ASSIGN_OR_RETURN(const int32_t max, Count(s, "maxItems", path, -1));
    if (max >= 0 && min > max)
      return InvalidArgument(path + ": minItems " + std::to_string(min) + " > maxItems " +
                             std::to_string(max) + " matches no array");
    Regex item;
    if (s.contains("items")) {
      if (s["items"].is_array())
        return Unsupported(path + ".items: a list of item schemas (tuple validation)");
      DSV32_ASSIGN_OR_RETURN(item, Compile(s["items"], path + ".items"));
    } else {
      item = AnyJsonValue(o_.any_depth - 1, o_.max_whitespace);
    }
    return ArrayOf(item, min, max, o_.max_whitespace);
  }

  Result<Regex> Object(const json& s, const std::string& path) {
    if (s.contains("additionalProperties")) {
      const json& a = s["additionalProperties"];
      if (!a.is_boolean() || a.get<bool>())
        return Unsupported(path + ".additionalProperties: only false is supported");
    }
    const int32_t ws = o_.max_whitespace;
    if (!s.contains("properties")) {
      if (s.contains("required") && !s["required"].empty())
        return Unsupported(path + ".required: required members without properties");
      if (s.contains("additionalProperties")) return Concat({Char('{'), Whitespace(ws), Char('}')});
      return AnyObject(AnyJsonValue(o_.any_depth - 1, ws), ws);
    }
    const json& props = s["properties"];
    if (!props.is_object()) return InvalidArgument(path + ".properties: must be an object");
    std::set<std::string> required;
    if (s.contains("required")) {
      const json& r = s["required"];
      if (!r.is_array()) return InvalidArgument(path + ".required: must be a list of names");
      for (size_t i = 0; i < r.size(); ++i) {
        if (!r[i].is_string())
          return InvalidArgument(path + ".required[" + std::to_string(i) + "]: must be a string");
        const std::string name = r[i].get<std::string>();
        if (!props.contains(name))
          return InvalidArgument(path + ".required[" + std::to_string(i) + "]: '" + name +
                                 "' is not among the properties, so no object matches");
        required.insert(name);
      }
    }
    struct Member {
      Regex regex;
      bool required;
    };
    std::vector<Member> members;
    for (const auto& [name, schema] : props.items()) {
      auto value = Compile(schema, path + ".properties." + name);
      if (!value.ok()) return value;
      members.push_back({Concat({Literal(json(name).dump()), Whitespace(ws), Char(':'),
                                 Whitespace(ws), std::move(value).value()}),
                         required.contains(name)});
    }
    const Regex sep = Concat({Whitespace(ws), Char(','), Whitespace(ws)});
    // Whichever member comes first has no comma before it; it can be any
    // member up to the first required one.
    std::vector<Regex> firsts;
    bool any_required = false;
    for (size_t first = 0; first < members.size(); ++first) {
      std::vector<Regex> seq{members[first].regex};
      for (size_t k = first + 1; k < members.size(); ++k) {
        Regex m = Concat({sep, members[k].regex});
        seq.push_back(members[k].required ? m : Optional(m));
      }
      firsts.push_back(Concat(std::move(seq)));
      if (members[first].required) {
        any_required = true;
        break;
      }
    }
    Regex body = Alt(std::move(firsts));
    if (!any_required) body = Optional(body);
    return Concat({Char('{'), Whitespace(ws), body, Whitespace(ws), Char('}')});
  }

  Regex LiteralValue(const json& v) { return Literal(v.dump()); }

  Result<Regex> Enum(const json& s, const std::string& path) {
    const json& e = s["enum"];
    if (!e.is_array()) return InvalidArgument(path + ".enum: must be a list");
    if (e.empty()) return InvalidArgument(path + ".enum: an empty list matches nothing");
    std::vector<Regex> options;
    for (const json& v : e) options.push_back(LiteralValue(v));
    return Alt(std::move(options));
  }

  Result<Regex> Combination(const json& s, const char* key, const std::string& path) {
    const json& list = s[key];
    const std::string where = path + "." + key;
    if (!list.is_array() || list.empty())
      return InvalidArgument(where + ": must be a non-empty list of schemas");
    for (const auto& [k, _] : s.items())
      if (k != key && !kAnnotations.contains(k))
        return Unsupported(where + ": '" + key + "' beside the keyword '" + k + "'");
    if (std::string_view(key) == "allOf") {
      if (list.size() != 1) return Unsupported(where + ": allOf of more than one schema");
      return Compile(list[0], where + "[0]");
    }
    std::vector<Regex> options;
    for (size_t i = 0; i < list.size(); ++i) {
      auto r = Compile(list[i], where + "[" + std::to_string(i) + "]");
      if (!r.ok()) return r;
      options.push_back(std::move(r).value());
    }
    return Alt(std::move(options));
  }

  Result<Regex> Ref(const json& s, const std::string& path) {
    const std::string where = path + ".$ref";
    for (const auto& [k, _] : s.items())
      if (k != "$ref" && !kAnnotations.contains(k))
        return Unsupported(where + ": $ref beside the keyword '" + k + "'");
    if (!s["$ref"].is_string()) return InvalidArgument(where + ": must be a string");
    const std::string ref = s["$ref"].get<std::string>();
    const json* target = nullptr;
    std::string target_path;
    if (ref == "#") {
      target = &root_;
      target_path = "schema";
    } else {
      for (const char* prefix : {"#/$defs/", "#/definitions/"}) {
        if (!ref.starts_with(prefix)) continue;
        const std::string container(prefix + 2, std::string_view(prefix).size() - 3);
        const std::string name = ref.substr(std::string_view(prefix).size());
        if (root_.contains(container) && root_[container].is_object() &&
            root_[container].contains(name)) {
          target = &root_[container][name];
          target_path = "schema." + container + "." + name;
        }
      }
      if (!target && !ref.starts_with("#/"))
        return Unsupported(where + ": '" + ref + "' (only references within the schema)");
      if (!target) return InvalidArgument(where + ": '" + ref + "' names no definition");
    }
    if (std::find(active_refs_.begin(), active_refs_.end(), ref) != active_refs_.end())
      return Unsupported(where + ": the recursive reference '" + ref + "'");
    active_refs_.push_back(ref);
    auto r = Compile(*target, target_path);
    active_refs_.pop_back();
    return r;
  }

  const json& root_;
  JsonSchemaOptions o_;
  std::vector<std::string> active_refs_;
  int depth_ = 0;
};

}  // namespace

Regex JsonStringOf(const Regex& content) {
  return Concat({Char('"'), EncodeContent(content), Char('"')});
}

Regex AnyJsonValue(int32_t depth, int32_t max_whitespace) {
  const Regex scalar = ScalarRegex();
  if (depth <= 0) return scalar;
  const Regex inner = AnyJsonValue(depth - 1, max_whitespace);
  return Alt({scalar, AnyObject(inner, max_whitespace), ArrayOf(inner, 0, -1, max_whitespace)});
}

Result<Regex> JsonSchemaToRegex(std::string_view schema_json, const JsonSchemaOptions& options) {
  if (options.max_whitespace < 0 || options.max_whitespace > 64 || options.any_depth < 1 ||
      options.any_depth > 8)
    return InvalidArgument("json schema: max_whitespace must be in [0, 64], any_depth in [1, 8]");
  const json root = json::parse(schema_json, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return InvalidArgument("schema: not valid JSON");
  return SchemaCompiler(root, options).Compile(root, "schema");
}

}  // namespace dsv32::structured
