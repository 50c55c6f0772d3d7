/* The seed's XGBoost regressor example: gradient-boosted trees (reg:squarederror) on a CSV such
 * as Boston housing, a seeded 80/20 split, the test predictions as Spark's show() prints them,
 * and the test RMSE.
 *   tbml run-example xgboost_regressor --file-path ../shared/datasets/BostonHousing.csv */
#include "xgboost_common.h"

int main(int argc, char **argv)
{
    xgb_example e = {.name = "xgboost_regressor", .split_seed = 42, .show_rows = 20};
    tbml_gbdt_params_default(&e.params);
    e.params.objective = TBML_GBDT_REG_SQUAREDERROR;
    int rc = xgb_parse_args(&e, argc, argv);
    if (rc < 0) rc = xgb_run(&e);
    if (rc < 0) {
        printf("Root Mean Squared Error (RMSE) on test data = %.6f\n",
               tbml_gbdt_rmse(e.pred, e.test->y, e.test->nrows));
        rc = 0;
    }
    xgb_done(&e);
    return tbml_stdout_finish(e.name, rc);
}
