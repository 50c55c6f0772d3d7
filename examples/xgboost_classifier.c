/* The seed's XGBoost classifier example: gradient-boosted trees (binary:logistic) on a CSV such
 * as Pima Indians diabetes, a seeded 80/20 split, the test predictions with rawPrediction and
 * probability as Spark's show() prints them, and the test accuracy and AUC.
 *   tbml run-example xgboost_classifier -f ../shared/datasets/PimaIndiansDiabetes.csv */
#include "xgboost_common.h"

int main(int argc, char **argv)
{
    xgb_example e = {.name = "xgboost_classifier", .split_seed = 42, .show_rows = 20};
    tbml_gbdt_params_default(&e.params);
    e.params.objective = TBML_GBDT_BINARY_LOGISTIC;
    int rc = xgb_parse_args(&e, argc, argv);
    if (rc < 0) rc = xgb_run(&e);
    if (rc < 0) {
        printf("Accuracy on test data = %.6f\n",
               tbml_gbdt_accuracy(e.pred, e.test->y, e.test->nrows));
        printf("Area under ROC on test data = %.6f\n",
               tbml_gbdt_auc(e.pred, e.test->y, e.test->nrows));
        rc = 0;
    }
    xgb_done(&e);
    return tbml_stdout_finish(e.name, rc);
}
