// The byte-level alphabet of GPT-2 style BPE: each of the 256 byte values is
// shown as one printable code point, so vocab and merges are plain text.
// Bytes that are printable Latin-1 stand for themselves; the others are moved
// to U+0100 and up in byte order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dsv32 {

// The code point that stands for `byte`.
char32_t ByteLevelCodePoint(uint8_t byte);

// The vocab text of the single-byte token for `byte`: that code point as UTF-8.
std::string ByteLevelToken(uint8_t byte);

// Turns a vocab or merge string back into the raw bytes it stands for, or
// nullopt when a code point in it is not one of the 256 (such a token is
// decoded as its own UTF-8 text, as the reference decoder does).
std::optional<std::string> ByteLevelToBytes(std::string_view text);

}  // namespace dsv32
