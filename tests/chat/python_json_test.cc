#include "chat/python_json.h"

#include <gtest/gtest.h>

namespace dsv32::chat {
namespace {

TEST(PythonJsonTest, FloatsFollowPythonRepr) {
  EXPECT_EQ(PythonFloatRepr(0.5), "0.5");
  EXPECT_EQ(PythonFloatRepr(1.0), "1.0");
  EXPECT_EQ(PythonFloatRepr(-0.0), "-0.0");
  EXPECT_EQ(PythonFloatRepr(100.0), "100.0");
  EXPECT_EQ(PythonFloatRepr(0.1), "0.1");
  EXPECT_EQ(PythonFloatRepr(0.0001), "0.0001");
  EXPECT_EQ(PythonFloatRepr(0.00001), "1e-05");
  EXPECT_EQ(PythonFloatRepr(1.5e-7), "1.5e-07");
  EXPECT_EQ(PythonFloatRepr(1e15), "1000000000000000.0");
  EXPECT_EQ(PythonFloatRepr(1e16), "1e+16");
  EXPECT_EQ(PythonFloatRepr(1.2345e22), "1.2345e+22");
  EXPECT_EQ(PythonFloatRepr(1e100), "1e+100");
  EXPECT_EQ(PythonFloatRepr(123.456), "123.456");
  EXPECT_EQ(PythonFloatRepr(3.141592653589793), "3.141592653589793");
}

TEST(PythonJsonTest, DumpsLikeJsonDumps) {
  const auto v = OrderedJson::parse(
      R"({"b": [1, -2, 2.50, true, null, {}], "a": "é\"\\\n\t\u0001", "c": {"x": []}})");
  EXPECT_EQ(PythonJson(v),
            "{\"b\": [1, -2, 2.5, true, null, {}], \"a\": \"é\\\"\\\\\\n\\t\\u0001\", "
            "\"c\": {\"x\": []}}");
  EXPECT_EQ(PythonJson(OrderedJson::parse("18446744073709551615")), "18446744073709551615");
}

TEST(PythonJsonTest, TruthinessFollowsPython) {
  for (const char* falsy : {"null", "false", "0", "0.0", "\"\"", "[]", "{}"})
    EXPECT_FALSE(PythonTruthy(OrderedJson::parse(falsy))) << falsy;
  for (const char* truthy : {"true", "1", "-0.5", "\" \"", "[0]", "{\"a\": null}"})
    EXPECT_TRUE(PythonTruthy(OrderedJson::parse(truthy))) << truthy;
}

}  // namespace
}  // namespace dsv32::chat
