# The XGBoost side of bench/gbdt.sh: the same file, split, and parameters as bench_gbdt
# (tree_method hist, max_bin 256, eta 0.3, base_score 0.5), timed around xgb.train only.
# usage: /usr/bin/python3 gbdt_xgboost.py FILE NTRAIN ROUNDS DEPTH NTHREAD
import sys, time
import numpy as np
import xgboost as xgb

path, ntrain, rounds, depth, nthread = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
a = np.fromfile(path, dtype='<f4').reshape(-1, 29)
X, y = a[:, :28], a[:, 28]
dtrain = xgb.DMatrix(X[:ntrain], label=y[:ntrain], nthread=nthread)
dtest = xgb.DMatrix(X[ntrain:], nthread=nthread)
params = {'tree_method': 'hist', 'max_depth': depth, 'eta': 0.3, 'max_bin': 256, 'nthread': nthread,
          'objective': 'reg:squarederror', 'base_score': 0.5, 'verbosity': 0}
t0 = time.perf_counter()
bst = xgb.train(params, dtrain, num_boost_round=rounds)
train_s = time.perf_counter() - t0
t0 = time.perf_counter()
pred = bst.predict(dtest)
pred_s = time.perf_counter() - t0
rmse = float(np.sqrt(np.mean((pred.astype(np.float64) - y[ntrain:]) ** 2)))
print(f"xgboost train_s={train_s:.3f} predict_s={pred_s:.3f} rmse={rmse:.6f}")
