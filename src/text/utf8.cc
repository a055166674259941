#include "text/utf8.h"

namespace dsv32 {

namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";

// Length of the longest prefix of `s` (at most 4 bytes) that is a valid
// start of a UTF-8 sequence, and whether that prefix is a complete sequence.
// Follows the Unicode table of well-formed byte sequences, so the prefix
// length is exactly the "maximal subpart" that lossy decoding replaces.
struct Prefix {
  size_t valid;
  bool complete;
};

Prefix ValidPrefix(const unsigned char* s, size_t n) {
  const unsigned char b0 = s[0];
  if (b0 < 0x80) return {1, true};
  const int len = Utf8SequenceLength(b0);
  if (len == 0) return {0, false};
  // The allowed range of the second byte depends on the lead byte.
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 == 0xE0) lo = 0xA0;
  if (b0 == 0xED) hi = 0x9F;
  if (b0 == 0xF0) lo = 0x90;
  if (b0 == 0xF4) hi = 0x8F;
  size_t i = 1;
  for (; i < static_cast<size_t>(len); ++i) {
    if (i >= n) return {i, false};
    const unsigned char b = s[i];
    const unsigned char l = i == 1 ? lo : 0x80;
    const unsigned char h = i == 1 ? hi : 0xBF;
    if (b < l || b > h) return {i, false};
  }
  return {i, true};
}

}  // namespace

int Utf8SequenceLength(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

size_t FirstInvalidUtf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    if (s[i] < 0x80) {
      ++i;
      continue;
    }
    const Prefix p = ValidPrefix(s + i, n - i);
    if (!p.complete) return i;
    i += p.valid;
  }
  return n;
}

size_t AppendUtf8Lossy(std::string_view bytes, bool hold_incomplete, std::string* out) {
  const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  size_t i = 0;
  size_t run = 0;  // start of the current run of valid bytes, copied in bulk
  while (i < n) {
    if (s[i] < 0x80) {
      ++i;
      continue;
    }
    const Prefix p = ValidPrefix(s + i, n - i);
    if (p.complete) {
      i += p.valid;
      continue;
    }
    out->append(bytes.data() + run, i - run);
    if (hold_incomplete && p.valid > 0 && i + p.valid == n) return i;
    out->append(kReplacement);
    i += p.valid > 0 ? p.valid : 1;
    run = i;
  }
  out->append(bytes.data() + run, n - run);
  return n;
}

}  // namespace dsv32
