// The pre-tokenizer: a sequence of regex splits that cut text into the words
// BPE runs on. Each split keeps both the matches and the text between them
// as separate pieces (the reference's "Isolated" behaviour), and each later
// split works inside the pieces of the one before, so a lookahead never sees
// past the end of its piece.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace dsv32 {

// A byte range [begin, end) of the text being encoded.
struct TextSpan {
  uint32_t begin;
  uint32_t end;
};

// One compiled pattern (PCRE2, UTF + Unicode properties, JIT when available).
class SplitRegex;

// Buffers one thread reuses across Run calls, so encoding allocates nothing
// per call once warm.
class PreTokenizerScratch {
 public:
  PreTokenizerScratch();
  ~PreTokenizerScratch();
  PreTokenizerScratch(const PreTokenizerScratch&) = delete;
  PreTokenizerScratch& operator=(const PreTokenizerScratch&) = delete;
  // Frees the buffers when a huge input grew them.
  void Trim();

 private:
  friend class PreTokenizer;
  std::vector<TextSpan> spans_;
  void* match_data_;  // pcre2_match_data, kept out of this header
};

class PreTokenizer {
 public:
  // `patterns` are in the reference's Oniguruma syntax; the few constructs
  // whose meaning differs in PCRE2 are rewritten (see TranslatePattern).
  // `literal` patterns match their text exactly.
  struct Split {
    std::string pattern;
    bool literal = false;
  };
  static Result<PreTokenizer> Build(const std::vector<Split>& splits);

  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;
  ~PreTokenizer();

  // Splits `span` of `text` (valid UTF-8) into pieces, appended to `pieces`
  // in text order.
  Status Run(std::string_view text, TextSpan span, std::vector<TextSpan>* pieces,
             PreTokenizerScratch* scratch) const;

  // Turns the hand-written ASCII splits (ascii_splits.h) off, so tests can
  // compare them with PCRE2.
  void set_use_ascii_splits(bool use) { use_ascii_splits_ = use; }

  // Rewrites Oniguruma's \s and \S, which mean Unicode White_Space there but
  // only the separator categories in PCRE2 (they differ on U+0085), into
  // explicit classes. Exposed for tests.
  static std::string TranslatePattern(std::string_view onig);

 private:
  PreTokenizer() = default;
  std::vector<std::unique_ptr<SplitRegex>> regexes_;
  bool use_ascii_splits_ = true;
};

}  // namespace dsv32
