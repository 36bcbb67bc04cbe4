# Scheduled retraining with pg_cron (issue #7): a job scheduled by the model's owner runs dendrite.retrain
# in the background, trains a new version with the serving version's settings and deploys it only when it
# beats the serving version on the evaluation rows; the comparison is a row of dendrite.retrainings. Runs on
# a cluster of its own with pg_cron preloaded (pg_cron 1.4 schedules by the minute, so the first run takes
# up to a minute); the second comparison calls the job's SQL directly.
source "$(dirname "$0")/lib.bash"
source "${DENDRITE_ROOT:-.}/scripts/cluster.sh"
[ -f "$(pg_config --pkglibdir)/pg_cron.so" ] || { echo "pg_cron is not installed (postgresql-15-cron)"; exit 77; }
trap cluster_stop EXIT
# Jobs run in background workers: no connection, so no password or pg_hba entry for the job's role.
CLUSTER_EXTRA_CONF="shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 16" cluster_start
export PGDATABASE=postgres
sql -c "CREATE EXTENSION pg_cron" -c "CREATE EXTENSION dendrite" \
    -c "CREATE ROLE e2e_owner LOGIN IN ROLE dendrite_trainer" -c "CREATE ROLE e2e_other LOGIN IN ROLE dendrite_trainer" \
    -c "CREATE TABLE tx AS SELECT * FROM dendrite.generate_transactions(customers => 1000, terminals => 200, days => 30, seed => 5)" \
    -c "GRANT SELECT ON tx TO e2e_owner" >/dev/null

# The last five days are the evaluation window; training reads the days before.
window="SELECT * FROM tx WHERE tx_time >= (SELECT max(tx_time) FROM tx) - interval '5 days'"
history="SELECT amount, online, country, merchant_category, is_fraud FROM tx WHERE tx_time < (SELECT max(tx_time) FROM tx) - interval '5 days'"
# The champion learned a label that has nothing to do with fraud: any honest retraining beats it.
noise="SELECT amount, online, country, merchant_category, transaction_id % 17 = 0 AS is_fraud FROM tx WHERE tx_time < (SELECT max(tx_time) FROM tx) - interval '5 days'"
q() { printf "%s" "$1" | sed "s/'/''/g"; }

as_owner() { PGUSER=e2e_owner sql -c "SET client_min_messages = warning" "$@"; }
as_owner -c "SELECT dendrite.train('nightly', '$(q "$noise")', 'is_fraud', epochs => 2)" \
         -c "SELECT dendrite.deploy('nightly', 1)" >/dev/null

# Only the owner may schedule; only with USAGE on schema cron.
out="$(PGUSER=e2e_other sql -c "SELECT dendrite.schedule_retraining('nightly', '* * * * *', '$(q "$history")', '$(q "$window")')" 2>&1)" &&
  fail "a trainer scheduled another's model"
grep -q 'must be owner of model "nightly"' <<<"$out" || fail "unexpected error for another trainer: $out"
out="$(as_owner -c "SELECT dendrite.schedule_retraining('nightly', '* * * * *', '$(q "$history")', '$(q "$window")')" 2>&1)" &&
  fail "scheduled without USAGE on schema cron"
grep -q 'permission denied for schema cron' <<<"$out" || fail "unexpected error without cron privileges: $out"
sql -c "GRANT USAGE ON SCHEMA cron TO e2e_owner" >/dev/null
out="$(as_owner -c "SELECT dendrite.schedule_retraining('nightly', 'every full moon', '$(q "$history")', '$(q "$window")')" 2>&1)" &&
  fail "an invalid schedule was accepted"
grep -q 'invalid schedule' <<<"$out" || fail "unexpected error for an invalid schedule: $out"

job="$(as_owner -c "SELECT dendrite.schedule_retraining('nightly', '* * * * *', '$(q "$history")', '$(q "$window")')")"
[ "$(sql -c "SELECT username || ' ' || schedule FROM cron.job WHERE jobid = $job")" = "e2e_owner * * * * *" ] ||
  fail "cron.job does not hold the owner's schedule"
# Scheduling again replaces the job rather than adding one.
job2="$(as_owner -c "SELECT dendrite.schedule_retraining('nightly', '* * * * *', '$(q "$history")', '$(q "$window")')")"
[ "$job2" = "$job" ] || fail "a second schedule made a second job ($job, $job2)"

echo "# waiting for pg_cron's first run (up to 75 s)"
for _ in $(seq 1 75); do
  [ "$(sql -c "SELECT count(*) FROM dendrite.retrainings")" -ge 1 ] && break
  sleep 1
done
run="$(sql -c "SELECT challenger_version_id IS NOT NULL, promoted, run_by, champion_pr_auc < challenger_pr_auc
                 FROM dendrite.retrainings ORDER BY retraining_id LIMIT 1")"
[ -n "$run" ] || fail "pg_cron did not run the retraining: $(sql -c "SELECT status || ': ' || return_message FROM cron.job_run_details ORDER BY runid DESC LIMIT 1")"
sql -c "SELECT unnest(ARRAY['# first run: ' || decision]) FROM dendrite.retrainings ORDER BY retraining_id LIMIT 1"
[ "$run" = "t|t|e2e_owner|t" ] || fail "the scheduled run did not promote the better challenger: $run"
[ "$(sql -c "SELECT version FROM dendrite.serving_version('nightly')")" = 2 ] || fail "version 2 does not serve"
# Stop the schedule before the next minute starts another run, then run the job's SQL by hand: the
# challenger, trained with the same settings on the same rows, is no better than the champion.
[ "$(as_owner -c "SELECT dendrite.unschedule_retraining('nightly')")" = t ] || fail "unschedule found no job"
[ "$(as_owner -c "SELECT dendrite.unschedule_retraining('nightly')")" = f ] || fail "unschedule removed a job twice"
[ "$(sql -c "SELECT count(*) FROM cron.job")" = 0 ] || fail "a job is left in cron.job"
sql -c "SELECT status FROM cron.job_run_details WHERE jobid = $job" | grep -qx succeeded || fail "no succeeded run in cron.job_run_details"
as_owner -c "SELECT dendrite.retrain('nightly', '$(q "$history")', '$(q "$window")')" >/dev/null
last="$(sql -c "SELECT promoted, champion_pr_auc = challenger_pr_auc FROM dendrite.retrainings ORDER BY retraining_id DESC LIMIT 1")"
[ "$last" = "f|t" ] || fail "an equal challenger was promoted: $last"
serving="$(sql -c "SELECT version FROM dendrite.serving_version('nightly')")"
[ "$serving" = 2 ] || fail "the serving version changed to $serving"
sql -c "SELECT '# second run: ' || decision FROM dendrite.retrainings ORDER BY retraining_id DESC LIMIT 1"
echo "scheduled retraining: promoted when better, kept the champion when not"
