// Reads the JSON-lines goldens kept beside these tests.
#pragma once

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace dsv32::chat {

struct GoldenLine {
  std::string text;  // the line as written
  nlohmann::ordered_json json;
};

inline std::vector<GoldenLine> ReadGoldenLines(const std::string& name) {
  std::ifstream in(std::string(DSV32_CHAT_DATA_DIR) + "/" + name);
  std::vector<GoldenLine> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back({line, nlohmann::ordered_json::parse(line)});
  return lines;
}

}  // namespace dsv32::chat
