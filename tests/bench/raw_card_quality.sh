#!/usr/bin/env bash
# Issue #24's quality bar on raw card data (tests/bench/raw_card_data.sql: dates of birth, home and merchant
# coordinates, categories, names, streets, card and merchant ids): trained on the first 45 days, tested on
# the rest, ROC-AUC and average precision of
#   - a model built only through dendrite's featurizer spec (derived age and distance, the card's history),
#     gbdt and the MLP;
#   - compare() on SELECT * with no spec at all (its best version by validation PR-AUC);
#   - the peer: pandas + xgboost with the usual hand features (tests/bench/raw_card_xgboost.py).
# Usage: CARDS=2000 DAYS=60 bash tests/bench/raw_card_quality.sh   (needs make install; installs the peer's
# python3-pandas, -sklearn, -xgboost when missing: benchmark only)
set -euo pipefail
cd "$(dirname "$0")/../.."
CARDS="${CARDS:-2000}"
DAYS="${DAYS:-60}"
split="$(date -u -d "2026-01-01 + $((DAYS * 3 / 4)) days" +%F)"
need=()
for p in python3-pandas python3-sklearn python3-xgboost; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
source scripts/cluster.sh
work="$(mktemp -d)"
chmod 755 "$work"  # the server writes the score files
trap 'cluster_stop; rm -rf "$work"' EXIT
cluster_start >/dev/null
psql -X -q -c "CREATE EXTENSION dendrite"
psql -X -q -v cards="$CARDS" -v days="$DAYS" -f tests/bench/raw_card_data.sql
echo "== $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(date -u +%F); $CARDS cards, $DAYS days, test from $split"
train="SELECT * FROM raw_cards WHERE tx_time < '$split'"
psql -X -q -v ON_ERROR_STOP=1 <<SQL
SET client_min_messages = warning;
SELECT dendrite.create_featurizer('cards', \$q\$$train\$q\$, label => 'is_fraud',
    columns => '{"row_index": "ignore", "trans_num": "ignore", "first": "ignore", "last": "ignore", "street": "ignore",
                 "city": "ignore", "zip": "ignore", "lat": "ignore", "long": "ignore", "dob": "ignore",
                 "merch_lat": "ignore", "merch_long": "ignore", "cc_num": "ignore",
                 "merchant": "frequency", "amount": "log1p"}',
    derived => '{"age_years": "dendrite.age_years(dob, tx_time)",
                 "home_km": "dendrite.distance_km(lat, long, merch_lat, merch_long)"}',
    history => '[{"entity": "cc_num", "time": "tx_time", "value": "amount", "windows": ["1 hour", "1 day", "7 days"],
                  "aggregates": ["count", "mean", "max", "ratio_to_mean", "since_last"]}]') IS NOT NULL AS fitted;
\timing on
SELECT version FROM dendrite.train('spec_gbdt', \$q\$$train\$q\$, 'is_fraud', featurizer => 'cards', algorithm => 'gbdt',
                                   options => '{"rounds": 300}');
SELECT version FROM dendrite.train('spec_mlp', \$q\$$train\$q\$, 'is_fraud', featurizer => 'cards', hidden => '{64,32}',
                                   epochs => 10, class_weight => 'none');
CREATE TEMP TABLE leaderboard AS SELECT * FROM dendrite.compare('auto', \$q\$$train\$q\$, 'is_fraud');
\timing off
SELECT algorithm, version, round(pr_auc::numeric, 4) AS validation_pr_auc, round(roc_auc::numeric, 4) AS validation_roc_auc
  FROM leaderboard ORDER BY pr_auc DESC;
SELECT dendrite.deploy('auto', (SELECT version FROM leaderboard ORDER BY pr_auc DESC LIMIT 1)) AS deployed;
SQL
# The test rows, with the card's history from every earlier row (since).
for model in spec_gbdt spec_mlp auto; do
  psql -X -q -c "\\copy (SELECT key, score FROM dendrite.score_query('$model', 'SELECT * FROM raw_cards', key => 'trans_num', since => '$split')) TO '$work/$model.csv' CSV"
done
psql -X -q -c "\\copy (SELECT * FROM raw_cards) TO '$work/rows.csv' CSV HEADER"
/usr/bin/python3 tests/bench/raw_card_xgboost.py "$work/rows.csv" "$split" "$work/spec_gbdt.csv" "$work/spec_mlp.csv" "$work/auto.csv"
