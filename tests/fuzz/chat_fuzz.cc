// libFuzzer harness: arbitrary bytes as a chat-encode request.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "chat/chat_encoder.h"
#include "chat/special_tokens.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view request(reinterpret_cast<const char*>(data), size);
  const dsv32::Result<std::string> prompt = dsv32::chat::EncodeChatJson(request);
  if (prompt.ok()) {
    if (prompt->rfind(dsv32::chat::kBeginOfSentence, 0) != 0) std::abort();
  } else if (prompt.status().message().empty()) {
    std::abort();  // every refusal says why
  }
  return 0;
}
