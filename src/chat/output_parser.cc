#include "chat/output_parser.h"

#include <algorithm>
#include <array>
#include <initializer_list>
#include <optional>
#include <span>

#include "chat/python_json.h"
#include "chat/special_tokens.h"

namespace dsv32::chat {

namespace {

constexpr std::string_view kBlockNextInvoke = ">\n<｜DSML｜invoke";
constexpr std::string_view kBlockEnd = ">\n</｜DSML｜function_calls>";
constexpr std::string_view kNextParameter = ">\n<｜DSML｜parameter";
constexpr std::string_view kInvokeEnd = ">\n</｜DSML｜invoke";
constexpr const char* kBadInvokeHeader = "malformed <｜DSML｜invoke name=\"...\"> header";
constexpr std::string_view kParamNamePrefix = " name=\"";
constexpr std::string_view kStringTrue = "\" string=\"true\">";
constexpr std::string_view kStringFalse = "\" string=\"false\">";
// A value ends with "<" right before "/｜DSML｜parameter"; the reference's
// pattern also lets a single newline sit between them.
constexpr std::string_view kValueEnd = "</｜DSML｜parameter";
constexpr std::string_view kValueEndNewline = "<\n/｜DSML｜parameter";

// Special tokens the reference refuses inside reasoning or content.
constexpr std::array<std::string_view, 5> kSpecialTokens = {kBeginOfSentence, kEndOfSentence,
                                                            kThinkStart, kThinkEnd, kDsml};

constexpr std::array<std::string_view, 2> kInvokeHeaderEnds = {kParameterOpen, kInvokeClose};
constexpr std::array<std::string_view, 3> kParamHeaderEnds = {kStringTrue, kStringFalse,
                                                              kParameterClose};
constexpr std::array<std::string_view, 3> kValueEnds = {kValueEnd, kValueEndNewline,
                                                        kParameterClose};

struct Match {
  size_t pos = std::string_view::npos;
  size_t which = 0;
  bool found() const { return pos != std::string_view::npos; }
};

// The earliest occurrence of any marker at or after `from`; ties go to the
// marker listed first.
Match FindFirst(std::string_view text, std::span<const std::string_view> markers, size_t from = 0) {
  Match m;
  size_t i = 0;
  for (std::string_view marker : markers) {
    const size_t pos = text.find(marker, from);
    if (pos < m.pos) m = {pos, i};
    ++i;
  }
  return m;
}

// Where a search for `markers` can resume once `text` holds none of them:
// far enough back that a marker cut by the end of `text` is still found.
size_t ResumePoint(std::string_view text, std::span<const std::string_view> markers) {
  size_t longest = 0;
  for (std::string_view marker : markers) longest = std::max(longest, marker.size());
  return text.size() - std::min(text.size(), longest - 1);
}

// Length of the longest suffix of `text` that is a proper prefix of a marker:
// bytes that must wait, since the next piece may complete the marker.
size_t HeldSuffix(std::string_view text, std::span<const std::string_view> markers) {
  size_t held = 0;
  for (std::string_view marker : markers) {
    for (size_t k = std::min(marker.size() - 1, text.size()); k > held; --k) {
      if (text.substr(text.size() - k) == marker.substr(0, k)) {
        held = k;
        break;
      }
    }
  }
  return held;
}

// Shortens `end` so that text[0, end) does not stop inside a UTF-8 sequence.
size_t CompleteUtf8(std::string_view text, size_t end) {
  for (size_t back = 1; back <= 3 && back <= end; ++back) {
    const unsigned char c = static_cast<unsigned char>(text[end - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    const size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return need > back && c >= 0xC0 && c < 0xF8 ? end - back : end;
  }
  return end;
}

// Whitespace as Python's `\s` sees it in a str pattern.
bool IsPythonSpace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

// Skips leading Python whitespace; returns the offset of the first other byte.
size_t SkipPythonSpace(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    uint32_t cp = c;
    size_t len = 1;
    if (c >= 0xC0 && c < 0xE0 && i + 1 < text.size()) {
      cp = ((c & 0x1Fu) << 6) | (text[i + 1] & 0x3F);
      len = 2;
    } else if (c >= 0xE0 && c < 0xF0 && i + 2 < text.size()) {
      cp = ((c & 0x0Fu) << 12) | ((text[i + 1] & 0x3Fu) << 6) | (text[i + 2] & 0x3F);
      len = 3;
    }
    if (!IsPythonSpace(cp)) break;
    i += len;
  }
  return i;
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}
bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// The function name in an invoke header: optional whitespace, name="...",
// then `">` and a newline (one more newline is allowed, as the reference's
// pattern allows it; an invoke without parameters is written that way).
std::optional<std::string> InvokeName(std::string_view header) {
  std::string_view rest = header.substr(SkipPythonSpace(header));
  if (!StartsWith(rest, "name=\"")) return std::nullopt;
  rest.remove_prefix(6);
  if (EndsWith(rest, "\">\n\n")) return std::string(rest.substr(0, rest.size() - 4));
  if (EndsWith(rest, "\">\n")) return std::string(rest.substr(0, rest.size() - 3));
  return std::nullopt;
}

// Whether `text` can still grow into one of `alternatives`, has become one
// (its index), or has left them all.
constexpr int kNeedMore = -1;
constexpr int kMismatch = -2;
int MatchAlternatives(std::string_view text, std::initializer_list<std::string_view> alternatives) {
  bool prefix = false;
  int i = 0;
  for (std::string_view alt : alternatives) {
    if (StartsWith(text, alt)) return i;
    if (StartsWith(alt, text)) prefix = true;
    ++i;
  }
  return prefix ? kNeedMore : kMismatch;
}

}  // namespace

OutputParser::OutputParser(OutputParserOptions options)
    : state_(options.thinking ? State::kReasoning : State::kContent) {}

std::vector<OutputEvent> OutputParser::Feed(std::string_view text) {
  std::vector<OutputEvent> events;
  out_ = &events;
  if (state_ == State::kFinished) {
    Emit(OutputEventType::kError, "text fed after Finish() was ignored");
  } else {
    buffer_.append(text);
    Run();
  }
  out_ = nullptr;
  return events;
}

std::vector<OutputEvent> OutputParser::Finish() {
  std::vector<OutputEvent> events;
  out_ = &events;
  if (state_ == State::kFinished) {
    Emit(OutputEventType::kError, "Finish() called twice");
    out_ = nullptr;
    return events;
  }
  Run();
  switch (state_) {
    case State::kReasoning:
      EmitText(buffer_.size(), buffer_.size());
      Emit(OutputEventType::kError, "output ended inside the reasoning, before </think>");
      break;
    case State::kContent:
      EmitText(buffer_.size(), buffer_.size());
      Emit(OutputEventType::kError, "output ended without <｜end▁of▁sentence｜>");
      break;
    case State::kAfterBlock:
      // The reference accepts a tool-call block that is not followed by the
      // end of sentence; anything else after it is trailing text.
      if (!buffer_.empty()) Abandon("unexpected text after the tool call block");
      break;
    case State::kRaw:
    case State::kDone:
    case State::kFinished: break;
    default: Abandon("output ended inside a tool call block"); break;
  }
  Run();
  if (!buffer_.empty()) {
    // Only text that is certainly content is left: a partial end of sentence
    // or an incomplete UTF-8 sequence.
    if (state_ == State::kDone && !reported_trailing_)
      Emit(OutputEventType::kError, "text after <｜end▁of▁sentence｜>");
    Emit(OutputEventType::kContentDelta, buffer_);
    buffer_.clear();
  }
  Emit(OutputEventType::kFinish, saw_eos_ ? "stop" : "end");
  state_ = State::kFinished;
  out_ = nullptr;
  return events;
}

void OutputParser::Run() {
  while (!buffer_.empty() && Step()) {
  }
}

bool OutputParser::Step() {
  switch (state_) {
    case State::kReasoning:
    case State::kContent:
    case State::kRaw:
    case State::kDone: return StepText();
    case State::kBlockOpen:
    case State::kAfterInvoke: return StepBlockOpen();
    case State::kInvokeHeader: return StepInvokeHeader();
    case State::kParamHeader: return StepParamHeader();
    case State::kParamValue: return StepParamValue();
    case State::kAfterParam: return StepAfterParam();
    case State::kAfterBlock: {
      const int m = MatchAlternatives(buffer_, {kEndOfSentence});
      if (m == kNeedMore) return false;
      if (m == kMismatch) {
        Abandon("unexpected text after the tool call block");
        return true;
      }
      Consume(kEndOfSentence.size());
      saw_eos_ = true;
      state_ = State::kDone;
      return true;
    }
    case State::kFinished: return false;
  }
  return false;
}

bool OutputParser::StepText() {
  // The markers that end the current stretch of text, in priority order.
  std::array<std::string_view, 3> stops{};
  size_t num_stops = 0;
  if (state_ == State::kReasoning) {
    stops = {kThinkEnd, kToolCallsStart, kEndOfSentence};
    num_stops = 3;
  } else if (state_ == State::kContent) {
    stops = {kEndOfSentence, kToolCallsStart};
    num_stops = 2;
  } else if (state_ == State::kRaw) {
    stops = {kEndOfSentence};
    num_stops = 1;
  } else if (!reported_trailing_) {  // kDone: all of it is trailing text
    Emit(OutputEventType::kError, "text after <｜end▁of▁sentence｜>");
    reported_trailing_ = true;
  }
  const std::span<const std::string_view> stop_list(stops.data(), num_stops);
  const Match stop = FindFirst(buffer_, stop_list);
  size_t end = stop.pos;
  if (!stop.found()) {
    size_t held = HeldSuffix(buffer_, stop_list);
    if (state_ == State::kReasoning || state_ == State::kContent)
      held = std::max(held, HeldSuffix(buffer_, kSpecialTokens));
    end = CompleteUtf8(buffer_, buffer_.size() - held);
  }
  // A special token may run past `end` into the held-back bytes; it is
  // reported with the text it starts in, so look at all of the stretch.
  EmitText(end, stop.found() ? stop.pos : buffer_.size());
  if (!stop.found()) return false;

  const std::string_view marker = stops[stop.which];
  const bool reasoning = state_ == State::kReasoning;
  if (marker == kToolCallsStart) in_block_ = true;
  Consume(marker.size());
  if (marker == kEndOfSentence) {
    saw_eos_ = true;
    state_ = State::kDone;
    if (reasoning)
      Emit(OutputEventType::kError, "<｜end▁of▁sentence｜> inside the reasoning, before </think>");
  } else if (marker == kThinkEnd) {
    state_ = State::kContent;
  } else if (reasoning) {
    Abandon("tool call block inside the reasoning, before </think>");
  } else {
    state_ = State::kBlockOpen;
  }
  return true;
}

bool OutputParser::StepBlockOpen() {
  const int m = MatchAlternatives(buffer_, {kBlockNextInvoke, kBlockEnd});
  if (m == kNeedMore) return false;
  if (m == kMismatch) {
    Abandon(state_ == State::kBlockOpen ? "malformed tool call block opening"
                                        : "malformed text after </｜DSML｜invoke>");
    return true;
  }
  if (m == 0) {
    Consume(kBlockNextInvoke.size());
    param_names_.clear();
    state_ = State::kInvokeHeader;
  } else {
    Consume(kBlockEnd.size());
    pending_.clear();
    in_block_ = false;
    state_ = State::kAfterBlock;
  }
  return true;
}

bool OutputParser::StepInvokeHeader() {
  const Match m = FindFirst(buffer_, kInvokeHeaderEnds, scan_from_);
  if (!m.found()) {
    // Give up early when the header cannot become `name="`.
    // A non-ASCII first byte may be the start of a whitespace character.
    const std::string_view rest = std::string_view(buffer_).substr(SkipPythonSpace(buffer_));
    if (!rest.empty() && static_cast<unsigned char>(rest[0]) < 0x80 &&
        !StartsWith(rest, "name=\"") && !StartsWith("name=\"", rest)) {
      Abandon(kBadInvokeHeader);
      return true;
    }
    scan_from_ = ResumePoint(buffer_, kInvokeHeaderEnds);
    return false;
  }
  const std::optional<std::string> name = InvokeName(std::string_view(buffer_).substr(0, m.pos));
  if (!name) {
    Abandon(kBadInvokeHeader);
    return true;
  }
  Consume(m.pos + (m.which == 0 ? kParameterOpen.size() : kInvokeClose.size()));
  tool_open_ = true;
  Emit(OutputEventType::kToolCallStart, *name, tool_count_);
  Emit(OutputEventType::kToolCallArgumentsDelta, "{", tool_count_);
  if (m.which == 0) {
    state_ = State::kParamHeader;
  } else {
    CloseInvoke();
  }
  return true;
}

bool OutputParser::StepParamHeader() {
  const int prefix = MatchAlternatives(buffer_, {kParamNamePrefix});
  if (prefix == kNeedMore) return false;
  if (prefix == kMismatch) {
    Abandon("malformed tool call parameter: expected name=\"...\"");
    return true;
  }
  const Match m =
      FindFirst(buffer_, kParamHeaderEnds, std::max(scan_from_, kParamNamePrefix.size()));
  if (!m.found()) {
    scan_from_ = ResumePoint(buffer_, kParamHeaderEnds);
    return false;
  }
  if (m.which == 2) {
    Abandon("malformed tool call parameter: no string=\"true|false\" attribute");
    return true;
  }
  const std::string name = buffer_.substr(kParamNamePrefix.size(), m.pos - kParamNamePrefix.size());
  if (std::find(param_names_.begin(), param_names_.end(), name) != param_names_.end()) {
    Abandon("duplicate tool call parameter '" + name + "'");
    return true;
  }
  value_is_string_ = m.which == 0;
  Consume(m.pos + (value_is_string_ ? kStringTrue.size() : kStringFalse.size()));
  std::string delta = param_names_.empty() ? "\"" : ", \"";
  AppendJsonEscaped(name, &delta);
  delta += value_is_string_ ? "\": \"" : "\": ";
  param_names_.push_back(name);
  Emit(OutputEventType::kToolCallArgumentsDelta, std::move(delta), tool_count_);
  state_ = State::kParamValue;
  return true;
}

bool OutputParser::StepParamValue() {
  const size_t close = buffer_.find(kParameterClose);
  size_t end;
  if (close == std::string::npos) {
    end = CompleteUtf8(buffer_, buffer_.size() - HeldSuffix(buffer_, kValueEnds));
  } else if (close >= 1 && buffer_[close - 1] == '<') {
    end = close - 1;
  } else if (close >= 2 && buffer_.compare(close - 2, 2, "<\n") == 0) {
    end = close - 2;
  } else {
    Abandon("malformed tool call parameter: value not closed by </｜DSML｜parameter>");
    return true;
  }
  if (end > 0) {
    std::string delta;
    const std::string_view value = std::string_view(buffer_).substr(0, end);
    if (value_is_string_)
      AppendJsonEscaped(value, &delta);
    else
      delta.assign(value);
    Emit(OutputEventType::kToolCallArgumentsDelta, std::move(delta), tool_count_);
  }
  if (close == std::string::npos) {
    Consume(end);
    return false;
  }
  if (value_is_string_) Emit(OutputEventType::kToolCallArgumentsDelta, "\"", tool_count_);
  Consume(close + kParameterClose.size());
  state_ = State::kAfterParam;
  return true;
}

bool OutputParser::StepAfterParam() {
  const int m = MatchAlternatives(buffer_, {kNextParameter, kInvokeEnd});
  if (m == kNeedMore) return false;
  if (m == kMismatch) {
    Abandon("malformed text after </｜DSML｜parameter>");
    return true;
  }
  if (m == 0) {
    Consume(kNextParameter.size());
    state_ = State::kParamHeader;
  } else {
    Consume(kInvokeEnd.size());
    CloseInvoke();
  }
  return true;
}

void OutputParser::CloseInvoke() {
  Emit(OutputEventType::kToolCallArgumentsDelta, "}", tool_count_);
  Emit(OutputEventType::kToolCallEnd, "", tool_count_);
  tool_open_ = false;
  ++tool_count_;
  pending_.clear();
  state_ = State::kAfterInvoke;
}

void OutputParser::Abandon(const std::string& why) {
  Emit(OutputEventType::kError, why, tool_open_ ? tool_count_ : -1);
  if (tool_open_) {
    tool_open_ = false;
    ++tool_count_;
  }
  in_block_ = false;
  state_ = State::kRaw;
  // The markup read so far goes back in front of the unread text, so that it
  // is scanned as content (for the end of sentence) exactly as it would be
  // had it arrived in one piece.
  buffer_.insert(0, pending_);
  pending_.clear();
}

void OutputParser::Consume(size_t n) {
  if (in_block_) pending_.append(buffer_, 0, n);
  buffer_.erase(0, n);
  scan_from_ = 0;
}

void OutputParser::EmitText(size_t end, size_t stretch_end) {
  if (end == 0) return;
  if (state_ == State::kReasoning || state_ == State::kContent)
    ReportSpecialTokens(std::string_view(buffer_).substr(0, stretch_end), end);
  Emit(state_ == State::kReasoning ? OutputEventType::kReasoningDelta
                                   : OutputEventType::kContentDelta,
       buffer_.substr(0, end));
  Consume(end);
}

// The reference refuses special tokens inside reasoning or content; here
// they are reported and kept as text.
void OutputParser::ReportSpecialTokens(std::string_view stretch, size_t starts_before) {
  std::vector<std::pair<size_t, std::string_view>> found;
  for (std::string_view token : kSpecialTokens)
    for (size_t pos = stretch.find(token); pos < starts_before; pos = stretch.find(token, pos + 1))
      found.emplace_back(pos, token);
  std::sort(found.begin(), found.end());
  const char* where = state_ == State::kReasoning ? "reasoning" : "content";
  for (const auto& [pos, token] : found)
    Emit(OutputEventType::kError, "special token " + std::string(token) + " inside the " + where);
}

void OutputParser::Emit(OutputEventType type, std::string text, int tool_index) {
  out_->push_back(OutputEvent{type, tool_index, std::move(text)});
}

}  // namespace dsv32::chat
