#include "text/tokenizer.h"

#include "text/utf8.h"

namespace dsv32 {

namespace {

struct EncodeScratch {
  std::vector<TextSegment> segments;
  std::vector<TextSpan> pieces;
  PreTokenizerScratch pre;

  // A huge input should not pin its buffers to the thread for good.
  void Trim() {
    constexpr size_t kKeep = size_t{1} << 16;
    if (segments.capacity() > kKeep) std::vector<TextSegment>().swap(segments);
    if (pieces.capacity() > kKeep) std::vector<TextSpan>().swap(pieces);
    pre.Trim();
  }
};

}  // namespace

Result<std::vector<int32_t>> Tokenizer::Encode(std::string_view text,
                                               const EncodeOptions& options) const {
  std::vector<int32_t> ids;
  DSV32_RETURN_IF_ERROR(EncodeInto(text, options, &ids));
  return ids;
}

Status Tokenizer::EncodeInto(std::string_view text, const EncodeOptions& options,
                             std::vector<int32_t>* ids) const {
  // Spans hold 32-bit offsets.
  if (text.size() >= UINT32_MAX) return InvalidArgument("encode: text longer than 4 GiB");
  const size_t bad = FirstInvalidUtf8(text);
  if (bad != text.size())
    return InvalidArgument("encode: text is not valid UTF-8 (at byte " + std::to_string(bad) + ")");
  if (options.add_bos && bos_id_ < 0)
    return InvalidArgument(
        "encode: a BOS token was asked for, but tokenizer_config.json names none");
  const size_t start = ids->size();
  if (options.add_bos) ids->push_back(bos_id_);

  // Per-thread buffers: encoding is called once per message or line, and
  // allocating these each time was a measurable share of the work.
  thread_local EncodeScratch scratch;
  std::vector<TextSegment>& segments = scratch.segments;
  std::vector<TextSpan>& pieces = scratch.pieces;
  segments.clear();
  if (options.parse_special_tokens) {
    added_.Split(text, &segments);
  } else if (!text.empty()) {
    segments.push_back({{0, static_cast<uint32_t>(text.size())}, -1});
  }
  Status status;
  for (const TextSegment& segment : segments) {
    if (segment.id >= 0) {
      ids->push_back(segment.id);
      continue;
    }
    pieces.clear();
    status = pre_.Run(text, segment.span, &pieces, &scratch.pre);
    if (!status.ok()) break;
    for (const TextSpan& p : pieces) bpe_.EncodeWord(text.substr(p.begin, p.end - p.begin), ids);
  }
  scratch.Trim();
  if (!status.ok()) {
    ids->resize(start);
    return status.WithContext("encode");
  }
  return Status::Ok();
}

Result<std::string_view> Tokenizer::TokenBytes(int32_t id) const {
  if (id < 0 || id >= id_limit() || !(flags_[id] & kPresent))
    return OutOfRange("token id " + std::to_string(id) + " is not in the vocabulary (ids below " +
                      std::to_string(id_limit()) + ")");
  return std::string_view(bytes_[id]);
}

bool Tokenizer::IsSpecial(int32_t id) const {
  return id >= 0 && id < id_limit() && (flags_[id] & kSpecial);
}

std::optional<int32_t> Tokenizer::TokenId(std::string_view token_text) const {
  auto it = ids_by_text_.find(std::string(token_text));
  if (it == ids_by_text_.end()) return std::nullopt;
  return it->second;
}

Result<std::string> Tokenizer::Decode(std::span<const int32_t> ids,
                                      const DecodeOptions& options) const {
  std::string raw;
  for (int32_t id : ids) {
    DSV32_ASSIGN_OR_RETURN(std::string_view bytes, TokenBytes(id));
    if (options.skip_special_tokens && IsSpecial(id)) continue;
    raw.append(bytes);
  }
  if (FirstInvalidUtf8(raw) == raw.size()) return raw;
  std::string text;
  text.reserve(raw.size() + 8);
  AppendUtf8Lossy(raw, /*hold_incomplete=*/false, &text);
  return text;
}

}  // namespace dsv32
