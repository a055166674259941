// The config of the embedded default model (configs/demo.json, compiled in):
// DeepSeek-V3.2's architecture at toy width with the real vocabulary, so the
// real tokenizer applies. Its weights are random: it shows the machinery
// working, and its text is noise.
#pragma once

namespace dsv32 {

const char* DemoConfigJson();

}  // namespace dsv32
