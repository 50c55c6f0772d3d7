# XGBoost's numbers for tests/unit/test_gbdt_xgboost.c: trains Debian's python3-xgboost on the
# very rows tbml's examples train on (the split file they write with --split-out) with the same
# parameters, and prints the test metrics the test records.
#   /usr/bin/python3 tests/gbdt/xgboost_reference.py CSV SPLIT OBJECTIVE [param=value ...]
# e.g.
#   build/tbml-example-xgboost_regressor -f ../shared/datasets/BostonHousing.csv --split-out /tmp/boston.split
#   /usr/bin/python3 tests/gbdt/xgboost_reference.py ../shared/datasets/BostonHousing.csv /tmp/boston.split reg:squarederror
import sys
import numpy as np
import xgboost as xgb

csv, split, objective = sys.argv[1], sys.argv[2], sys.argv[3]
params = {'tree_method': 'hist', 'objective': objective, 'max_depth': 6, 'eta': 0.3, 'max_bin': 256,
          'base_score': 0.5, 'nthread': 1, 'verbosity': 0}
num_round = 10
for kv in sys.argv[4:]:
    k, v = kv.split('=', 1)
    if k == 'num_round':
        num_round = int(v)
    else:
        params[k] = float(v) if '.' in v else int(v)
data = np.loadtxt(csv, delimiter=',', skiprows=1, dtype=np.float64)
with open(split) as f:
    train_rows = [int(t) for t in f.readline().split()]
    test_rows = [int(t) for t in f.readline().split()]
X, y = data[:, :-1].astype(np.float32), data[:, -1].astype(np.float32)
dtrain = xgb.DMatrix(X[train_rows], label=y[train_rows])
bst = xgb.train(params, dtrain, num_boost_round=num_round)
p = bst.predict(xgb.DMatrix(X[test_rows])).astype(np.float64)
yt = y[test_rows].astype(np.float64)
print(f"xgboost {xgb.__version__} {objective} {' '.join(sys.argv[4:])}")
print(f"first test predictions: {' '.join(f'{v:.6f}' for v in p[:5])}")
if objective == 'binary:logistic':
    acc = float(np.mean((p > 0.5) == (yt > 0.5)))
    order = np.argsort(p, kind='mergesort')
    ranks = np.empty(len(p))
    sp = p[order]
    i = 0
    while i < len(p):
        j = i
        while j < len(p) and sp[j] == sp[i]:
            j += 1
        ranks[order[i:j]] = (i + 1 + j) / 2.0
        i = j
    npos = float(np.sum(yt > 0.5)); nneg = len(yt) - npos
    auc = (np.sum(ranks[yt > 0.5]) - npos * (npos + 1) / 2) / (npos * nneg)
    print(f"accuracy={acc:.6f} auc={auc:.6f}")
else:
    print(f"rmse={float(np.sqrt(np.mean((p - yt) ** 2))):.6f}")
