// Loading for the commands that talk to a person: the model with a progress
// bar on stderr, and the tokenizer beside it (or where --tokenizer says).
#pragma once

#include <memory>
#include <string>

#include "args.h"
#include "core/status.h"
#include "model/model.h"
#include "text/tokenizer.h"

namespace dsv32::cli {

// The weight binding the command line asks for: --activations f32 (the
// default, exact) or bf16 (the fast mode); --populate, where the command
// takes it, reads the weights in at load.
Result<BindOptions> BindOptionsFromArgs(const Args& args);

// Loads `dir`, drawing a bar on stderr unless `quiet`.
Result<std::shared_ptr<const Model>> LoadModelWithProgress(const std::string& dir, bool quiet,
                                                           const BindOptions& options = {});

// The tokenizer in `dir`; the message says which files were looked for.
Result<std::shared_ptr<const Tokenizer>> LoadTokenizerFrom(const std::string& dir);

}  // namespace dsv32::cli
