#include "chat/python_json.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace dsv32::chat {

void AppendJsonEscaped(std::string_view text, std::string* out) {
  for (const char c : text) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
          out->append(buf);
        } else {
          out->push_back(c);
        }
    }
  }
}

std::string PythonFloatRepr(double v) {
  // Shortest digits that round-trip, as "d.ddde±x"; then laid out the way
  // Python's float_repr_style 'short' does.
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));
  const bool negative = !sci.empty() && sci.front() == '-';
  if (negative) sci.remove_prefix(1);
  const size_t e_pos = sci.find('e');
  std::string digits;
  for (const char c : sci.substr(0, e_pos))
    if (c != '.') digits.push_back(c);
  const int exponent = std::atoi(std::string(sci.substr(e_pos + 1)).c_str());
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();

  std::string out = negative ? "-" : "";
  if (exponent >= -4 && exponent < 16) {
    const int point = exponent + 1;  // digits before the decimal point
    const int n = static_cast<int>(digits.size());
    if (point <= 0) {
      out.append("0.").append(static_cast<size_t>(-point), '0').append(digits);
    } else if (point >= n) {
      out.append(digits).append(static_cast<size_t>(point - n), '0').append(".0");
    } else {
      out.append(digits, 0, static_cast<size_t>(point))
          .append(".")
          .append(digits, static_cast<size_t>(point));
    }
    return out;
  }
  out.push_back(digits[0]);
  if (digits.size() > 1) out.append(".").append(digits, 1);
  char exp_buf[16];
  std::snprintf(exp_buf, sizeof(exp_buf), "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
  return out + exp_buf;
}

void AppendPythonJson(const OrderedJson& value, std::string* out) {
  switch (value.type()) {
    case OrderedJson::value_t::null: out->append("null"); return;
    case OrderedJson::value_t::boolean: out->append(value.get<bool>() ? "true" : "false"); return;
    case OrderedJson::value_t::number_integer:
      out->append(std::to_string(value.get<int64_t>()));
      return;
    case OrderedJson::value_t::number_unsigned:
      out->append(std::to_string(value.get<uint64_t>()));
      return;
    case OrderedJson::value_t::number_float: {
      const double d = value.get<double>();
      // Python writes the non-finite floats its parser accepts as bare words.
      if (std::isnan(d))
        out->append("NaN");
      else if (std::isinf(d))
        out->append(d > 0 ? "Infinity" : "-Infinity");
      else
        out->append(PythonFloatRepr(d));
      return;
    }
    case OrderedJson::value_t::string:
      out->push_back('"');
      AppendJsonEscaped(value.get_ref<const std::string&>(), out);
      out->push_back('"');
      return;
    case OrderedJson::value_t::array: {
      out->push_back('[');
      bool first = true;
      for (const auto& item : value) {
        if (!first) out->append(", ");
        first = false;
        AppendPythonJson(item, out);
      }
      out->push_back(']');
      return;
    }
    case OrderedJson::value_t::object: {
      out->push_back('{');
      bool first = true;
      for (const auto& [key, item] : value.items()) {
        if (!first) out->append(", ");
        first = false;
        out->push_back('"');
        AppendJsonEscaped(key, out);
        out->append("\": ");
        AppendPythonJson(item, out);
      }
      out->push_back('}');
      return;
    }
    case OrderedJson::value_t::binary:
    case OrderedJson::value_t::discarded: out->append("null"); return;
  }
}

std::string PythonJson(const OrderedJson& value) {
  std::string out;
  AppendPythonJson(value, &out);
  return out;
}

bool PythonTruthy(const OrderedJson& value) {
  switch (value.type()) {
    case OrderedJson::value_t::null: return false;
    case OrderedJson::value_t::boolean: return value.get<bool>();
    case OrderedJson::value_t::number_integer: return value.get<int64_t>() != 0;
    case OrderedJson::value_t::number_unsigned: return value.get<uint64_t>() != 0;
    case OrderedJson::value_t::number_float: return value.get<double>() != 0.0;
    case OrderedJson::value_t::string: return !value.get_ref<const std::string&>().empty();
    case OrderedJson::value_t::array:
    case OrderedJson::value_t::object: return !value.empty();
    default: return false;
  }
}

}  // namespace dsv32::chat
