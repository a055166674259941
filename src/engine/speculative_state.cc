#include "engine/speculative_state.h"

#include <algorithm>

namespace dsv32 {

Status SpeculativeState::AddHidden(const Model& model, std::span<const int32_t> tokens,
                                   int64_t first, std::span<const float> hidden, ThreadPool* pool,
                                   KvCache* mtp) {
  const int64_t H = model.config().hidden_size;
  const int64_t m = mtp->length();
  const int64_t rows = static_cast<int64_t>(pending_hidden_.size()) / H;
  if (m + rows != first)
    return InvalidArgument("speculation: hidden states of position " + std::to_string(first) +
                           " follow pending ones ending at " + std::to_string(m + rows));
  pending_hidden_.insert(pending_hidden_.end(), hidden.begin(), hidden.end());
  // Row i needs the token after position m + i.
  const int64_t end = std::min(first + static_cast<int64_t>(hidden.size()) / H,
                               static_cast<int64_t>(tokens.size()) - 1);
  if (end <= m) return Status::Ok();
  const auto used = static_cast<size_t>((end - m) * H);
  ForwardOptions options;
  options.all_logits = false;
  Status s = model.ForwardMtp(mtp, tokens.subspan(static_cast<size_t>(m + 1), end - m),
                              std::span(pending_hidden_).first(used), m, pool, options, nullptr);
  if (!s.ok()) {
    mtp->Truncate(m);
    pending_hidden_.resize(static_cast<size_t>(rows * H));
    return s;
  }
  pending_hidden_.erase(pending_hidden_.begin(), pending_hidden_.begin() + used);
  return Status::Ok();
}

void SpeculativeState::AfterVerify(int64_t N, int64_t accepted, std::span<const float> hidden,
                                   KvCache* main, KvCache* mtp) {
  const auto H = hidden.size() / (drafts_.tokens.size() + 1);
  main->Truncate(N + accepted);
  mtp->Truncate(N - 1);
  pending_hidden_.assign(hidden.begin(),
                         hidden.begin() + static_cast<ptrdiff_t>((accepted + 1) * H));
}

void SpeculativeState::Clear() {
  pending_hidden_.clear();
  drafts_.tokens.clear();
}

}  // namespace dsv32
