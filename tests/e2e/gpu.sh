# Training on the GPU from inside a backend (issue #5), with the installed CUDA plugin.
#  - Without a usable GPU (CI): device => 'cuda' is a clear 0A000 naming the plugin's reason, 'auto' trains
#    on the CPU, and the backend that loaded the plugin keeps working; then exit 77 with the reason.
#  - With one: the same model trained on 'cpu' and 'cuda' (same seed) agrees (PR-AUC within 1e-3), the
#    version records 'cuda', the GPU's memory budget gives 53200, and two sessions train at once.
source "$(dirname "$0")/lib.bash"
fresh_database e2e_gpu
plugin="$(pg_config --pkglibdir)/dendrite_cuda.so"
[ -f "$plugin" ] || { echo "skipped: the CUDA plugin was not built (no nvcc when the engine was configured)"; exit 77; }
sql -c "SET client_min_messages = warning" \
    -c "CREATE TABLE tx AS SELECT * FROM dendrite.generate_transactions(days => 10)"
query='SELECT amount, online, customer_id, is_fraud FROM tx'

if ! nvidia-smi -L >/dev/null 2>&1; then
  out="$(psql -X -q -c "SELECT dendrite.train('g', '$query', 'is_fraud', device => 'cuda')" 2>&1 || true)"
  echo "$out" | grep -q "ERROR:  no usable GPU" || fail "device => 'cuda' without a GPU said: $out"
  reason="$(echo "$out" | sed -n 's/^DETAIL:  //p')"
  [ -n "$reason" ] || fail "no reason given: $out"
  # 'auto' in the same session: the plugin is loaded already, the CPU trains, the backend is fine.
  device="$(psql -X -q -At -c "SET client_min_messages = warning" -c "SET dendrite.device = auto" \
                 -c "SELECT dendrite.train('g', '$query', 'is_fraud', epochs => 1, device => 'cuda')" \
                 -c "SELECT device FROM dendrite.train('g', '$query', 'is_fraud', epochs => 1)" 2>/dev/null)"
  [ "$device" = cpu ] || fail "'auto' trained on '$device'"
  echo "# device => 'cuda' without a GPU: 0A000, \"$reason\"; 'auto' trained on the CPU"
  echo "skipped: no GPU on this machine, so nothing trained on one ($reason)"
  exit 77
fi

train() {  # device, model -> "device|pr_auc"
  sql -c "SET client_min_messages = warning" -c "SET dendrite.gpu_memory = '8GB'" \
      -c "SELECT device || '|' || round(pr_auc::numeric, 4) FROM dendrite.train('$2', '$query', 'is_fraud', epochs => 3, batch_size => 512, seed => 7, device => '$1')"
}
cpu="$(train cpu on_cpu)"
gpu="$(train cuda on_gpu)"
[ "${gpu%%|*}" = cuda ] || fail "device => 'cuda' trained on '${gpu%%|*}'"
python3 -c "import sys; a, b = float('${cpu#*|}'), float('${gpu#*|}'); sys.exit(abs(a - b) > 1e-3)" ||
  fail "PR-AUC differs between the CPU ($cpu) and the GPU ($gpu)"
echo "# same seed: CPU $cpu, GPU $gpu"

out="$(psql -X -q -c "SET dendrite.gpu_memory = '1MB'" -c "SELECT dendrite.train('tiny', '$query', 'is_fraud', device => 'cuda')" 2>&1 || true)"
echo "$out" | grep -q "ERROR:  out of GPU memory" || fail "a 1 MB budget gave: $out"
echo "# a 1 MB budget: $(echo "$out" | sed -n 's/^DETAIL:  //p')"

# Two sessions at once: both succeed (or one gets a clear error, never a crash).
log1="$(mktemp)" log2="$(mktemp)"
train cuda both_1 >"$log1" 2>&1 & a=$!
train cuda both_2 >"$log2" 2>&1 & b=$!
wait $a || grep -q "ERROR" "$log1" || fail "first concurrent training: $(cat "$log1")"
wait $b || grep -q "ERROR" "$log2" || fail "second concurrent training: $(cat "$log2")"
echo "# two sessions at once: $(cat "$log1") / $(cat "$log2")"
