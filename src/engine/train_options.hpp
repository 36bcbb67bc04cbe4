// dendrite.train's settings as JSON: the named arguments (built by the glue) and the user's options jsonb
// (the advanced settings), parsed into TrainOptions; and the canonical JSON of every setting, stored with
// each version (model_versions.hyperparameters) so that a retraining can reproduce it.
#pragma once
#include "engine/engine_only.hpp"

#include <string>

#include "engine/trainer.hpp"

namespace dendrite::engine {

// arguments_json: {"algorithm": ..., "hidden": [...], ...} from the named arguments; options_json: the
// options argument, an object of advanced keys (a key of a named argument there is an error, as is an
// unknown key). Throws InvalidParameter with the key's name.
TrainOptions parse_train_options(const std::string& arguments_json, const std::string& options_json);

// Every setting, named-argument keys and option keys alike, as one JSON object.
std::string train_options_json(const TrainOptions& options);

// The keys the options argument accepts, comma-separated (for hints and docs).
const char* train_option_keys();

}  // namespace dendrite::engine
