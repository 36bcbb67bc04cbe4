"""The peer of issue #24's quality bar: pandas + xgboost with the usual hand features of raw card data (hour,
age, distance from home, category, amount, the card's counts over 1 hour / 1 day / 7 days), trained and
tested on the same time split as dendrite; then the metrics of dendrite's score files on the same test rows.
Usage: raw_card_xgboost.py rows.csv split_time dendrite_scores.csv... (each: trans_num,score, named NAME.csv)
Benchmark only: python3-pandas, -sklearn, -xgboost are the peer, never the product."""
import sys

import numpy as np
import pandas as pd
import xgboost
from sklearn.metrics import average_precision_score, roc_auc_score

rows_path, split = sys.argv[1], pd.Timestamp(sys.argv[2], tz="UTC")
df = pd.read_csv(rows_path, parse_dates=["tx_time", "dob"])
df["tx_time"] = pd.to_datetime(df["tx_time"], utc=True)
df = df.sort_values("tx_time").reset_index(drop=True)
df["is_fraud"] = df["is_fraud"].map({"t": 1, "f": 0, True: 1, False: 0}).astype(int)
df["hour"] = df["tx_time"].dt.hour
df["age"] = (df["tx_time"] - pd.to_datetime(df["dob"], utc=True)).dt.days / 365.25
lat1, lon1, lat2, lon2 = (np.radians(df[c]) for c in ("lat", "long", "merch_lat", "merch_long"))
a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
df["distance_km"] = 2 * 6371.0088 * np.arcsin(np.sqrt(np.minimum(1, a)))
df["category_code"] = df["category"].astype("category").cat.codes
# The card's payments over the trailing window, this one included (rows are in time order).
indexed = df.set_index("tx_time")
for window in ("1h", "24h", "7d"):
    df["card_count_" + window] = (
        indexed.groupby("cc_num")["amount"].transform(lambda s: s.rolling(window).count()).values
    )
features = ["hour", "age", "distance_km", "category_code", "amount", "card_count_1h", "card_count_24h", "card_count_7d"]
train, test = df[df["tx_time"] < split], df[df["tx_time"] >= split]
model = xgboost.XGBClassifier(n_estimators=300, max_depth=6, learning_rate=0.1, subsample=0.8,
                              colsample_bytree=0.8, tree_method="hist", n_jobs=2, random_state=1)
model.fit(train[features], train["is_fraud"])
p = model.predict_proba(test[features])[:, 1]
print(f"{'model':<44} {'ROC-AUC':>8} {'AP':>8}   ({len(test)} test rows, {int(test['is_fraud'].sum())} frauds)")
print(f"{'pandas + xgboost, hand features':<44} {roc_auc_score(test['is_fraud'], p):8.4f} "
      f"{average_precision_score(test['is_fraud'], p):8.4f}")
labels = test.set_index("trans_num")["is_fraud"]
for path in sys.argv[3:]:
    scores = pd.read_csv(path, names=["trans_num", "score"]).set_index("trans_num")["score"]
    joined = pd.concat([labels, scores], axis=1, join="inner")
    name = path.rsplit("/", 1)[-1].removesuffix(".csv")
    print(f"{'dendrite ' + name:<44} {roc_auc_score(joined['is_fraud'], joined['score']):8.4f} "
          f"{average_precision_score(joined['is_fraud'], joined['score']):8.4f}   ({len(joined)} rows)")
