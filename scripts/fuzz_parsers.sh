#!/usr/bin/env bash
# libFuzzer on the engine's parsers of user text (issue #8; tests/fuzz/parsers_fuzz.cpp): train()'s options
# and arguments, featurizer column and history specs, stored specs. Builds build-fuzz with clang and
# -fsanitize=fuzzer,address,undefined, then runs from the seed corpus in tests/fuzz/corpus for
# FUZZ_SECONDS (default 30). A crash, a sanitizer report or an exception other than the engine's own error
# fails it; libFuzzer then writes the input as crash-* in build-fuzz/.
# scripts/test.sh runs it; alone: bash scripts/fuzz_parsers.sh (after scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DDENDRITE_FUZZ=ON -DDENDRITE_TESTS=OFF -DDENDRITE_NATIVE=OFF \
      -DDENDRITE_WERROR=OFF -DDENDRITE_SANITIZE=fuzzer-no-link,address,undefined \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target parsers_fuzz >build-fuzz/build.log 2>&1 || { cat build-fuzz/build.log; exit 1; }
corpus="$(mktemp -d)"
trap 'rm -rf "$corpus"' EXIT
cp tests/fuzz/corpus/* "$corpus/"
cd build-fuzz
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ./parsers_fuzz -max_total_time="${FUZZ_SECONDS:-30}" -seed=1 \
  -max_len=4096 -print_final_stats=1 "$corpus" ../tests/fuzz/corpus >fuzz.log 2>&1 || { tail -60 fuzz.log; exit 1; }
runs="$(grep -oE 'stat::number_of_executed_units: *[0-9]+' fuzz.log | grep -oE '[0-9]+$')"
echo "parsers fuzzed for ${FUZZ_SECONDS:-30} s: $runs inputs, no crash, no sanitizer report, only clean errors"
