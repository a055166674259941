#include "text/stream_decoder.h"

#include "text/utf8.h"

namespace dsv32 {

Status StreamDecoder::Push(int32_t id, std::string* text) {
  DSV32_ASSIGN_OR_RETURN(std::string_view bytes, tokenizer_.TokenBytes(id));
  if (options_.skip_special_tokens && tokenizer_.IsSpecial(id)) return Status::Ok();
  pending_.append(bytes);
  const size_t used = AppendUtf8Lossy(pending_, /*hold_incomplete=*/true, text);
  pending_.erase(0, used);
  return Status::Ok();
}

void StreamDecoder::Finish(std::string* text) {
  AppendUtf8Lossy(pending_, /*hold_incomplete=*/false, text);
  pending_.clear();
}

}  // namespace dsv32
