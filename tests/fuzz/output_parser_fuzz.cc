// libFuzzer harness for the streaming output parser. The first byte picks
// thinking mode and seeds the piece sizes; the rest is the completion.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "chat/output_parser.h"
#include "chat/parsed_message.h"

namespace {

bool ValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80)
      n = 1, cp = c;
    else if ((c >> 5) == 6)
      n = 2, cp = c & 0x1F;
    else if ((c >> 4) == 14)
      n = 3, cp = c & 0x0F;
    else if ((c >> 3) == 30)
      n = 4, cp = c & 0x07;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

void Append(std::vector<dsv32::chat::OutputEvent>* all,
            std::vector<dsv32::chat::OutputEvent> more) {
  all->insert(all->end(), more.begin(), more.end());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dsv32::chat;
  if (size == 0) return 0;
  const bool thinking = data[0] & 1;
  uint32_t rng = data[0] * 2654435761u + 1;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  const ParsedMessage whole = ParseCompletion(text, {.thinking = thinking});
  if (whole.finish_reason.empty()) std::abort();

  OutputParser parser({.thinking = thinking});
  std::vector<OutputEvent> events;
  for (size_t i = 0; i < text.size();) {
    rng = rng * 1103515245u + 12345u;
    const size_t piece = 1 + (rng >> 16) % 9;
    Append(&events, parser.Feed(text.substr(i, piece)));
    i += piece;
  }
  Append(&events, parser.Finish());
  if (!(AggregateEvents(events) == whole)) std::abort();

  if (ValidUtf8(text)) {
    for (const OutputEvent& e : events)
      if (!ValidUtf8(e.text)) std::abort();
  }
  return 0;
}
