// The engine with a tokenizer: streamed text, stop strings and chat
// requests, checked against the tokenizer and chat encoder used directly.
#include <gtest/gtest.h>

#include "chat/chat_encoder.h"
#include "engine/engine.h"
#include "engine/test_model.h"
#include "structured/token_constraint.h"
#include "text/tokenizer.h"

namespace dsv32 {
namespace {

std::shared_ptr<const Tokenizer> DeepSeekTokenizer() {
  static std::shared_ptr<const Tokenizer> tokenizer = [] {
    auto t = Tokenizer::Load(std::string(DSV32_TEST_DATA_DIR) + "/tokenizer/deepseek-v3");
    EXPECT_TRUE(t.ok()) << t.status().message();
    return std::shared_ptr<const Tokenizer>(std::move(t).value());
  }();
  return tokenizer;
}

std::unique_ptr<Engine> TextEngine(const std::string& config = "tiny-engine.json") {
  EngineOptions o;
  o.threads = 2;
  o.tokenizer = DeepSeekTokenizer();
  auto e = Engine::Create(testing::RandomModel(config), o);
  EXPECT_TRUE(e.ok()) << e.status().message();
  return std::move(e).value();
}

struct Streamed {
  std::string text;
  FinishReason reason = FinishReason::kNone;
  std::vector<int32_t> tokens;
};

// Runs `spec` to its end on the caller's thread, collecting the stream.
Streamed RunToEnd(Engine& engine, RequestSpec spec) {
  auto out = std::make_shared<Streamed>();
  spec.on_token = [out](const TokenEvent& e) {
    out->text += e.text;
    if (e.token >= 0) out->tokens.push_back(e.token);
    if (e.finished) out->reason = e.reason;
  };
  auto id = engine.Submit(std::move(spec));
  EXPECT_TRUE(id.ok()) << id.status().message();
  for (int i = 0; i < 1000 && out->reason == FinishReason::kNone; ++i)
    EXPECT_TRUE(engine.Step().ok());
  EXPECT_EQ(engine.Poll(*id)->text, out->text);
  return *out;
}

RequestSpec Greedy(int max_tokens) {
  RequestSpec s;
  for (int i = 0; i < 7; ++i) s.prompt.push_back(100 + 37 * i);
  s.sampling.temperature = 0.0f;
  s.max_tokens = max_tokens;
  return s;
}

TEST(EngineTextTest, StreamedTextIsTheDecodedOutput) {
  auto engine = TextEngine();
  const Streamed run = RunToEnd(*engine, Greedy(12));
  EXPECT_EQ(run.reason, FinishReason::kMaxTokens);
  EXPECT_EQ(run.text, DeepSeekTokenizer()->Decode(run.tokens).value());
  EXPECT_FALSE(run.text.empty());
}

TEST(EngineTextTest, StopStringEndsTheTextBeforeIt) {
  auto engine = TextEngine();
  const std::string full = RunToEnd(*engine, Greedy(12)).text;
  ASSERT_GE(full.size(), 6u);
  const std::string stop = full.substr(full.size() / 2, 3);
  RequestSpec spec = Greedy(12);
  spec.stop_strings = {stop};
  const Streamed run = RunToEnd(*engine, spec);
  EXPECT_EQ(run.reason, FinishReason::kStopString);
  EXPECT_EQ(run.text, full.substr(0, full.find(stop)));
}

TEST(EngineTextTest, SpecialTokensTextCanBeLeftOut) {
  auto engine = TextEngine();
  const int32_t eos = DeepSeekTokenizer()->eos_id();
  auto vocab = structured::TokenVocabulary::Build(
      *DeepSeekTokenizer(), static_cast<int32_t>(engine->model().config().vocab_size));
  ASSERT_TRUE(vocab.ok()) << vocab.status().message();
  auto grammar = structured::TokenGrammar::FromRegex("ok", vocab.value());
  ASSERT_TRUE(grammar.ok()) << grammar.status().message();
  // "ok" then the end of sentence, whatever the random model prefers.
  RequestSpec spec = Greedy(8);
  spec.stop_tokens = {eos};
  spec.sampling.constraint = structured::TokenConstraint::Create(grammar.value(), {eos}).value();
  EXPECT_EQ(RunToEnd(*engine, spec).text, "ok<｜end▁of▁sentence｜>");
  spec.skip_special_tokens = true;
  const Streamed skipped = RunToEnd(*engine, spec);
  EXPECT_EQ(skipped.reason, FinishReason::kStopToken);
  EXPECT_EQ(skipped.text, "ok");
}

TEST(EngineTextTest, ChatRequestIsEncodedAndTokenized) {
  auto engine = TextEngine("tiny-engine-full-vocab.json");
  const std::string request = R"({"messages": [{"role": "user", "content": "Hello!"}]})";
  RequestSpec spec;
  spec.chat_request = request;
  spec.max_tokens = 2;
  auto id = engine->Submit(spec);
  ASSERT_TRUE(id.ok()) << id.status().message();
  const auto prompt = DeepSeekTokenizer()->Encode(chat::EncodeChatJson(request).value()).value();
  EXPECT_EQ(engine->Poll(*id)->prompt_tokens, static_cast<int64_t>(prompt.size()));
  EXPECT_EQ(prompt.front(), DeepSeekTokenizer()->bos_id());
}

TEST(EngineTextTest, BadTextRequestsAreRefused) {
  auto engine = TextEngine();
  RequestSpec both = Greedy(2);
  both.chat_request = R"({"messages": []})";
  EXPECT_EQ(engine->Submit(both).status().code(), StatusCode::kInvalidArgument);
  RequestSpec bad;
  bad.chat_request = R"({"messages": [{"role": "user", "content": 3}]})";
  auto refused = engine->Submit(bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("messages[0]"), std::string::npos)
      << refused.status().message();
  RequestSpec empty_stop = Greedy(2);
  empty_stop.stop_strings = {""};
  EXPECT_FALSE(engine->Submit(empty_stop).ok());

  EngineOptions plain;
  auto no_tokenizer = Engine::Create(testing::RandomModel(), plain);
  ASSERT_TRUE(no_tokenizer.ok());
  RequestSpec stop = Greedy(2);
  stop.stop_strings = {"x"};
  EXPECT_FALSE((*no_tokenizer)->Submit(stop).ok());
  RequestSpec chat;
  chat.chat_request = R"({"messages": [{"role": "user", "content": "Hi"}]})";
  EXPECT_FALSE((*no_tokenizer)->Submit(chat).ok());
}

}  // namespace
}  // namespace dsv32
