#include "text/byte_level.h"

#include <array>

namespace dsv32 {

namespace {

bool StandsForItself(int b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

struct Tables {
  std::array<char32_t, 256> code_point{};
  // Inverse over U+0000..U+01FF, the only range the alphabet uses; -1 = none.
  std::array<int16_t, 512> byte{};

  Tables() {
    byte.fill(-1);
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      code_point[b] = StandsForItself(b) ? static_cast<char32_t>(b) : next++;
      byte[code_point[b]] = static_cast<int16_t>(b);
    }
  }
};

const Tables& GetTables() {
  static const Tables tables;
  return tables;
}

}  // namespace

char32_t ByteLevelCodePoint(uint8_t byte) { return GetTables().code_point[byte]; }

std::string ByteLevelToken(uint8_t byte) {
  // Every code point of the alphabet is below U+0800: one or two bytes.
  const char32_t cp = ByteLevelCodePoint(byte);
  if (cp < 0x80) return std::string(1, static_cast<char>(cp));
  return {static_cast<char>(0xC0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3F))};
}

std::optional<std::string> ByteLevelToBytes(std::string_view text) {
  const Tables& t = GetTables();
  std::string out;
  out.reserve(text.size());
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  size_t i = 0;
  while (i < text.size()) {
    // The alphabet only has one- and two-byte UTF-8 code points.
    char32_t cp;
    if (s[i] < 0x80) {
      cp = s[i];
      i += 1;
    } else if ((s[i] & 0xE0) == 0xC0 && i + 1 < text.size() && (s[i + 1] & 0xC0) == 0x80) {
      cp = (static_cast<char32_t>(s[i] & 0x1F) << 6) | (s[i + 1] & 0x3F);
      i += 2;
    } else {
      return std::nullopt;
    }
    if (cp >= t.byte.size() || t.byte[cp] < 0) return std::nullopt;
    out.push_back(static_cast<char>(t.byte[cp]));
  }
  return out;
}

}  // namespace dsv32
