#!/usr/bin/env bash
# The README's test command (and what .ci/run calls): installs what is missing, builds, runs the engine's
# GoogleTest unit tests, installs the extension, starts a throw-away cluster, runs the pg_regress suites
# and the end-to-end scripts in tests/e2e against it, checks the server log for crashes, stops the cluster
# and ends with one line: "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

bash scripts/install-deps.sh || { echo "dependency installation failed"; exit 1; }

echo "== build"
if ! make -j"$(nproc)" >build.log 2>&1; then cat build.log; echo "build failed"; exit 1; fi
if ! make install >>build.log 2>&1; then cat build.log; echo "make install failed"; exit 1; fi
rm -f build.log

passed=0 failed=0 skipped=0
failures=()

echo "== C++ style (.clang-format)"
style_files=$(git ls-files 'src/*.cpp' 'src/*.hpp' 'src/*.h' 'kernels/*.cu' 'kernels/*.cuh' 'kernels/*.hpp' 'tests/*.cpp' \
                             'tests/*.hpp' 'tests/*.cu' 2>/dev/null || true)
if [ -z "$style_files" ]; then
  echo "skipped: not a git checkout"; skipped=$((skipped + 1))
elif clang-format --dry-run -Werror $style_files >/dev/null 2>&1; then
  echo "ok: every C++ file is formatted"; passed=$((passed + 1))
else
  clang-format --dry-run $style_files 2>&1 | grep 'warning:' | head -20
  echo "not ok: run clang-format -i on the files above"; failed=$((failed + 1)); failures+=("clang-format")
fi

echo "== engine unit tests (ctest)"
ctest_log="$(mktemp)"
(cd build && ctest --output-on-failure 2>&1) | tee "$ctest_log" | grep -E 'tests passed|tests failed|\*\*\*Failed|Not Run' || true
summary="$(grep -E '[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$ctest_log" | tail -1)"
if [ -n "$summary" ]; then
  total="$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$summary")"
  bad="$(sed -E 's/.*passed, ([0-9]+) tests failed.*/\1/' <<<"$summary")"
  passed=$((passed + total - bad)); failed=$((failed + bad))
  [ "$bad" -gt 0 ] && failures+=("engine unit tests")
else
  failed=$((failed + 1)); failures+=("ctest did not run")
  cat "$ctest_log"
fi
rm -f "$ctest_log"

# The engine's unit tests built with sanitizers: sanitized_unit_tests NAME SANITIZERS BUILD_DIR REPORT [FILTER]
# builds them with -fsanitize=SANITIZERS, without -march=native (GCC 12 reports a false 'uninitialized'
# inside its AVX-512 headers under the sanitizers) and at -O1, which keeps a build near two minutes on two
# cores; a failed test or output matching REPORT fails the run. The sanitizer's runtime options come from
# the call's environment. SANITIZE=0 skips them.
sanitized_unit_tests() {
  local name="$1" sanitizers="$2" dir="$3" report="$4" filter="${5:-*}" out
  if [ "${SANITIZE:-1}" = 0 ]; then
    skipped=$((skipped + 1)); echo "skip $name: SANITIZE=0"; return
  fi
  if ! { cmake -S . -B "$dir" -DDENDRITE_SANITIZE="$sanitizers" -DDENDRITE_NATIVE=OFF \
           -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" >/dev/null &&
         cmake --build "$dir" -j"$(nproc)" --target engine_tests >"$dir.log" 2>&1; }; then
    cat "$dir.log"; failed=$((failed + 1)); failures+=("$name build")
  elif out="$("$dir/engine_tests" --gtest_filter="$filter" 2>&1)" && ! grep -qE "$report" <<<"$out"; then
    passed=$((passed + 1)); echo "ok   $(grep -E '^\[  PASSED  \]' <<<"$out") with no $name report"
  else
    failed=$((failed + 1)); failures+=("engine unit tests under $name")
    grep -E "$report|FAILED" <<<"$out" | head -20
    tail -40 <<<"$out"
  fi
  rm -f "$dir.log"
}

# Out-of-bounds access, use after free, undefined arithmetic and leaks in the engine (issue #8).
echo "== engine unit tests under ASan + UBSan + LSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  sanitized_unit_tests "ASan + UBSan + LSan" address,undefined build-sanitize 'ERROR: (Address|Leak)Sanitizer|runtime error'

# The helper threads inside a backend: the one that scores guard_batch's captured rows
# (src/engine/captured_rows.hpp), the featurizer fit's (src/engine/fit_pipeline.hpp), an offline pass's
# featurizing (src/engine/transform_pipeline.hpp) and the worker pool's,
# whose hand-over is lock-free while its threads spin (src/engine/parallel.cpp): a data race between one and
# the backend's thread fails the run.
echo "== captured rows, the pipelined fit and featurizing, the helper thread and the worker pool under TSan"
TSAN_OPTIONS=halt_on_error=1 \
  sanitized_unit_tests ThreadSanitizer thread build-tsan 'WARNING: ThreadSanitizer' 'CapturedRows.*:SerialWorker.*:WorkerPool.*:PipelinedFit.*:PipelinedTransform.*:Explain.ScoreAndExplainRowsIsRowByRow'

echo "== libFuzzer on the parsers of user text"
if [ "${SANITIZE:-1}" = 0 ]; then
  skipped=$((skipped + 1)); echo "skip parser fuzzing: SANITIZE=0"
elif fuzz_out="$(FUZZ_SECONDS="${FUZZ_SECONDS:-30}" bash scripts/fuzz_parsers.sh 2>&1)"; then
  passed=$((passed + 1)); echo "ok   $(tail -1 <<<"$fuzz_out")"
else
  failed=$((failed + 1)); failures+=("parser fuzzing"); tail -60 <<<"$fuzz_out"
fi

source scripts/cluster.sh
trap cluster_stop EXIT
cluster_start
echo "== throw-away cluster on port $PGPORT ($CLUSTER_DIR)"

# Adds a pg_regress-style summary (log $2, diffs under $3) to the counts; $1 names the step in failures.
count_suites() {
  local name="$1" log="$2" outdir="$3" summary bad total
  if summary="$(grep -E 'All [0-9]+ tests passed' "$log")"; then
    passed=$((passed + $(grep -oE '[0-9]+' <<<"$summary" | head -1)))
  elif summary="$(grep -E '[0-9]+ of [0-9]+ tests failed' "$log")"; then
    read -r bad total < <(grep -oE '[0-9]+' <<<"$summary" | head -2 | tr '\n' ' ')
    passed=$((passed + total - bad)); failed=$((failed + bad)); failures+=("$name")
    [ -f "$outdir/regression.diffs" ] && head -200 "$outdir/regression.diffs"
  else
    failed=$((failed + 1)); failures+=("$name did not run"); cat "$log"
  fi
}

echo "== pg_regress"
rm -rf build/regress
regress_log="$(mktemp)"
make installcheck >"$regress_log" 2>&1
grep -E '^(ok|not ok|test|     )|tests (passed|failed)' "$regress_log" | grep -vE '^\+\+\+' || cat "$regress_log"
count_suites pg_regress "$regress_log" build/regress
rm -f "$regress_log"

echo "== isolation suites (concurrent sessions)"
rm -rf build/isolation
isolation_log="$(mktemp)"
make isolationcheck >"$isolation_log" 2>&1
grep -E '^(ok|not ok|test) ' "$isolation_log" || true
count_suites "isolation suites" "$isolation_log" build/isolation
rm -f "$isolation_log"

# Each suite runs alone after setup (it makes its own tables and models): a newcomer can run one.
echo "== pg_regress suites alone"
alone_failed=0
for suite in $(make -s print-regress); do
  [ "$suite" = setup ] && continue
  if make installcheck REGRESS="setup $suite" >/dev/null 2>&1; then
    passed=$((passed + 1))
  else
    echo "not ok: suite $suite fails when run alone (make installcheck REGRESS=\"setup $suite\")"
    failed=$((failed + 1)); failures+=("suite $suite alone"); alone_failed=1
  fi
done
[ "$alone_failed" = 0 ] && echo "ok: every suite passes alone after setup"
rm -rf build/regress

echo "== end-to-end scripts"
for script in tests/e2e/*.sh; do
  name="$(basename "$script" .sh)"
  log="$(mktemp)"
  start=$SECONDS
  DENDRITE_ROOT="$root" bash "$script" >"$log" 2>&1
  rc=$?
  case $rc in
    0) passed=$((passed + 1)); echo "ok   $name ($((SECONDS - start)) s)"; sed 's/^/     /' "$log" | grep -E '^\s+(#|metric)' || true ;;
    77) skipped=$((skipped + 1)); echo "skip $name: $(tail -1 "$log")" ;;
    *) failed=$((failed + 1)); failures+=("$name"); echo "FAIL $name (exit $rc)"; sed 's/^/     /' "$log" | tail -40 ;;
  esac
  rm -f "$log"
done

echo "== server log"
if grep -E 'terminated by signal|TRAP:|was terminated by|PANIC' "$(cluster_log)"; then
  failed=$((failed + 1)); failures+=("server log shows a crash")
  echo "FAIL the server log shows a crashed backend"
else
  passed=$((passed + 1)); echo "ok   no backend crashed (no 'terminated by signal', TRAP or PANIC in the log)"
fi
cluster_stop

[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
