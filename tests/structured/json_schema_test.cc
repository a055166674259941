// JSON Schema compilation against hand-written JSON texts, and its errors.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "structured/dfa.h"
#include "structured/json_schema.h"

namespace dsv32::structured {
namespace {

Dfa Compile(const std::string& schema, const JsonSchemaOptions& options = {}) {
  auto re = JsonSchemaToRegex(schema, options);
  EXPECT_TRUE(re.ok()) << schema << ": " << re.status().message();
  auto dfa = Dfa::Compile(re.value());
  EXPECT_TRUE(dfa.ok()) << schema << ": " << dfa.status().message();
  return std::move(dfa).value();
}

void ExpectJson(const std::string& schema, const std::vector<std::string>& accept,
                const std::vector<std::string>& reject, const JsonSchemaOptions& options = {}) {
  const Dfa dfa = Compile(schema, options);
  for (const std::string& s : accept) EXPECT_TRUE(dfa.Matches(s)) << schema << " vs " << s;
  for (const std::string& s : reject) EXPECT_FALSE(dfa.Matches(s)) << schema << " vs " << s;
}

TEST(JsonSchemaTest, Scalars) {
  ExpectJson(R"({"type":"integer"})", {"0", "-7", "123456789012345678"},
             {"01", "1.0", "+1", "-", "1234567890123456789", ""});
  ExpectJson(R"({"type":"number"})", {"0", "-0.5", "3.25e10", "1E-3", "2e+7"},
             {".5", "1.", "1e", "0x10", "NaN"});
  ExpectJson(R"({"type":"boolean"})", {"true", "false"}, {"True", "1"});
  ExpectJson(R"({"type":"null"})", {"null"}, {"nil", ""});
  ExpectJson(R"({"type":["integer","null"]})", {"5", "null"}, {"true"});
}

TEST(JsonSchemaTest, IntegerBounds) {
  ExpectJson(R"({"type":"integer","minimum":-15,"maximum":123})",
             {"-15", "-9", "-1", "0", "7", "10", "99", "100", "119", "123"},
             {"-16", "-0", "124", "130", "200", "1000", "01", "-100"});
  ExpectJson(R"({"type":"integer","exclusiveMinimum":0})", {"1", "42", "999999999999999999"},
             {"0", "-1"});
  ExpectJson(R"({"type":"integer","minimum":1.5,"exclusiveMaximum":1000})", {"2", "999"},
             {"1", "1000"});
  ExpectJson(R"({"type":"integer","maximum":-3})", {"-3", "-1000"}, {"-2", "0", "3"});
  ExpectJson(R"({"type":"integer","minimum":7,"maximum":7})", {"7"}, {"6", "8"});
  const Dfa dfa = Compile(R"({"type":"integer","minimum":-1000,"maximum":98765})");
  for (int v = -1100; v <= 99000; v += 7)
    EXPECT_EQ(dfa.Matches(std::to_string(v)), v >= -1000 && v <= 98765) << v;
}

TEST(JsonSchemaTest, Strings) {
  ExpectJson(R"({"type":"string"})",
             {R"("")", R"("hi there")", R"("a\"b\\c\/\n\t\u00e9\uFFFF")", "\"中文\""},
             {R"("a)", R"("a"b")", "\"a\nb\"", R"("\x")", R"("\ud800")", R"('a')"});
  ExpectJson(R"({"type":"string","minLength":2,"maxLength":3})",
             {R"("ab")", R"("abc")", R"("\n\u0041")", "\"中文\""}, {R"("a")", R"("abcd")"});
  ExpectJson(R"({"type":"string","pattern":"^[a-z]+@[a-z]+\\.com$"})", {R"("me@site.com")"},
             {R"("Me@site.com")", R"("me@site.org")"});
  // Characters JSON must escape are matched escaped.
  ExpectJson(R"({"type":"string","pattern":"a\"b\\\\c\\nd"})", {R"("a\"b\\c\nd")"},
             {"\"a\"b\\c\nd\""});
  ExpectJson(R"({"type":"string","format":"date"})", {R"("2024-02-29")"},
             {R"("2024-13-01")", R"("24-01-01")"});
  ExpectJson(R"({"format":"uuid"})", {R"("123e4567-e89b-12d3-a456-426614174000")"},
             {R"("123e4567e89b12d3a456426614174000")"});
  ExpectJson(R"({"type":"string","format":"date-time"})",
             {R"("2024-01-02T03:04:05Z")", R"("2024-01-02T03:04:05.123+05:30")"},
             {R"("2024-01-02 03:04:05Z")"});
}

TEST(JsonSchemaTest, EnumAndConst) {
  ExpectJson(R"({"enum":["red","green",3,null,{"a":[1]}]})",
             {R"("red")", R"("green")", "3", "null", R"({"a":[1]})"}, {R"("blue")", "4"});
  ExpectJson(R"({"const":"exact"})", {R"("exact")"}, {R"("other")"});
}

TEST(JsonSchemaTest, ObjectsKeepDeclaredOrderAndRequired) {
  const std::string schema = R"({"type":"object","properties":{
      "name":{"type":"string"},"age":{"type":"integer"},"tags":{"type":"array","items":{"type":"string"}}},
      "required":["name"],"additionalProperties":false})";
  ExpectJson(schema,
             {R"({"name":"a"})", R"({"name":"a","age":3})", R"({"name":"a","tags":[]})",
              R"({"name":"a","age":3,"tags":["x","y"]})", R"({ "name": "a", "age": 3 })"},
             {R"({})", R"({"age":3})", R"({"age":3,"name":"a"})", R"({"name":"a",})",
              R"({"name":"a","other":1})", R"({"name":1})", R"({"name":"a","age":3.5})"});
  // Everything optional: any ordered subset, the empty object included.
  ExpectJson(
      R"({"properties":{"a":{"type":"integer"},"b":{"type":"integer"},"c":{"type":"integer"}}})",
      {"{}", R"({"b":1})", R"({"a":1,"c":2})", R"({"a":1,"b":2,"c":3})"},
      {R"({,"b":1})", R"({"c":1,"a":2})", R"({"a":1"b":2})"});
  ExpectJson(R"({"type":"object","properties":{},"additionalProperties":false})", {"{}"},
             {R"({"a":1})"});
}

TEST(JsonSchemaTest, Arrays) {
  ExpectJson(R"({"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":3})",
             {"[1]", "[1,2,3]", "[ 1 , 2 ]"}, {"[]", "[1,2,3,4]", "[1,]", "[,1]"});
  ExpectJson(R"({"type":"array","items":{"type":"integer"},"maxItems":0})", {"[]"}, {"[1]"});
  ExpectJson(R"({"type":"array","items":{"type":"integer"}})", {"[]", "[5,6,7,8,9,10]"}, {"[5 6]"});
}

TEST(JsonSchemaTest, CombinationsAndReferences) {
  ExpectJson(R"({"anyOf":[{"type":"integer"},{"type":"string","maxLength":1}]})", {"1", R"("a")"},
             {R"("ab")", "true"});
  ExpectJson(R"({"oneOf":[{"const":1},{"const":2}],"description":"one or two"})", {"1", "2"},
             {"3"});
  ExpectJson(R"({"allOf":[{"type":"boolean"}]})", {"true"}, {"1"});
  ExpectJson(
      R"({"$defs":{"point":{"type":"object","properties":{"x":{"type":"number"},"y":{"type":"number"}},"required":["x","y"]}},
                 "type":"object","properties":{"from":{"$ref":"#/$defs/point"},"to":{"$ref":"#/$defs/point"}},"required":["from","to"]})",
      {R"({"from":{"x":1,"y":2},"to":{"x":3.5,"y":-1}})"},
      {R"({"from":{"x":1},"to":{"x":3,"y":1}})"});
  ExpectJson(R"({"definitions":{"n":{"type":"null"}},"items":{"$ref":"#/definitions/n"}})",
             {"[null,null]"}, {"[1]"});
}

TEST(JsonSchemaTest, FreeFormJsonIsBoundedInDepth) {
  JsonSchemaOptions o;
  o.any_depth = 2;
  ExpectJson(R"({"type":"object"})", {"{}", R"({"a":1,"b":[true,null],"c":{"d":"e"}})"},
             {"[]", "1", R"({"a":{"b":{"c":1}}})", R"({"a":1,})"}, o);
  ExpectJson("{}", {"1", R"("s")", "[1,[2]]", R"({"a":[]})"}, {"[[[1]]]", "tru"}, o);
  ExpectJson("true", {"null", "[]"}, {"nul"}, o);
}

TEST(JsonSchemaTest, WhitespaceIsBounded) {
  JsonSchemaOptions o;
  o.max_whitespace = 0;
  ExpectJson(R"({"items":{"type":"integer"}})", {"[1,2]"}, {"[1, 2]", " [1]"}, o);
  o.max_whitespace = 4;
  ExpectJson(R"({"items":{"type":"integer"}})", {"[\n  1,\n  2\n]"}, {"[1,      2]", "[1] "}, o);
}

void ExpectError(const std::string& schema, StatusCode code, const std::string& says) {
  auto re = JsonSchemaToRegex(schema);
  Status s = re.status();
  if (re.ok()) s = Dfa::Compile(re.value()).status();
  ASSERT_FALSE(s.ok()) << schema;
  EXPECT_EQ(s.code(), code) << schema << ": " << s.message();
  EXPECT_NE(s.message().find(says), std::string::npos) << schema << ": " << s.message();
}

TEST(JsonSchemaTest, UnsatisfiableSchemasAreErrors) {
  ExpectError(R"({"enum":[]})", StatusCode::kInvalidArgument, "schema.enum: an empty list");
  ExpectError(R"({"type":"integer","minimum":5,"exclusiveMaximum":5})",
              StatusCode::kInvalidArgument, "schema: the bounds leave no integer");
  ExpectError(R"({"properties":{"name":{"type":"string","minLength":5,"maxLength":2}}})",
              StatusCode::kInvalidArgument, "schema.properties.name: minLength 5 > maxLength 2");
  ExpectError(R"({"type":"array","minItems":3,"maxItems":1})", StatusCode::kInvalidArgument,
              "minItems 3 > maxItems 1");
  ExpectError(R"({"properties":{"a":{}},"required":["a","b"]})", StatusCode::kInvalidArgument,
              "schema.required[1]: 'b' is not among the properties");
  ExpectError(R"({"properties":{"a":false}})", StatusCode::kInvalidArgument,
              "schema.properties.a: the schema false");
  ExpectError(R"({"type":"string","pattern":"[^\\s\\S]"})", StatusCode::kInvalidArgument,
              "matches no string");
  ExpectError(R"({"items":{"$ref":"#/$defs/missing"}})", StatusCode::kInvalidArgument,
              "schema.items.$ref: '#/$defs/missing' names no definition");
  ExpectError("{not json", StatusCode::kInvalidArgument, "not valid JSON");
  ExpectError(R"({"type":"strin"})", StatusCode::kInvalidArgument, "unknown type 'strin'");
}

TEST(JsonSchemaTest, UnsupportedKeywordsAreErrors) {
  ExpectError(R"({"properties":{"age":{"type":"integer","multipleOf":2}}})",
              StatusCode::kUnsupported,
              "schema.properties.age.multipleOf: the keyword 'multipleOf'");
  ExpectError(R"({"type":"number","maximum":2.5})", StatusCode::kUnsupported,
              "schema.maximum: bounds on numbers");
  ExpectError(R"({"minimum":0})", StatusCode::kUnsupported, "schema.minimum: bounds on numbers");
  ExpectError(R"({"type":"object","additionalProperties":{"type":"string"}})",
              StatusCode::kUnsupported, "schema.additionalProperties: only false");
  ExpectError(
      R"({"$defs":{"node":{"properties":{"next":{"$ref":"#/$defs/node"}}}},"$ref":"#/$defs/node"})",
      StatusCode::kUnsupported, "recursive reference");
  ExpectError(R"({"allOf":[{"type":"string"},{"maxLength":3}]})", StatusCode::kUnsupported,
              "allOf of more than one");
  ExpectError(R"({"type":"string","format":"email"})", StatusCode::kUnsupported,
              "schema.format: the format 'email'");
  ExpectError(R"j({"type":"string","pattern":"(?=a)"})j", StatusCode::kUnsupported,
              "schema.pattern: regex: lookaround");
  ExpectError(R"({"items":[{"type":"string"}]})", StatusCode::kUnsupported, "tuple");
  ExpectError(R"({"type":"object","required":["a"]})", StatusCode::kUnsupported,
              "schema.required: required members without properties");
  ExpectError(R"({"$ref":"https://example.com/s.json"})", StatusCode::kUnsupported,
              "only references within the schema");
  ExpectError(R"({"type":"string","pattern":"a","maxLength":2})", StatusCode::kUnsupported,
              "together with minLength");
  std::string deep;
  for (int i = 0; i < 1000; ++i) deep += R"({"items":)";
  deep += "{}" + std::string(1000, '}');
  ExpectError(deep, StatusCode::kUnsupported, "nested deeper than 64");
}

}  // namespace
}  // namespace dsv32::structured
