#include "text/pre_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

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
    return regex;
  }

  ~SplitRegex() { pcre2_code_free(code_); }

  // Appends the pieces of `span` to `out`.
  Status Split(std::string_view text, TextSpan span, pcre2_match_data* md,
               std::vector<TextSpan>* out) const {
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data() + span.begin);
    const PCRE2_SIZE length = span.end - span.begin;
    PCRE2_SIZE start = 0;
    PCRE2_SIZE emitted = 0;
    while (start < length) {
      int rc = jit_ ? pcre2_jit_match(code_, subject, length, start, 0, md, nullptr)
                    : PCRE2_ERROR_JIT_STACKLIMIT;
      // The interpreter keeps its backtracking state on the heap, so it gets
      // through what overflows the JIT's small stack.
      if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
        rc = pcre2_match(code_, subject, length, start, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md,
                         nullptr);
      if (rc == PCRE2_ERROR_NOMATCH) break;
      if (rc < 0) return Internal("pre-tokenizer regex failed: " + PcreErrorText(rc));
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
      const PCRE2_SIZE m_begin = ov[0], m_end = ov[1];
      if (m_end <= m_begin) {
        // An empty match makes no piece; step over one code point.
        start = m_begin + 1;
        while (start < length && (subject[start] & 0xC0) == 0x80) ++start;
        continue;
      }
      if (m_begin > emitted) out->push_back(Offset(span, emitted, m_begin));
      out->push_back(Offset(span, m_begin, m_end));
      emitted = start = m_end;
    }
    if (emitted < length) out->push_back(Offset(span, emitted, length));
    return Status::Ok();
  }

 private:
  explicit SplitRegex(pcre2_code* code) : code_(code) {}

  static TextSpan Offset(TextSpan span, PCRE2_SIZE b, PCRE2_SIZE e) {
    return {span.begin + static_cast<uint32_t>(b), span.begin + static_cast<uint32_t>(e)};
  }

  pcre2_code* code_;
  bool jit_ = false;
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
      DSV32_RETURN_IF_ERROR(regex->Split(text, piece, md, pieces));
  }
  return Status::Ok();
}

}  // namespace dsv32
