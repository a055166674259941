// The MTP layer's forward: what its input projection reads in which order,
// the main model's embedding and head where the layer has none, its own
// cache, and clear errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "core/safetensors.h"
#include "core/thread_pool.h"
#include "model/model.h"
#include "model/random_init.h"

namespace dsv32 {
namespace {

namespace fs = std::filesystem;

class MtpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("dsv32_mtp_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A BF16 random checkpoint of tests/data/configs/`config` in one file.
  std::string Write(const std::string& config, const std::string& sub = "model") {
    std::ifstream in(std::string(DSV32_TEST_DATA_DIR) + "/configs/" + config);
    std::stringstream text;
    text << in.rdbuf();
    RandomInitOptions options;
    options.dtype = InitDType::kBf16;
    const std::string out = (dir_ / sub).string();
    Status s = WriteRandomCheckpoint(text.str(), out, options);
    EXPECT_TRUE(s.ok()) << s.message();
    return out;
  }

  // Rewrites `dir`'s model.safetensors; `edit` may change a tensor's bytes,
  // or return false to drop it.
  static void Rewrite(const std::string& dir,
                      const std::function<bool(const TensorView&, std::vector<std::byte>*)>& edit) {
    const std::string path = dir + "/model.safetensors";
    std::vector<std::vector<std::byte>> kept;
    std::vector<TensorToWrite> tensors;
    {
      auto file = SafetensorsFile::Open(path);
      ASSERT_TRUE(file.ok()) << file.status().message();
      kept.reserve((*file)->tensors().size());
      for (const auto& [name, view] : (*file)->tensors()) {
        std::vector<std::byte> bytes(view.data, view.data + view.nbytes);
        if (!edit(view, &bytes)) continue;
        kept.push_back(std::move(bytes));
        tensors.push_back({name, view.dtype, view.shape, kept.back().data(), kept.back().size()});
      }
      ASSERT_TRUE(WriteSafetensors(path + ".new", tensors).ok());
    }
    fs::rename(path + ".new", path);
  }

  static std::unique_ptr<Model> Load(const std::string& dir) {
    auto model = Model::Load(dir);
    EXPECT_TRUE(model.ok()) << model.status().message();
    return model.ok() ? std::move(model).value() : nullptr;
  }

  // The MTP layer's logits for one position 0 reading `token` and `hidden`.
  std::vector<float> Logits(const Model& model, int32_t token, const std::vector<float>& hidden) {
    KvCache cache(model.mtp_cache_config(), 0);
    std::vector<float> logits(static_cast<size_t>(model.config().vocab_size));
    const std::vector<int32_t> tokens = {token};
    Status s = model.ForwardMtp(&cache, tokens, hidden, 0, &pool_, {}, logits.data());
    EXPECT_TRUE(s.ok()) << s.message();
    return logits;
  }

  static std::vector<float> Hidden(const Model& model, float scale) {
    std::vector<float> h(static_cast<size_t>(model.config().hidden_size));
    for (size_t i = 0; i < h.size(); ++i) h[i] = scale * std::sin(static_cast<float>(i) + scale);
    return h;
  }

  fs::path dir_;
  ThreadPool pool_{2};
};

// eh_proj's first hidden_size columns read the normed embedding of the next
// token, the last ones the normed hidden state: zeroing one half makes the
// output blind to exactly one of the two inputs.
TEST_F(MtpTest, EhProjReadsTheEmbeddingThenTheHiddenState) {
  const std::string dir = Write("tiny-v32.json");
  auto zero_columns = [&](int64_t from) {
    Rewrite(dir, [&](const TensorView& view, std::vector<std::byte>* bytes) {
      if (view.name != "model.layers.4.eh_proj.weight") return true;
      EXPECT_EQ(view.dtype, DType::kBF16);
      const int64_t rows = view.shape[0], cols = view.shape[1];
      for (int64_t r = 0; r < rows; ++r)
        std::memset(bytes->data() + (r * cols + from) * 2, 0, static_cast<size_t>(cols));
      return true;
    });
  };
  {
    auto model = Load(dir);
    ASSERT_TRUE(model);
    const auto h1 = Hidden(*model, 1.0f), h2 = Hidden(*model, -2.0f);
    EXPECT_NE(Logits(*model, 5, h1), Logits(*model, 5, h2));
    EXPECT_NE(Logits(*model, 5, h1), Logits(*model, 6, h1));
  }
  zero_columns(256);  // hidden_size 256: the hidden state's half
  {
    auto model = Load(dir);
    ASSERT_TRUE(model);
    const auto h1 = Hidden(*model, 1.0f), h2 = Hidden(*model, -2.0f);
    EXPECT_EQ(Logits(*model, 5, h1), Logits(*model, 5, h2)) << "the hidden state is unread";
    EXPECT_NE(Logits(*model, 5, h1), Logits(*model, 6, h1));
  }
  zero_columns(0);  // now both halves
  {
    auto model = Load(dir);
    ASSERT_TRUE(model);
    const auto h1 = Hidden(*model, 1.0f);
    EXPECT_EQ(Logits(*model, 5, h1), Logits(*model, 6, h1)) << "the embedding is unread";
  }
}

TEST_F(MtpTest, TheMainEmbeddingAndHeadServeWhenTheLayerHasNone) {
  const std::string dir = Write("tiny-v32.json");
  {
    auto model = Load(dir);
    ASSERT_TRUE(model);
    const MtpWeights& mtp = model->weights().mtp.at(0);
    EXPECT_NE(mtp.embed_tokens.data, model->weights().embed_tokens.data) << "its own copies";
    EXPECT_NE(mtp.shared_head_head.data, model->weights().lm_head.data);
  }
  Rewrite(dir, [](const TensorView& view, std::vector<std::byte>*) {
    return view.name != "model.layers.4.embed_tokens.weight" &&
           view.name != "model.layers.4.shared_head.head.weight";
  });
  auto model = Load(dir);
  ASSERT_TRUE(model);
  const MtpWeights& mtp = model->weights().mtp.at(0);
  EXPECT_EQ(mtp.embed_tokens.data, model->weights().embed_tokens.data);
  EXPECT_EQ(mtp.shared_head_head.data, model->weights().lm_head.data);
  for (float v : Logits(*model, 7, Hidden(*model, 0.5f))) ASSERT_TRUE(std::isfinite(v));
}

// Several positions in one pass equal one position per pass over the
// layer's own cache: its attention reads its earlier entries.
TEST_F(MtpTest, OnePassEqualsOnePositionAtATime) {
  const std::string dir = Write("tiny-v32.json");
  auto model = Load(dir);
  ASSERT_TRUE(model);
  const int64_t H = model->config().hidden_size, V = model->config().vocab_size;
  const std::vector<int32_t> tokens = {11, 402, 7, 1999, 64, 3};
  const auto T = static_cast<int64_t>(tokens.size());
  std::vector<float> hidden;
  for (int64_t i = 0; i < T; ++i) {
    const auto h = Hidden(*model, 0.3f * static_cast<float>(i + 1));
    hidden.insert(hidden.end(), h.begin(), h.end());
  }
  KvCache together(model->mtp_cache_config(), 0);
  std::vector<float> all(static_cast<size_t>(T * V)), all_hidden;
  ForwardOptions options;
  options.last_hidden = &all_hidden;
  ASSERT_TRUE(model->ForwardMtp(&together, tokens, hidden, 0, &pool_, options, all.data()).ok());
  EXPECT_EQ(together.length(), T);
  ASSERT_EQ(all_hidden.size(), static_cast<size_t>(T * H));

  KvCache apart(model->mtp_cache_config(), 0);
  std::vector<float> one(static_cast<size_t>(V)), one_hidden;
  options.last_hidden = &one_hidden;
  for (int64_t i = 0; i < T; ++i) {
    ASSERT_TRUE(model
                    ->ForwardMtp(&apart, std::span(tokens).subspan(static_cast<size_t>(i), 1),
                                 std::span(hidden).subspan(static_cast<size_t>(i * H),
                                                           static_cast<size_t>(H)),
                                 i, &pool_, options, one.data())
                    .ok());
    double diff = 0, norm = 0;
    for (int64_t v = 0; v < V; ++v) {
      const double d = one[static_cast<size_t>(v)] - all[static_cast<size_t>(i * V + v)];
      diff += d * d;
      norm += all[static_cast<size_t>(i * V + v)] * all[static_cast<size_t>(i * V + v)];
    }
    EXPECT_LT(std::sqrt(diff / norm), 1e-5) << "position " << i;
  }
}

TEST_F(MtpTest, MissingLayerWrongCacheAndWrongHiddenAreErrors) {
  auto no_mtp = Load(Write("tiny-v3.json", "v3"));
  ASSERT_TRUE(no_mtp);
  EXPECT_FALSE(no_mtp->has_mtp());
  KvCache cache(no_mtp->mtp_cache_config(), 0);
  const std::vector<int32_t> token = {1};
  std::vector<float> hidden(static_cast<size_t>(no_mtp->config().hidden_size));
  Status s = no_mtp->ForwardMtp(&cache, token, hidden, 0, &pool_, {}, nullptr);
  EXPECT_EQ(s.code(), StatusCode::kUnsupported);
  EXPECT_NE(s.message().find("num_nextn_predict_layers is 0"), std::string::npos) << s.message();

  // The config promises the layer but the checkpoint lacks it.
  const std::string dir = Write("tiny-v32.json");
  Rewrite(dir, [](const TensorView& view, std::vector<std::byte>*) {
    return view.name.rfind("model.layers.4.", 0) != 0;
  });
  auto dropped = Load(dir);
  ASSERT_TRUE(dropped);
  EXPECT_FALSE(dropped->has_mtp());
  KvCache dropped_cache(dropped->mtp_cache_config(), 0);
  hidden.resize(static_cast<size_t>(dropped->config().hidden_size));
  s = dropped->ForwardMtp(&dropped_cache, token, hidden, 0, &pool_, {}, nullptr);
  EXPECT_EQ(s.code(), StatusCode::kUnsupported);
  EXPECT_NE(s.message().find("no model.layers.4.eh_proj.weight"), std::string::npos) << s.message();

  const std::string full = Write("tiny-v32.json", "full");
  auto model = Load(full);
  ASSERT_TRUE(model);
  KvCache main(model->config(), 0);
  s = model->ForwardMtp(&main, token, hidden, 0, &pool_, {}, nullptr);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << "a main-model cache";
  KvCache mtp(model->mtp_cache_config(), 0);
  hidden.pop_back();
  s = model->ForwardMtp(&mtp, token, hidden, 0, &pool_, {}, nullptr);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.message();
  EXPECT_EQ(mtp.length(), 0);
}

}  // namespace
}  // namespace dsv32
