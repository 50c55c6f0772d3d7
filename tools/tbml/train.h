/* The trainers behind `tbml train`: one entry point per model family, dispatched from
 * cmd_train.c by `--model NAME`. Each receives the arguments after the model choice, with
 * argv[0] = "train", and returns the process exit code (cli_fail / cli_usage_error). */
#ifndef TBML_TOOL_TRAIN_H
#define TBML_TOOL_TRAIN_H

/* `tbml train --model lenet ...`: LeNet-5 on IDX images (cmd_train.c). */
int cmd_train_lenet(int argc, char **argv);

/* `tbml train --model gbdt ...`: gradient-boosted trees on CSV or IDX (cmd_train_gbdt.c, from
 * the gbdt module). cmd_train.c carries a weak stand-in that reports it is not built. */
int cmd_train_gbdt(int argc, char **argv);

#endif
