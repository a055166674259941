#include "structured/token_vocabulary.h"

#include <algorithm>
#include <limits>
#include <unordered_set>

namespace dsv32::structured {

Result<std::shared_ptr<const TokenVocabulary>> TokenVocabulary::Build(
    const Tokenizer& tokenizer, int32_t vocab_size, std::span<const std::string_view> markup) {
  if (vocab_size < 0) return InvalidArgument("token vocabulary: vocab_size must be >= 0");
  if (vocab_size == 0) vocab_size = tokenizer.id_limit();
  std::unordered_set<int32_t> added, markup_ids;
  for (const AddedToken& t : tokenizer.added_tokens())
    (std::find(markup.begin(), markup.end(), t.content) == markup.end() ? added : markup_ids)
        .insert(t.id);
  std::vector<std::string> bytes(static_cast<size_t>(vocab_size));
  const int32_t limit = std::min(vocab_size, tokenizer.id_limit());
  for (int32_t id = 0; id < limit; ++id) {
    if (!markup_ids.contains(id) && (added.contains(id) || tokenizer.IsSpecial(id))) continue;
    auto b = tokenizer.TokenBytes(id);
    if (b.ok()) bytes[static_cast<size_t>(id)] = std::string(b.value());
  }
  return FromBytes(std::move(bytes), vocab_size);
}

Result<std::shared_ptr<const TokenVocabulary>> TokenVocabulary::FromBytes(
    std::vector<std::string> bytes, int32_t vocab_size) {
  if (vocab_size < static_cast<int32_t>(bytes.size()))
    return InvalidArgument("token vocabulary: more tokens than vocab_size");
  auto v = std::make_shared<TokenVocabulary>();
  v->vocab_size_ = vocab_size;
  v->bytes_ = std::move(bytes);
  std::vector<int32_t> order;
  for (size_t id = 0; id < v->bytes_.size(); ++id) {
    const size_t n = v->bytes_[id].size();
    if (n == 0) continue;
    if (n > std::numeric_limits<uint16_t>::max())
      return InvalidArgument("token vocabulary: token " + std::to_string(id) + " is too long");
    order.push_back(static_cast<int32_t>(id));
  }
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return v->bytes_[static_cast<size_t>(a)] < v->bytes_[static_cast<size_t>(b)] ||
           (v->bytes_[static_cast<size_t>(a)] == v->bytes_[static_cast<size_t>(b)] && a < b);
  });
  // In sorted order a token's prefixes come before it, so nodes are made in
  // preorder; `path` holds the nodes of the previous token's bytes.
  std::vector<int32_t> path;
  std::string_view previous;
  auto close_to = [&](size_t depth) {
    while (path.size() > depth) {
      v->nodes_[static_cast<size_t>(path.back())].skip = static_cast<int32_t>(v->nodes_.size());
      path.pop_back();
    }
  };
  for (int32_t id : order) {
    const std::string_view s = v->bytes_[static_cast<size_t>(id)];
    size_t common = 0;
    while (common < s.size() && common < previous.size() && s[common] == previous[common]) ++common;
    close_to(common);
    for (size_t d = common; d < s.size(); ++d) {
      path.push_back(static_cast<int32_t>(v->nodes_.size()));
      v->nodes_.push_back({static_cast<uint8_t>(s[d]), static_cast<uint16_t>(d + 1), 0,
                           static_cast<int32_t>(v->token_ids_.size())});
    }
    v->token_ids_.push_back(id);
    v->max_depth_ = std::max(v->max_depth_, static_cast<int32_t>(s.size()));
    previous = s;
  }
  close_to(0);
  v->nodes_.push_back({0, 0, 0, static_cast<int32_t>(v->token_ids_.size())});
  return std::shared_ptr<const TokenVocabulary>(std::move(v));
}

}  // namespace dsv32::structured
