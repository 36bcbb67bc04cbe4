# The device path of train inside a backend, on machines without a GPU: dendrite.cuda_library pointed at
# the host emulation of the device session (build/dendrite_host_device.so, the same C table and session code
# as the CUDA plugin, its kernels run as loops). Checks the glue, not the GPU: device => 'cuda' trains and
# records 'cuda', the same seed gives the CPU's model (a classifier and an autoencoder), the GPU budget gives 53200, what the GPU does not
# train gives 0A000 ('cuda') or the CPU with a NOTICE ('auto'), the model scores, a cancel stops it.
source "$(dirname "$0")/lib.bash"
built="$DENDRITE_ROOT/build/dendrite_host_device.so"
[ -f "$built" ] || fail "$built was not built"
# The server loads it: a copy where the postgres user can read it (the clone may be in a mode-700 home).
shelf="$(mktemp -d /tmp/dendrite-device-path.XXXXXX)"
trap 'rm -rf "$shelf"' EXIT
chmod 755 "$shelf"
emulation="$shelf/dendrite_host_device.so"
cp "$built" "$emulation"
chmod 644 "$emulation"
fresh_database e2e_device_path
sql -c "SET client_min_messages = warning" \
    -c "CREATE TABLE tx AS SELECT * FROM dendrite.generate_transactions(days => 10)"
query='SELECT amount, online, customer_id, is_fraud FROM tx'
settings="SET client_min_messages = warning; SET dendrite.cuda_library = '$emulation';"

train() {  # device, model, extra arguments -> "device|pr_auc|parameters"
  sql -c "$settings" -c "SELECT t.device || '|' || round(t.pr_auc::numeric, 4) FROM dendrite.train('$2', '$query', 'is_fraud', epochs => 2, batch_size => 256, seed => 7, device => '$1' ${3:-}) t"
}
cpu="$(train cpu on_cpu)"
dev="$(train cuda on_device)"
[ "${dev%%|*}" = cuda ] || fail "device => 'cuda' trained on '${dev%%|*}'"
[ "${cpu#*|}" = "${dev#*|}" ] || fail "PR-AUC differs between the CPU ($cpu) and the device path ($dev)"
# The parameters themselves: the largest difference against the CPU's, relative to the largest parameter.
diff="$(sql -c "SELECT max(abs(a.v - b.v)) / max(abs(a.v)) < 1e-4
                  FROM (SELECT p.layer_index, p.name, u.ord, u.v FROM dendrite.parameters p
                          JOIN dendrite.model_versions v USING (version_id) JOIN dendrite.models m USING (model_id),
                               unnest(p.value) WITH ORDINALITY u(v, ord) WHERE m.name = 'on_cpu') a
                  JOIN (SELECT p.layer_index, p.name, u.ord, u.v FROM dendrite.parameters p
                          JOIN dendrite.model_versions v USING (version_id) JOIN dendrite.models m USING (model_id),
                               unnest(p.value) WITH ORDINALITY u(v, ord) WHERE m.name = 'on_device') b
                 USING (layer_index, name, ord)")"
[ "$diff" = t ] || fail "the device path's parameters are not the CPU's within 1e-4"
scored="$(sql -c "SELECT count(*) FROM tx WHERE dendrite.score('on_device', tx) BETWEEN 0 AND 1")"
[ "$scored" = "$(sql -c "SELECT count(*) FROM tx")" ] || fail "the device-trained model did not score every row"
echo "# same seed, CPU $cpu, device path $dev; parameters within 1e-4; $scored rows scored"

# An autoencoder (no label) trains there too: the reconstruction loss's steps on the device, its measure on
# the host; the same seed gives the CPU's losses, and the version scores in [0, 1].
train_autoencoder() {  # device, model -> "device|validation loss"
  sql -c "$settings" -c "SELECT t.device || '|' || round(t.validation_loss::numeric, 4) FROM dendrite.train('$2', 'SELECT amount, online FROM tx', NULL, algorithm => 'autoencoder', hidden => '{8,2,8}', epochs => 2, batch_size => 256, seed => 7, device => '$1') t"
}
ae_cpu="$(train_autoencoder cpu ae_on_cpu)"
ae_dev="$(train_autoencoder cuda ae_on_device)"
[ "${ae_dev%%|*}" = cuda ] || fail "an autoencoder with device => 'cuda' trained on '${ae_dev%%|*}'"
[ "${ae_cpu#*|}" = "${ae_dev#*|}" ] || fail "the autoencoder's validation loss differs: CPU $ae_cpu, device path $ae_dev"
ae_scored="$(sql -c "SELECT count(*) FROM tx WHERE dendrite.score('ae_on_device', tx) BETWEEN 0 AND 1")"
[ "$ae_scored" = "$scored" ] || fail "the device-trained autoencoder did not score every row"
echo "# autoencoder: CPU $ae_cpu, device path $ae_dev"

out="$(psql -X -q -c "$settings" -c "SET dendrite.gpu_memory = '1MB'" -c "SELECT dendrite.train('tiny', '$query', 'is_fraud', device => 'cuda')" 2>&1 || true)"
echo "$out" | grep -q "ERROR:  out of GPU memory" || fail "a 1 MB budget gave: $out"
[ "$(sql -c "SELECT count(*) FROM dendrite.models WHERE name = 'tiny'")" = 0 ] || fail "a refused training left a model"
echo "# 1 MB budget: $(echo "$out" | sed -n 's/^DETAIL:  //p')"

# A network with piecewise-linear encodings trains on the device from a copy of the rows encoded on the host;
# that copy counts against what dendrite.training_memory leaves beyond the rows held (53200), while the CPU,
# which encodes a batch at a time, needs none. With a named featurizer no raw rows are kept, so the rows held
# are what the budget counts for the feature matrix: 2 x rows x (features + 1) floats; the budget below
# leaves 4 bytes a row beyond that, less than any encoded copy (each row's features and at least two bins).
sql -c "SET client_min_messages = warning" \
    -c "SELECT dendrite.create_featurizer('dp_features', '$query', label => 'is_fraud') IS NOT NULL" >/dev/null
budget_kb="$(sql -c "SELECT ceil((2 * count(*) * (array_length(dendrite.feature_names('dp_features'), 1) + 1) * 4
                                  + 4 * count(*)) / 1024.0) FROM tx")"
tight="SET dendrite.training_memory = '${budget_kb}kB';"
sql -c "$settings $tight" -c "SELECT dendrite.train('tight_cpu', '$query', 'is_fraud', featurizer => 'dp_features',
                                                    epochs => 1, seed => 7, device => 'cpu')" >/dev/null
encoded="$(sql -c "SELECT coalesce(jsonb_array_length(v.configuration->'encodings'), 0)
                     FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id) WHERE m.name = 'tight_cpu'")"
[ "${encoded:-0}" -gt 0 ] || fail "the CPU model under a ${budget_kb} kB budget encodes no input ('$encoded'): nothing to check"
out="$(psql -X -q -c "$settings $tight" -c "SELECT dendrite.train('tight_dev', '$query', 'is_fraud', featurizer => 'dp_features', epochs => 1, seed => 7, device => 'cuda')" 2>&1 || true)"
echo "$out" | grep -q "ERROR:  the encoded training rows do not fit in dendrite.training_memory" ||
  fail "an encoded copy beyond dendrite.training_memory gave: $out"
[ "$(sql -c "SELECT count(*) FROM dendrite.models WHERE name = 'tight_dev'")" = 0 ] || fail "a refused training left a model"
echo "# dendrite.training_memory ${budget_kb} kB: the CPU trains (inputs encoded: $encoded), the device path refuses: $(echo "$out" | sed -n 's/^DETAIL:  //p')"

out="$(psql -X -q -c "$settings" -c "SELECT dendrite.train('ln', '$query', 'is_fraud', layer_norm => true, device => 'cuda')" 2>&1 || true)"
echo "$out" | grep -q "ERROR:  this model cannot train on the GPU" || fail "layer_norm on 'cuda' gave: $out"
out="$(psql -X -q -At -c "SET dendrite.cuda_library = '$emulation'" -c "SET dendrite.device = auto" \
        -c "SELECT device FROM dendrite.train('ln', '$query', 'is_fraud', epochs => 1, layer_norm => true)" 2>&1)"
echo "$out" | grep -q "NOTICE:  training on the CPU: layer_norm is not implemented on the GPU" || fail "'auto' with layer_norm: $out"
[ "$(echo "$out" | tail -1)" = cpu ] || fail "'auto' with layer_norm trained on $(echo "$out" | tail -1)"
echo "# layer_norm: 0A000 with 'cuda', the CPU with a NOTICE with 'auto'"

# A cancel stops a training on the device between steps, and the backend keeps working.
log="$(mktemp)"
psql -X -q -c "$settings" -c "SELECT dendrite.train('long', '$query', 'is_fraud', epochs => 100000, device => 'cuda')" >"$log" 2>&1 &
client=$!
pid="$(training_pid long)"
[ -n "$pid" ] || fail "the device training never reported an epoch"
sql -c "SELECT pg_cancel_backend($pid)" >/dev/null
wait "$client" && fail "the device training was not canceled"
grep -q "canceling statement due to user request" "$log" || fail "unexpected: $(cat "$log")"
echo "# a device training canceled after its first epoch"
