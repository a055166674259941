// The safetensors reader on well-formed and broken files: every violation is
// a FormatError that names the file and, where there is one, the tensor.
#include "core/safetensors.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include "core/checkpoint.h"

namespace dsv32 {
namespace {

namespace fs = std::filesystem;

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("dsv32_st_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  // A file with a raw JSON header and `data_bytes` zero bytes after it. The
  // header is padded so the data starts 8-byte aligned unless `align` is off.
  std::string WriteRaw(std::string header, size_t data_bytes, const std::string& name = "t.safetensors",
                       bool align = true) {
    if (align) header.append((8 - header.size() % 8) % 8, ' ');
    std::ofstream out(Path(name), std::ios::binary);
    const uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) out.put(static_cast<char>(n >> (8 * i)));
    out << header;
    out << std::string(data_bytes, '\0');
    return Path(name);
  }

  std::string WriteValid(const std::string& name = "t.safetensors") {
    const std::vector<float> a = {1, 2, 3, 4, 5, 6};
    const std::vector<uint16_t> b = {1, 2, 3};
    EXPECT_TRUE(WriteSafetensors(Path(name), {{"a", DType::kF32, {2, 3}, a.data(), 24},
                                              {"b", DType::kBF16, {3}, b.data(), 6}})
                    .ok());
    return Path(name);
  }

  static std::string ErrorOf(const std::string& path) {
    auto f = SafetensorsFile::Open(path);
    EXPECT_FALSE(f.ok()) << path << " opened but should not";
    return f.ok() ? "" : f.status().message();
  }

  fs::path dir_;
};

TEST_F(SafetensorsTest, RoundTrip) {
  auto f = SafetensorsFile::Open(WriteValid());
  ASSERT_TRUE(f.ok()) << f.status().message();
  const TensorView* a = (*f)->Find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->shape, (Shape{2, 3}));
  EXPECT_EQ(a->as<float>()[5], 6.0f);
  EXPECT_EQ((*f)->Find("b")->dtype, DType::kBF16);
  EXPECT_EQ((*f)->Find("missing"), nullptr);
}

// Mapping every page in ahead of use leaves the tensors as they were.
TEST_F(SafetensorsTest, PopulateKeepsTheBytes) {
  auto f = SafetensorsFile::Open(WriteValid());
  ASSERT_TRUE(f.ok()) << f.status().message();
  const TensorView* a = (*f)->Find("a");
  ASSERT_NE(a, nullptr);
  const std::vector<std::byte> before(a->data, a->data + a->nbytes);
  (*f)->Populate();
  EXPECT_TRUE(std::equal(before.begin(), before.end(), a->data));
}

TEST_F(SafetensorsTest, TruncatedFilesAreFormatErrors) {
  const std::string path = WriteValid();
  const auto size = fs::file_size(path);
  for (uintmax_t keep : {uintmax_t{0}, uintmax_t{5}, uintmax_t{8}, uintmax_t{20}, size - 1}) {
    const std::string cut = Path("cut" + std::to_string(keep) + ".safetensors");
    fs::copy_file(path, cut);
    fs::resize_file(cut, keep);
    auto f = SafetensorsFile::Open(cut);
    ASSERT_FALSE(f.ok()) << "kept " << keep << " bytes";
    EXPECT_EQ(f.status().code(), StatusCode::kFormatError) << f.status().message();
    EXPECT_NE(f.status().message().find(cut), std::string::npos);
  }
}

TEST_F(SafetensorsTest, OffsetsPastTheFile) {
  const std::string msg =
      ErrorOf(WriteRaw(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8));
  EXPECT_NE(msg.find("'w'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("run past"), std::string::npos) << msg;
}

TEST_F(SafetensorsTest, ShapeAndRangeDisagree) {
  const std::string msg =
      ErrorOf(WriteRaw(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", 16));
  EXPECT_NE(msg.find("needs 12 bytes"), std::string::npos) << msg;
}

TEST_F(SafetensorsTest, OverlappingTensors) {
  const std::string msg = ErrorOf(WriteRaw(
      R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
      24));
  EXPECT_NE(msg.find("overlap"), std::string::npos) << msg;
}

TEST_F(SafetensorsTest, UnknownDtypeBadJsonAndMisalignment) {
  EXPECT_NE(ErrorOf(WriteRaw(R"({"w":{"dtype":"Q9","shape":[1],"data_offsets":[0,1]}})", 8, "a.st"))
                .find("unknown dtype 'Q9'"),
            std::string::npos);
  EXPECT_NE(ErrorOf(WriteRaw("{not json", 8, "b.st")).find("not a JSON object"), std::string::npos);
  const std::string odd = R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}} )";
  ASSERT_NE((8 + odd.size()) % 4, 0u);
  EXPECT_NE(ErrorOf(WriteRaw(odd, 8, "c.st", /*align=*/false))
                .find("aligned"),
            std::string::npos);
  EXPECT_NE(ErrorOf(WriteRaw(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 8, "d.st"))
                .find("non-negative"),
            std::string::npos);
}

TEST_F(SafetensorsTest, HugeHeaderLengthIsRejectedWithoutReading) {
  std::ofstream out(Path("huge.safetensors"), std::ios::binary);
  const uint64_t n = uint64_t{1} << 40;
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>(n >> (8 * i)));
  out << "{}";
  out.close();
  EXPECT_NE(ErrorOf(Path("huge.safetensors")).find("exceeds"), std::string::npos);
}

TEST_F(SafetensorsTest, ShardedCheckpointThroughItsIndex) {
  const std::vector<float> a = {1, 2};
  const std::vector<float> b = {3};
  ASSERT_TRUE(WriteSafetensors(Path("s1.safetensors"), {{"a", DType::kF32, {2}, a.data(), 8}}).ok());
  ASSERT_TRUE(WriteSafetensors(Path("s2.safetensors"), {{"b", DType::kF32, {1}, b.data(), 4}}).ok());
  std::ofstream(Path("model.safetensors.index.json"))
      << R"({"metadata":{},"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"}})";
  auto ckpt = Checkpoint::Open(dir_.string());
  ASSERT_TRUE(ckpt.ok()) << ckpt.status().message();
  EXPECT_EQ((*ckpt)->num_files(), 2u);
  auto b_view = (*ckpt)->Get("b", {DType::kF32}, {1});
  ASSERT_TRUE(b_view.ok());
  EXPECT_EQ(b_view->as<float>()[0], 3.0f);
  auto wrong = (*ckpt)->Get("a", {DType::kBF16}, {2});
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("dtype F32, expected BF16"), std::string::npos);
  auto missing = (*ckpt)->Get("c");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);

  std::ofstream(Path("model.safetensors.index.json"))
      << R"({"weight_map":{"a":"s1.safetensors","z":"s2.safetensors"}})";
  auto broken = Checkpoint::Open(dir_.string());
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.status().message().find("'z'"), std::string::npos);
}

}  // namespace
}  // namespace dsv32
