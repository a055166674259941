#include "structured/regex.h"

#include <algorithm>
#include <cctype>

#include "text/utf8.h"

namespace dsv32::structured {

namespace {

Regex Make(RegexNode node) { return std::make_shared<const RegexNode>(std::move(node)); }

// Decodes the valid UTF-8 sequence at text[*i] and moves past it.
uint32_t NextCodepoint(std::string_view text, size_t* i) {
  const auto lead = static_cast<unsigned char>(text[*i]);
  const int n = Utf8SequenceLength(lead);
  uint32_t cp = n == 1 ? lead : lead & (0x7Fu >> n);
  for (int k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(text[*i + k]) & 0x3Fu);
  *i += static_cast<size_t>(n);
  return cp;
}

}  // namespace

Regex Set(std::vector<CodepointRange> ranges) {
  std::sort(ranges.begin(), ranges.end(),
            [](const CodepointRange& a, const CodepointRange& b) { return a.lo < b.lo; });
  RegexNode node;
  node.kind = RegexNode::Kind::kSet;
  for (const CodepointRange& r : ranges) {
    if (!node.ranges.empty() && r.lo <= node.ranges.back().hi + 1)
      node.ranges.back().hi = std::max(node.ranges.back().hi, r.hi);
    else
      node.ranges.push_back(r);
  }
  return Make(std::move(node));
}

Regex Char(uint32_t codepoint) { return Set({{codepoint, codepoint}}); }

Regex Literal(std::string_view utf8) {
  std::vector<Regex> parts;
  for (size_t i = 0; i < utf8.size();) parts.push_back(Char(NextCodepoint(utf8, &i)));
  return Concat(std::move(parts));
}

Regex Concat(std::vector<Regex> parts) {
  if (parts.size() == 1) return parts[0];
  RegexNode node;
  node.kind = RegexNode::Kind::kConcat;
  for (Regex& p : parts) {
    // Flattening keeps deep schemas from building deep trees.
    if (p->kind == RegexNode::Kind::kConcat)
      node.children.insert(node.children.end(), p->children.begin(), p->children.end());
    else
      node.children.push_back(std::move(p));
  }
  return Make(std::move(node));
}

Regex Alt(std::vector<Regex> options) {
  if (options.size() == 1) return options[0];
  RegexNode node;
  node.kind = RegexNode::Kind::kAlt;
  node.children = std::move(options);
  return Make(std::move(node));
}

Regex Repeat(Regex child, int32_t min, int32_t max) {
  RegexNode node;
  node.kind = RegexNode::Kind::kRepeat;
  node.children.push_back(std::move(child));
  node.min = min;
  node.max = max;
  return Make(std::move(node));
}

Regex Optional(Regex child) { return Repeat(std::move(child), 0, 1); }
Regex Empty() { return Concat({}); }
Regex Nothing() { return Alt({}); }

Regex Automaton(CodepointAutomaton automaton) {
  RegexNode node;
  node.kind = RegexNode::Kind::kAutomaton;
  node.automaton = std::make_shared<const CodepointAutomaton>(std::move(automaton));
  return Make(std::move(node));
}

namespace {

// The parts of `ranges` (sorted, disjoint) outside `removed` (sorted, disjoint).
std::vector<CodepointRange> Subtract(const std::vector<CodepointRange>& ranges,
                                     const std::vector<CodepointRange>& removed) {
  std::vector<CodepointRange> out;
  for (const CodepointRange& r : ranges) {
    uint32_t lo = r.lo;
    bool rest = true;  // [lo, r.hi] is still to be kept
    for (const CodepointRange& cut : removed) {
      if (cut.hi < lo || cut.lo > r.hi) continue;
      if (cut.lo > lo) out.push_back({lo, cut.lo - 1});
      if (cut.hi >= r.hi) {
        rest = false;
        break;
      }
      lo = cut.hi + 1;
    }
    if (rest) out.push_back({lo, r.hi});
  }
  return out;
}

}  // namespace

Regex WithoutCodepoints(const Regex& regex, const std::vector<CodepointRange>& ranges) {
  const Regex cut = Set(ranges);  // sorted and merged
  switch (regex->kind) {
    case RegexNode::Kind::kSet:
      return Set(Subtract(regex->ranges, cut->ranges));
    case RegexNode::Kind::kRepeat:
      return Repeat(WithoutCodepoints(regex->children[0], ranges), regex->min, regex->max);
    case RegexNode::Kind::kConcat:
    case RegexNode::Kind::kAlt: {
      std::vector<Regex> children;
      for (const Regex& c : regex->children) children.push_back(WithoutCodepoints(c, ranges));
      return regex->kind == RegexNode::Kind::kConcat ? Concat(std::move(children))
                                                     : Alt(std::move(children));
    }
    case RegexNode::Kind::kAutomaton: {
      CodepointAutomaton a = *regex->automaton;
      for (CodepointAutomaton::State& s : a.states) {
        std::vector<CodepointAutomaton::Edge> kept;
        for (const CodepointAutomaton::Edge& e : s.edges)
          for (const CodepointRange& r : Subtract({e.range}, cut->ranges))
            kept.push_back({r, e.to});
        s.edges = std::move(kept);
      }
      return Automaton(std::move(a));
    }
  }
  return regex;
}

std::vector<CodepointRange> Complement(const std::vector<CodepointRange>& ranges) {
  std::vector<CodepointRange> out;
  uint32_t next = 0;
  for (const CodepointRange& r : ranges) {
    if (r.lo > next) out.push_back({next, r.lo - 1});
    next = r.hi + 1;
  }
  if (next <= kMaxCodepoint) out.push_back({next, kMaxCodepoint});
  // Surrogates are not characters; UTF-8 cannot carry them.
  std::vector<CodepointRange> result;
  for (const CodepointRange& r : out) {
    if (r.hi < 0xD800 || r.lo > 0xDFFF) {
      result.push_back(r);
      continue;
    }
    if (r.lo < 0xD800) result.push_back({r.lo, 0xD7FF});
    if (r.hi > 0xDFFF) result.push_back({0xE000, r.hi});
  }
  return result;
}

namespace {

const std::vector<CodepointRange> kDigit = {{'0', '9'}};
const std::vector<CodepointRange> kWord = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
const std::vector<CodepointRange> kSpace = {{'\t', '\r'}, {' ', ' '}};

// Recursive descent over the pattern:
//   alt := concat ('|' concat)*    concat := repeat*    repeat := atom quantifier*
class Parser {
 public:
  explicit Parser(std::string_view p) : p_(p) {}

  Result<Regex> Parse() {
    if (Peek('^')) ++i_;
    auto r = ParseAlt();
    if (!r.ok()) return r;
    if (i_ < p_.size()) return Error(p_[i_] == ')' ? "unbalanced ')'" : "unexpected character");
    return r;
  }

 private:
  bool Peek(char c) const { return i_ < p_.size() && p_[i_] == c; }
  Status Error(const std::string& what) const {
    return InvalidArgument("regex: " + what + " at offset " + std::to_string(i_));
  }
  Status Unsupported(const std::string& what) const {
    return dsv32::Unsupported("regex: " + what + " at offset " + std::to_string(i_) +
                              " is not supported");
  }
  // A '$' that ends the pattern (or the top-level alternative) is the
  // whole-match anchor every pattern already has.
  bool AtFinalDollar() const {
    return Peek('$') && depth_ == 0 && (i_ + 1 == p_.size() || p_[i_ + 1] == '|');
  }

  Result<Regex> ParseAlt() {
    std::vector<Regex> options;
    while (true) {
      auto c = ParseConcat();
      if (!c.ok()) return c;
      options.push_back(std::move(c).value());
      if (!Peek('|')) break;
      ++i_;
    }
    return Alt(std::move(options));
  }

  Result<Regex> ParseConcat() {
    std::vector<Regex> parts;
    while (i_ < p_.size() && !Peek('|') && !Peek(')')) {
      if (AtFinalDollar()) {
        ++i_;
        break;
      }
      auto atom = ParseRepeat();
      if (!atom.ok()) return atom;
      parts.push_back(std::move(atom).value());
    }
    return Concat(std::move(parts));
  }

  Result<Regex> ParseRepeat() {
    auto atom = ParseAtom();
    if (!atom.ok()) return atom;
    Regex r = std::move(atom).value();
    for (int stacked = 0; i_ < p_.size(); ++stacked) {
      int32_t min = 0, max = 0;
      const char c = p_[i_];
      if (c == '?' || c == '*' || c == '+') {
        ++i_;
        min = c == '+' ? 1 : 0;
        max = c == '?' ? 1 : -1;
      } else if (c == '{' && IsCountedRepeat()) {
        DSV32_RETURN_IF_ERROR(ParseCount(&min, &max));
      } else {
        break;
      }
      if (Peek('?')) ++i_;  // lazy: the same set of strings
      if (Peek('+')) return Unsupported("a possessive quantifier");
      // Trees are walked recursively: their depth stays bounded.
      if (stacked == kMaxStacked)
        return Unsupported("more than " + std::to_string(kMaxStacked) + " quantifiers on one atom");
      r = Repeat(std::move(r), min, max);
    }
    return r;
  }

  // "{" starts a quantifier only as {m}, {m,} or {m,n}; otherwise it is a literal.
  bool IsCountedRepeat() const {
    size_t j = i_ + 1;
    const size_t digits = j;
    while (j < p_.size() && std::isdigit(static_cast<unsigned char>(p_[j]))) ++j;
    if (j == digits) return false;
    if (j < p_.size() && p_[j] == ',') {
      ++j;
      while (j < p_.size() && std::isdigit(static_cast<unsigned char>(p_[j]))) ++j;
    }
    return j < p_.size() && p_[j] == '}';
  }

  Status ParseCount(int32_t* min, int32_t* max) {
    ++i_;  // '{'
    auto number = [&](int32_t* out) -> Status {
      int64_t v = 0;
      while (i_ < p_.size() && std::isdigit(static_cast<unsigned char>(p_[i_]))) {
        v = v * 10 + (p_[i_++] - '0');
        if (v > kMaxRepeatCount)
          return Unsupported("a repetition count above " + std::to_string(kMaxRepeatCount));
      }
      *out = static_cast<int32_t>(v);
      return Status::Ok();
    };
    DSV32_RETURN_IF_ERROR(number(min));
    *max = *min;
    if (Peek(',')) {
      ++i_;
      if (Peek('}'))
        *max = -1;
      else
        DSV32_RETURN_IF_ERROR(number(max));
    }
    ++i_;  // '}'
    if (*max >= 0 && *max < *min) return Error("a repetition {m,n} with n < m");
    return Status::Ok();
  }

  Result<Regex> ParseAtom() {
    const char c = p_[i_];
    switch (c) {
      case '(':
        return ParseGroup();
      case '[':
        return ParseClass();
      case '.':
        ++i_;
        return Set(Complement({{'\n', '\n'}}));
      case '\\': {
        std::vector<CodepointRange> set;
        DSV32_RETURN_IF_ERROR(ParseEscape(/*in_class=*/false, &set));
        return Set(std::move(set));
      }
      case '*':
      case '+':
      case '?':
        return Error("a quantifier with nothing to repeat");
      case '^':
        return Unsupported("'^' inside the pattern");
      case '$':
        return Unsupported("'$' inside the pattern");
      default: {
        size_t j = i_;
        const uint32_t cp = NextCodepoint(p_, &j);
        i_ = j;
        return Char(cp);
      }
    }
  }

  Result<Regex> ParseGroup() {
    ++i_;  // '('
    if (Peek('?')) {
      const std::string_view rest = p_.substr(i_);
      if (rest.starts_with("?:")) {
        i_ += 2;
      } else if (rest.starts_with("?P<") ||
                 (rest.starts_with("?<") && rest.size() > 2 && rest[2] != '=' && rest[2] != '!')) {
        const size_t close = p_.find('>', i_);
        if (close == std::string_view::npos) return Error("an unterminated group name");
        i_ = close + 1;
      } else if (rest.starts_with("?=") || rest.starts_with("?!") || rest.starts_with("?<=") ||
                 rest.starts_with("?<!")) {
        return Unsupported("lookaround");
      } else {
        return Unsupported("this group syntax (inline flags, atomic groups, ...)");
      }
    }
    if (depth_ == kMaxDepth)
      return Unsupported("groups nested deeper than " + std::to_string(kMaxDepth));
    ++depth_;
    auto inner = ParseAlt();
    --depth_;
    if (!inner.ok()) return inner;
    if (!Peek(')')) return Error("a '(' without its ')'");
    ++i_;
    return inner;
  }

  Result<Regex> ParseClass() {
    ++i_;  // '['
    bool negate = false;
    if (Peek('^')) {
      negate = true;
      ++i_;
    }
    std::vector<CodepointRange> set;
    bool first = true;
    while (true) {
      if (i_ >= p_.size()) return Error("a '[' without its ']'");
      if (Peek(']') && !first) break;
      first = false;
      std::vector<CodepointRange> item;
      DSV32_RETURN_IF_ERROR(ParseClassAtom(&item));
      // A range a-b needs single characters at both ends; "-" before "]" is literal.
      if (Peek('-') && i_ + 1 < p_.size() && p_[i_ + 1] != ']') {
        ++i_;
        std::vector<CodepointRange> end;
        DSV32_RETURN_IF_ERROR(ParseClassAtom(&end));
        if (item.size() != 1 || end.size() != 1 || item[0].lo != item[0].hi ||
            end[0].lo != end[0].hi)
          return Error("a class range between non-characters");
        if (end[0].lo < item[0].lo) return Error("a class range out of order");
        item = {{item[0].lo, end[0].lo}};
      }
      set.insert(set.end(), item.begin(), item.end());
    }
    ++i_;  // ']'
    Regex r = Set(std::move(set));
    if (negate) return Set(Complement(r->ranges));
    return r;
  }

  Status ParseClassAtom(std::vector<CodepointRange>* out) {
    if (Peek('\\')) return ParseEscape(/*in_class=*/true, out);
    if (Peek('[') && i_ + 1 < p_.size() &&
        (p_[i_ + 1] == ':' || p_[i_ + 1] == '=' || p_[i_ + 1] == '.'))
      return Unsupported("POSIX classes");
    size_t j = i_;
    const uint32_t cp = NextCodepoint(p_, &j);
    i_ = j;
    out->push_back({cp, cp});
    return Status::Ok();
  }

  Status Hex(int digits, uint32_t* out) {
    uint32_t v = 0;
    for (int k = 0; k < digits; ++k, ++i_) {
      if (i_ >= p_.size() || !std::isxdigit(static_cast<unsigned char>(p_[i_])))
        return Error("a \\x or \\u escape without its hex digits");
      const char h = p_[i_];
      v = v * 16 +
          static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(h))
                                    ? h - '0'
                                    : std::tolower(static_cast<unsigned char>(h)) - 'a' + 10);
    }
    *out = v;
    return Status::Ok();
  }

  Status ParseEscape(bool in_class, std::vector<CodepointRange>* out) {
    ++i_;  // '\'
    if (i_ >= p_.size()) return Error("a trailing backslash");
    const char c = p_[i_++];
    auto one = [&](uint32_t cp) {
      out->push_back({cp, cp});
      return Status::Ok();
    };
    auto add = [&](const std::vector<CodepointRange>& s, bool negate) {
      const auto set = negate ? Complement(s) : s;
      out->insert(out->end(), set.begin(), set.end());
      return Status::Ok();
    };
    switch (c) {
      case 'n':
        return one('\n');
      case 't':
        return one('\t');
      case 'r':
        return one('\r');
      case 'f':
        return one('\f');
      case 'v':
        return one('\v');
      case '0':
        return one(0);
      case 'd':
        return add(kDigit, false);
      case 'D':
        return add(kDigit, true);
      case 'w':
        return add(kWord, false);
      case 'W':
        return add(kWord, true);
      case 's':
        return add(kSpace, false);
      case 'S':
        return add(kSpace, true);
      case 'x':
      case 'u': {
        uint32_t cp = 0;
        DSV32_RETURN_IF_ERROR(Hex(c == 'x' ? 2 : 4, &cp));
        if (cp >= 0xD800 && cp <= 0xDFFF) return Unsupported("a surrogate code point");
        return one(cp);
      }
      case 'b':
        if (in_class) return one('\b');
        return Unsupported("\\b (word boundary)");
      default:
        break;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) return Unsupported("a backreference");
    if (std::isalpha(static_cast<unsigned char>(c)))
      return Unsupported(std::string("the escape \\") + c);
    if (static_cast<unsigned char>(c) >= 0x80) {
      i_ -= 1;
      size_t j = i_;
      const uint32_t cp = NextCodepoint(p_, &j);
      i_ = j;
      return one(cp);
    }
    return one(static_cast<unsigned char>(c));
  }

  static constexpr int kMaxDepth = 100;
  static constexpr int kMaxStacked = 4;
  std::string_view p_;
  size_t i_ = 0;
  int depth_ = 0;
};

}  // namespace

Result<Regex> ParseRegex(std::string_view pattern) {
  if (const size_t bad = FirstInvalidUtf8(pattern); bad != pattern.size())
    return InvalidArgument("regex: invalid UTF-8 at offset " + std::to_string(bad));
  return Parser(pattern).Parse();
}

}  // namespace dsv32::structured
