// Saved caches: a restored sequence decodes to exactly the logits of the
// one that never left memory; damaged, truncated or foreign files are
// clear errors; a prefix cache survives the trip too.
#include "attention/kv_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/safetensors.h"
#include "core/thread_pool.h"
#include "model/golden.h"
#include "model/model.h"

namespace dsv32 {
namespace {

namespace fs = std::filesystem;

class KvFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string fixture = testing::FixtureDir("tiny-a");
    if (!fs::exists(fixture + "/golden.safetensors"))
      GTEST_SKIP() << "fixture tiny-a not found at " << fixture;
    model_ = Model::Load(fixture).value();
    auto golden = testing::Golden::Open(fixture);
    tokens_ = golden->I32("input_ids");
    prefill_ = golden->I32("prefill_len").at(0);
    dir_ = fs::temp_directory_path() /
           ("dsv32_kvfile_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  const ModelConfig& config() const { return model_->config(); }

  std::shared_ptr<KvPagePool> Pool(KvLayout layout = KvLayout::kFp8, int64_t page_tokens = 8) {
    KvPoolOptions o;
    o.layout = layout;
    o.page_tokens = page_tokens;
    o.budget_bytes = 32 * KvPagePool::PageBytes(config(), o);
    return KvPagePool::Create(config(), o).value();
  }
  void Prefill(KvCache* cache) {
    std::vector<float> logits(static_cast<size_t>(config().vocab_size));
    ForwardOptions options;
    options.all_logits = false;
    ASSERT_TRUE(
        model_
            ->Forward(cache, std::span(tokens_).first(prefill_), 0, &pool_, options, logits.data())
            .ok());
  }
  // Decodes a few tokens after the prefill (enough to read every cached
  // page, few enough for the sanitizer build).
  std::vector<float> DecodeRest(KvCache* cache) {
    const int64_t V = config().vocab_size;
    const size_t end = std::min(tokens_.size(), static_cast<size_t>(prefill_) + 6);
    std::vector<float> logits((end - static_cast<size_t>(prefill_)) * static_cast<size_t>(V));
    for (size_t i = static_cast<size_t>(prefill_); i < end; ++i) {
      Status s = model_->Forward(cache, std::span(tokens_).subspan(i, 1), static_cast<int64_t>(i),
                                 &pool_, {}, &logits[(i - static_cast<size_t>(prefill_)) * V]);
      EXPECT_TRUE(s.ok()) << s.message();
    }
    return logits;
  }
  // Saves the prefill of a fresh fp8 sequence to `name`.
  std::string Saved(const std::string& name) {
    KvCache cache(Pool(), config(), 0);
    Prefill(&cache);
    const std::string path = Path(name);
    EXPECT_TRUE(
        SaveSequenceCache(path, model_->config_hash(), cache, std::span(tokens_).first(prefill_))
            .ok());
    return path;
  }
  std::vector<char> Bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  void Write(const std::string& path, const std::vector<char>& bytes) {
    std::ofstream(path, std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  Status Load(const std::string& path) {
    KvCache cache(Pool(), config(), 0);
    return LoadSequenceCache(path, model_->config_hash(), &cache).status();
  }

  std::unique_ptr<Model> model_;
  std::vector<int32_t> tokens_;
  int64_t prefill_ = 0;
  fs::path dir_;
  ThreadPool pool_{2};
};

TEST_F(KvFileTest, RestoredSequenceDecodesExactlyLikeTheOriginal) {
  for (KvLayout layout : {KvLayout::kF32, KvLayout::kBf16, KvLayout::kFp8}) {
    auto kv_pool = Pool(layout);
    KvCache original(kv_pool, config(), 0);
    Prefill(&original);
    const std::string path = Path("seq.kv");
    ASSERT_TRUE(
        SaveSequenceCache(path, model_->config_hash(), original, std::span(tokens_).first(prefill_))
            .ok());
    KvCache restored(Pool(layout), config(), 0);
    auto tokens = LoadSequenceCache(path, model_->config_hash(), &restored);
    ASSERT_TRUE(tokens.ok()) << tokens.status().message();
    EXPECT_EQ(*tokens, std::vector<int32_t>(tokens_.begin(), tokens_.begin() + prefill_));
    EXPECT_EQ(restored.length(), prefill_);
    EXPECT_EQ(DecodeRest(&restored), DecodeRest(&original)) << KvLayoutName(layout);
  }
}

TEST_F(KvFileTest, CorruptedFilesAreFormatErrors) {
  const std::string path = Saved("seq.kv");
  const std::vector<char> good = Bytes(path);
  ASSERT_GT(good.size(), 100u);
  ASSERT_TRUE(Load(path).ok());
  for (size_t at : {good.size() / 2, good.size() - 3, size_t{70}}) {
    std::vector<char> bad = good;
    bad[at] ^= 0x5a;
    Write(path, bad);
    const Status s = Load(path);
    EXPECT_EQ(s.code(), StatusCode::kFormatError) << "byte " << at << ": " << s.message();
  }
  std::vector<char> bad = good;
  bad[0] = 'X';
  Write(path, bad);
  EXPECT_NE(Load(path).message().find("not a libdsv32 KV cache file"), std::string::npos);
  bad = good;
  bad[8] = 9;  // format version
  Write(path, bad);
  EXPECT_EQ(Load(path).code(), StatusCode::kUnsupported);
}

TEST_F(KvFileTest, TruncatedFilesAreFormatErrors) {
  const std::string path = Saved("seq.kv");
  const std::vector<char> good = Bytes(path);
  for (size_t keep :
       {size_t{0}, size_t{10}, size_t{40}, size_t{71}, good.size() / 2, good.size() - 1}) {
    Write(path, std::vector<char>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(keep)));
    const Status s = Load(path);
    EXPECT_EQ(s.code(), StatusCode::kFormatError) << keep << " bytes: " << s.message();
  }
  std::vector<char> longer = good;
  longer.push_back(0);
  Write(path, longer);
  EXPECT_EQ(Load(path).code(), StatusCode::kFormatError);
  EXPECT_EQ(Load(Path("missing.kv")).code(), StatusCode::kIoError);
}

TEST_F(KvFileTest, AnotherModelOrLayoutIsRefused) {
  const std::string path = Saved("seq.kv");
  KvCache cache(Pool(), config(), 0);
  Status s = LoadSequenceCache(path, model_->config_hash() + 1, &cache).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("different model"), std::string::npos) << s.message();
  KvCache bf16(Pool(KvLayout::kBf16), config(), 0);
  s = LoadSequenceCache(path, model_->config_hash(), &bf16).status();
  EXPECT_NE(s.message().find("layout fp8"), std::string::npos) << s.message();
  KvCache paged16(Pool(KvLayout::kFp8, 16), config(), 0);
  s = LoadSequenceCache(path, model_->config_hash(), &paged16).status();
  EXPECT_NE(s.message().find("pages of 8 tokens"), std::string::npos) << s.message();
}

TEST_F(KvFileTest, ConfigHashIgnoresFormattingButNotValues) {
  const uint64_t a = ConfigHash(R"({"b": 1, "a": [1, 2]})").value();
  EXPECT_EQ(ConfigHash("{\"a\":[1,2],\n \"b\":1}").value(), a);
  EXPECT_NE(ConfigHash(R"({"a": [1, 2], "b": 2})").value(), a);
  EXPECT_EQ(ConfigHash("{oops").status().code(), StatusCode::kFormatError);
}

TEST_F(KvFileTest, PrefixCacheRoundTrip) {
  auto kv_pool = Pool(KvLayout::kFp8, 4);
  PrefixCache prefixes(kv_pool, 0);
  {
    KvCache seq(kv_pool, config(), 0);
    Prefill(&seq);
    prefixes.Insert(std::span(tokens_).first(prefill_), seq);
  }
  const std::string path = Path("prefixes.kv");
  ASSERT_TRUE(SavePrefixCache(path, model_->config_hash(), prefixes).ok());
  // A sequence ending in a partly filled page is not a prefix cache.
  if (prefill_ % 4 != 0) {
    KvCache seq(Pool(KvLayout::kFp8, 4), config(), 0);
    Prefill(&seq);
    const std::string seq_path = Path("seq.kv");
    ASSERT_TRUE(
        SaveSequenceCache(seq_path, model_->config_hash(), seq, std::span(tokens_).first(prefill_))
            .ok());
    PrefixCache wrong(Pool(KvLayout::kFp8, 4), 0);
    EXPECT_EQ(LoadPrefixCache(seq_path, model_->config_hash(), &wrong).status().code(),
              StatusCode::kFormatError);
  }

  auto other_pool = Pool(KvLayout::kFp8, 4);
  PrefixCache restored(other_pool, 0);
  auto pages = LoadPrefixCache(path, model_->config_hash(), &restored);
  ASSERT_TRUE(pages.ok()) << pages.status().message();
  EXPECT_EQ(*pages, prefixes.cached_pages());
  EXPECT_EQ(restored.cached_pages(), prefixes.cached_pages());
  EXPECT_EQ(other_pool->used_pages(), prefixes.cached_pages());

  // Decoding after the restored prefix matches decoding after the original.
  KvCache a(kv_pool, config(), 0), b(other_pool, config(), 0);
  const auto prompt = std::span(tokens_).first(prefill_);
  const int64_t ra = prefixes.Attach(prompt, &a).value();
  ASSERT_EQ(restored.Attach(prompt, &b).value(), ra);
  std::vector<float> la(static_cast<size_t>(config().vocab_size)), lb(la.size());
  ForwardOptions options;
  options.all_logits = false;
  ASSERT_TRUE(model_->Forward(&a, prompt.subspan(ra), ra, &pool_, options, la.data()).ok());
  ASSERT_TRUE(model_->Forward(&b, prompt.subspan(ra), ra, &pool_, options, lb.data()).ok());
  EXPECT_EQ(la, lb);
}

}  // namespace
}  // namespace dsv32
