// UTF-8 checks and repair shared by the tokenizer's encode and decode paths.
// Encode refuses invalid UTF-8 (the reference works on Rust strings, which
// cannot hold it); decode may produce it from arbitrary ids and repairs it the
// way the reference does (each maximal invalid subpart becomes U+FFFD).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace dsv32 {

// Offset of the first byte that does not start a well-formed UTF-8 sequence
// (overlong forms, surrogates and code points past U+10FFFF included), or
// text.size() when the whole text is valid.
size_t FirstInvalidUtf8(std::string_view text);

// Length in bytes of the sequence that starts with `lead`: 1..4, or 0 for a
// byte that can never start one.
int Utf8SequenceLength(unsigned char lead);

// Appends `bytes` to `out` as valid UTF-8, replacing every maximal invalid
// subpart with U+FFFD. When `hold_incomplete` is set, a tail that is a valid
// but unfinished sequence is not written; the return value is how many bytes
// of `bytes` were consumed (all of them when `hold_incomplete` is false).
size_t AppendUtf8Lossy(std::string_view bytes, bool hold_incomplete, std::string* out);

}  // namespace dsv32
