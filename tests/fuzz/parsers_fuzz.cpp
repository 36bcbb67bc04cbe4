// libFuzzer target for the engine's parsers of user text (issue #8): train()'s options jsonb and named
// arguments (parse_train_options), a featurizer's columns and history specs (resolve_spec) and a stored spec
// (FeaturizerSpec::from_json), and create_featurizer's anomaly declarations (parse_anomaly). Each must either succeed or throw dendrite's own engine::Error, which the
// glue turns into a clean SQLSTATE; any other exception (a JSON library's, std::out_of_range, ...) would
// surface as XX000, so it is left uncaught here and libFuzzer reports it as a crash, as it does for
// AddressSanitizer and UndefinedBehaviorSanitizer findings.
// Built and run by scripts/fuzz_parsers.sh (clang, -fsanitize=fuzzer,address,undefined).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "engine/featurizer_spec.hpp"
#include "engine/train_options.hpp"

using namespace dendrite::engine;

namespace {

template <typename F>
void expect_clean(F&& parse) {
    try {
        parse();
    } catch (const Error&) {
        // a clean, user-facing error
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    // The first byte picks the parser, the rest is its text.
    const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
    static const std::vector<InputColumn> columns{{"amount", SqlTypeClass::Number}, {"merchant", SqlTypeClass::Text},
                                                  {"at", SqlTypeClass::Timestamp},  {"card", SqlTypeClass::Integer},
                                                  {"ip", SqlTypeClass::Inet},       {"online", SqlTypeClass::Boolean},
                                                  {"fraud", SqlTypeClass::Integer}};
    switch (data[0] % 6) {
        case 0:
            expect_clean([&] { parse_train_options("{}", text); });
            break;
        case 1:
            expect_clean([&] { parse_train_options(text, "{}"); });
            break;
        case 2:
            expect_clean([&] { resolve_spec(columns, text, "", "fraud", "error"); });
            break;
        case 3:
            expect_clean([&] {
                static const ShardLayout shards{"card", 3};  // what "within": "shard" resolves to
                resolve_spec(columns, "", text, "fraud", "missing", {}, {}, &shards);
            });
            break;
        case 4:
            expect_clean([&] { FeaturizerSpec::from_json(text); });
            break;
        case 5:
            expect_clean([&] {
                std::vector<AnomalySpec> anomaly = parse_anomaly(text);
                for (AnomalySpec& a : anomaly) {  // as an autoencoder over two of the columns would have them
                    a.inputs = {"amount", "merchant"};
                    a.input_types = {SqlTypeClass::Number, SqlTypeClass::Text};
                }
                FeaturizerSpec::from_json(
                    resolve_spec(columns, "", "", "fraud", "error", {}, {}, nullptr, anomaly).to_json());
            });
            break;
    }
    return 0;
}
