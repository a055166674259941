// libFuzzer harness for the tokenizer. The input's first byte picks what to
// exercise; the rest is the data:
//   encode   (any bytes, invalid UTF-8 included; must be an error or ids that
//             decode back to the input)
//   decode   (the data read as little-endian 32-bit ids, any value)
//   stream   (the same ids through StreamDecoder; must equal Decode)
//   load     (the data as tokenizer.json; any failure must be a Status)
// The tokenizer directory is DSV32_TOKENIZER in the environment, else the
// checked-in DeepSeek-V3 files.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "text/stream_decoder.h"
#include "text/tokenizer.h"
#include "text/utf8.h"

namespace {

const dsv32::Tokenizer& GetTokenizer() {
  static const std::unique_ptr<dsv32::Tokenizer> tokenizer = [] {
    const char* dir = std::getenv("DSV32_TOKENIZER");
    auto t = dsv32::Tokenizer::Load(dir ? dir : DSV32_TOKENIZER_DIR);
    if (!t.ok()) {
      std::fprintf(stderr, "tokenizer_fuzz: %s\n", t.status().message().c_str());
      std::abort();
    }
    return std::move(t).value();
  }();
  return *tokenizer;
}

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "tokenizer_fuzz: %s\n", what);
    std::abort();
  }
}

void FuzzEncode(const dsv32::Tokenizer& tok, std::string_view text, bool parse_special) {
  auto ids = tok.Encode(text, {.add_bos = false, .parse_special_tokens = parse_special});
  const bool valid = dsv32::FirstInvalidUtf8(text) == text.size();
  Check(ids.ok() == valid, "encode must succeed exactly on valid UTF-8");
  if (!ids.ok()) return;
  auto back = tok.Decode(*ids);
  Check(back.ok() && *back == text, "decode(encode(text)) != text");
}

void FuzzDecode(const dsv32::Tokenizer& tok, const uint8_t* data, size_t size, bool skip) {
  std::vector<int32_t> ids(size / 4);
  for (size_t i = 0; i < ids.size(); ++i) {
    uint32_t v;
    std::memcpy(&v, data + 4 * i, 4);
    // Mostly ids in range, so decoding gets past the range check.
    ids[i] = (v & 0x80000000u) ? static_cast<int32_t>(v) : static_cast<int32_t>(v % tok.id_limit());
  }
  const dsv32::DecodeOptions options{.skip_special_tokens = skip};
  auto whole = tok.Decode(ids, options);
  if (whole.ok()) Check(dsv32::FirstInvalidUtf8(*whole) == whole->size(), "decode made bad UTF-8");
  dsv32::StreamDecoder stream(tok, options);
  std::string joined;
  bool all_ok = true;
  for (int32_t id : ids) all_ok = stream.Push(id, &joined).ok() && all_ok;
  stream.Finish(&joined);
  Check(all_ok == whole.ok(), "stream and whole decode disagree on errors");
  if (whole.ok()) Check(joined == *whole, "stream decode != whole decode");
}

void FuzzLoad(std::string_view tokenizer_json) {
  auto tok = dsv32::Tokenizer::FromJson(tokenizer_json, "{}", "fuzz");
  if (tok.ok()) {
    auto ids = (*tok)->Encode("fuzz 123 text");
    if (ids.ok()) Check((*tok)->Decode(*ids).ok(), "decode of fresh ids failed");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const dsv32::Tokenizer& tok = GetTokenizer();
  const uint8_t mode = data[0];
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (mode % 4) {
    case 0:
      FuzzEncode(tok, rest, (mode & 0x80) == 0);
      break;
    case 1:
    case 2:
      FuzzDecode(tok, data + 1, size - 1, (mode & 0x80) != 0);
      break;
    case 3:
      FuzzLoad(rest);
      break;
  }
  return 0;
}
