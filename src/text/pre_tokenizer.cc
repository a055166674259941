#include "text/pre_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "text/ascii_splits.h"

namespace dsv32 {

namespace {

// Unicode White_Space, the set Oniguruma's \s matches.
constexpr char kWhiteSpace[] =
    "\\t\\n\\x0B\\f\\r\\x20\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}"
    "\\x{202F}\\x{205F}\\x{3000}";

std::string PcreErrorText(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof(buffer));
  return reinterpret_cast<const char*>(buffer);
}

}  // namespace

class SplitRegex {
 public:
  static Result<std::unique_ptr<SplitRegex>> Compile(const PreTokenizer::Split& split) {
    std::string pattern =
        split.literal ? split.pattern : PreTokenizer::TranslatePattern(split.pattern);
    uint32_t options = PCRE2_UTF | PCRE2_UCP;
    if (split.literal) options = PCRE2_UTF | PCRE2_LITERAL;
    int error = 0;
    PCRE2_SIZE offset = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                     options, &error, &offset, nullptr);
    if (code == nullptr)
      return FormatError("pre-tokenizer pattern '" + split.pattern + "' does not compile at " +
                         std::to_string(offset) + ": " + PcreErrorText(error));
    auto regex = std::unique_ptr<SplitRegex>(new SplitRegex(code));
    // Without JIT (a build or CPU that lacks it) matching still works, slower.
    regex->jit_ = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    if (!split.literal) regex->ascii_ = AsciiSplitFor(split.pattern);
    if (regex->ascii_ == AsciiSplit::kNone && regex->NeverMatchesAscii())
      regex->ascii_ = AsciiSplit::kNeverMatches;
    return regex;
  }

  ~SplitRegex() { pcre2_code_free(code_); }

  // Appends the pieces of `span` to `out`. With `fast`, the hand-written
  // scan decides where it can and the regex only where it cannot.
  Status Split(std::string_view text, TextSpan span, pcre2_match_data* md, bool fast,
               std::vector<TextSpan>* out) const {
    const AsciiSplit kind = fast ? ascii_ : AsciiSplit::kNone;
    if (kind == AsciiSplit::kNeverMatches) {
      bool ascii = true;
      for (uint32_t i = span.begin; i < span.end; ++i)
        ascii &= static_cast<uint8_t>(text[i]) < 0x80;
      if (ascii) {
        if (span.end > span.begin) out->push_back(span);
        return Status::Ok();
      }
    }
    const bool scan = kind == AsciiSplit::kDigitGroups || kind == AsciiSplit::kDeepSeekWords;
    uint32_t pos = span.begin;
    uint32_t emitted = span.begin;
    while (pos < span.end) {
      uint32_t m_begin = pos, m_end = pos;
      bool non_ascii = !scan;
      if (scan) m_end = AsciiMatchAt(kind, text.data(), pos, span.end, &non_ascii);
      if (!non_ascii && m_end == pos) {
        ++pos;  // no match starts at this ASCII byte
        continue;
      }
      if (non_ascii) {
        DSV32_ASSIGN_OR_RETURN(bool found, Find(text, span, pos, md, &m_begin, &m_end));
        if (!found) break;
        if (m_end == m_begin) {
          // An empty match makes no piece; step over one code point.
          pos = m_begin + 1;
          while (pos < span.end && (static_cast<uint8_t>(text[pos]) & 0xC0) == 0x80) ++pos;
          continue;
        }
      }
      if (m_begin > emitted) out->push_back({emitted, m_begin});
      out->push_back({m_begin, m_end});
      emitted = pos = m_end;
    }
    if (span.end > emitted) out->push_back({emitted, span.end});
    return Status::Ok();
  }

 private:
  explicit SplitRegex(pcre2_code* code) : code_(code) {}

  // Whether PCRE2 knows every match starts with a byte of 0x80 or more (the
  // CJK split does): then text without such bytes has no match.
  bool NeverMatchesAscii() const {
    uint32_t empty = 1, type = 2;
    if (pcre2_pattern_info(code_, PCRE2_INFO_MATCHEMPTY, &empty) != 0 || empty) return false;
    if (pcre2_pattern_info(code_, PCRE2_INFO_FIRSTCODETYPE, &type) != 0) return false;
    if (type == 1) {
      uint32_t unit = 0;
      return pcre2_pattern_info(code_, PCRE2_INFO_FIRSTCODEUNIT, &unit) == 0 && unit >= 0x80;
    }
    const uint8_t* bitmap = nullptr;
    if (type != 0 || pcre2_pattern_info(code_, PCRE2_INFO_FIRSTBITMAP, &bitmap) != 0 ||
        bitmap == nullptr)
      return false;
    for (int i = 0; i < 16; ++i)  // bits for bytes 0x00-0x7F
      if (bitmap[i]) return false;
    return true;
  }

  // The first match in `span` at or after `pos` (offsets in `text`).
  Result<bool> Find(std::string_view text, TextSpan span, uint32_t pos, pcre2_match_data* md,
                    uint32_t* m_begin, uint32_t* m_end) const {
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data() + span.begin);
    const PCRE2_SIZE length = span.end - span.begin;
    const PCRE2_SIZE start = pos - span.begin;
    int rc = jit_ ? pcre2_jit_match(code_, subject, length, start, 0, md, nullptr)
                  : PCRE2_ERROR_JIT_STACKLIMIT;
    // The interpreter keeps its backtracking state on the heap, so it gets
    // through what overflows the JIT's small stack.
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
      rc = pcre2_match(code_, subject, length, start, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md,
                       nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) return false;
    if (rc < 0) return Internal("pre-tokenizer regex failed: " + PcreErrorText(rc));
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    *m_begin = span.begin + static_cast<uint32_t>(ov[0]);
    *m_end = span.begin + static_cast<uint32_t>(ov[1]);
    return true;
  }

  pcre2_code* code_;
  bool jit_ = false;
  AsciiSplit ascii_ = AsciiSplit::kNone;
};

std::string PreTokenizer::TranslatePattern(std::string_view onig) {
  std::string out;
  out.reserve(onig.size());
  bool in_class = false;
  for (size_t i = 0; i < onig.size(); ++i) {
    const char c = onig[i];
    if (c == '\\' && i + 1 < onig.size()) {
      const char next = onig[i + 1];
      ++i;
      if (next == 's') {
        out += in_class ? std::string(kWhiteSpace) : "[" + std::string(kWhiteSpace) + "]";
      } else if (next == 'S' && !in_class) {
        out += "[^" + std::string(kWhiteSpace) + "]";
      } else {
        out += c;
        out += next;
      }
      continue;
    }
    if (c == '[' && !in_class) {
      in_class = true;
      out += c;
      // A ']' first in a class (or after '^') is a literal, not its end.
      if (i + 1 < onig.size() && onig[i + 1] == '^') out += onig[++i];
      if (i + 1 < onig.size() && onig[i + 1] == ']') out += onig[++i];
      continue;
    }
    if (c == ']' && in_class) in_class = false;
    out += c;
  }
  return out;
}

Result<PreTokenizer> PreTokenizer::Build(const std::vector<Split>& splits) {
  PreTokenizer p;
  for (const Split& s : splits) {
    DSV32_ASSIGN_OR_RETURN(auto regex, SplitRegex::Compile(s));
    p.regexes_.push_back(std::move(regex));
  }
  return p;
}

PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;
PreTokenizer::~PreTokenizer() = default;

PreTokenizerScratch::PreTokenizerScratch()
    // The whole match is all a split needs, so one ovector pair is enough.
    : match_data_(pcre2_match_data_create(1, nullptr)) {}

PreTokenizerScratch::~PreTokenizerScratch() {
  pcre2_match_data_free(static_cast<pcre2_match_data*>(match_data_));
}

void PreTokenizerScratch::Trim() {
  if (spans_.capacity() > (size_t{1} << 16)) std::vector<TextSpan>().swap(spans_);
}

Status PreTokenizer::Run(std::string_view text, TextSpan span, std::vector<TextSpan>* pieces,
                         PreTokenizerScratch* scratch) const {
  const size_t first = pieces->size();
  pieces->push_back(span);
  if (regexes_.empty()) return Status::Ok();
  auto* md = static_cast<pcre2_match_data*>(scratch->match_data_);
  if (md == nullptr) return OutOfMemory("pre-tokenizer: no memory for match data");
  std::vector<TextSpan>& previous = scratch->spans_;
  for (const auto& regex : regexes_) {
    previous.assign(pieces->begin() + first, pieces->end());
    pieces->resize(first);
    for (const TextSpan& piece : previous)
      DSV32_RETURN_IF_ERROR(regex->Split(text, piece, md, use_ascii_splits_, pieces));
  }
  return Status::Ok();
}

}  // namespace dsv32
