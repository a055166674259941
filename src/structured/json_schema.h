// JSON Schema to a regular expression over JSON text, for the subset serving
// engines support:
//   type (one or a list): object, array, string, number, integer, boolean, null
//   properties with required (members in declared order; optional ones may
//     be left out), additionalProperties false (assumed when properties is
//     given; true or a schema is Unsupported)
//   minimum, maximum, exclusiveMinimum, exclusiveMaximum on integers
//   enum, const (the values' compact JSON text), anyOf / oneOf (either
//     branch; oneOf's exclusivity is not enforced), allOf of one schema
//   items, minItems, maxItems
//   minLength, maxLength (in characters), pattern (a whole-match regex of
//     structured/regex.h over the decoded characters), format date, time,
//     date-time, uuid
//   $ref to #, #/$defs/NAME or #/definitions/NAME (not recursive)
//   annotations (title, description, default, examples, $schema, $id,
//     $comment, deprecated, readOnly, writeOnly) are ignored
// Any other keyword is an Unsupported error, and a schema no JSON value can
// satisfy (enum: [], minLength > maxLength, bounds with no integer between,
// a required name not among the properties, false) is InvalidArgument; both
// name the schema path, e.g.
// "schema.properties.tags.maxItems: ...".
//
// An object schema without properties, an array without items and the
// empty schema {} stand for any JSON value of their type, nested at most
// `any_depth` levels deep (a DFA cannot count brackets without a bound).
// `{"type": "object"}` is thus JSON mode (OpenAI's response_format
// json_object).
//
// Between structural tokens up to `max_whitespace` characters of
// whitespace (space, tab, newline, carriage return) are allowed, none
// before or after the value. Numbers have at most 18 integer digits, 17
// fraction digits and 3 exponent digits, so they stay finite in a double
// and an integer fits int64. Strings contain no raw control characters;
// \" \\ \/ \b \f \n \r \t and \uXXXX (not a surrogate) escapes are allowed.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/status.h"
#include "structured/regex.h"

namespace dsv32::structured {

struct JsonSchemaOptions {
  int32_t max_whitespace = 1;
  int32_t any_depth = 3;
};

Result<Regex> JsonSchemaToRegex(std::string_view schema_json,
                                const JsonSchemaOptions& options = {});

// Any JSON value nested at most `depth` levels (0: scalars only).
Regex AnyJsonValue(int32_t depth, int32_t max_whitespace);

// The strings a JSON string literal may spell to mean a string that
// `content` matches (quotes included): characters JSON must escape are
// matched in their escaped forms, the others as themselves.
Regex JsonStringOf(const Regex& content);

}  // namespace dsv32::structured
