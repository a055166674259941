// JSON text written byte for byte as Python's json.dumps(value,
// ensure_ascii=False) writes it: ", " and ": " separators, keys in input
// order, floats in repr() form, non-ASCII left as is. The reference prompt
// format embeds tool schemas, response formats and tool-call arguments this
// way, so the prompt only matches if the serialization does.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace dsv32::chat {

using OrderedJson = nlohmann::ordered_json;

// Appends `value` serialized as Python would.
void AppendPythonJson(const OrderedJson& value, std::string* out);
std::string PythonJson(const OrderedJson& value);

// Appends the body of a JSON string literal for `text` (no surrounding
// quotes), escaping as Python does. Works on any split of the text, since
// only ASCII bytes are escaped.
void AppendJsonEscaped(std::string_view text, std::string* out);

// Python's repr() of a finite double: shortest round-trip digits, fixed
// notation for exponents in [-4, 16), scientific otherwise.
std::string PythonFloatRepr(double v);

// Python's truth value of a JSON value (null, false, 0, "", [] and {} are false).
bool PythonTruthy(const OrderedJson& value);

}  // namespace dsv32::chat
