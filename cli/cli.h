/* cli.h: the svtwin program's subcommands. Each lives in cli/cmd_<name>.c and returns the
 * process exit status (0 ok, 1 failure, 2 usage error). */
#ifndef SVT_CLI_H
#define SVT_CLI_H

#include "base/svt.h"

int cmd_build(int argc, char **argv);
int cmd_probe(int argc, char **argv);
int cmd_geo(int argc, char **argv);
int cmd_view(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_twin(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_captions(int argc, char **argv);
int cmd_densify(int argc, char **argv);

/* Prints "svtwin <cmd>: <msg>" for a failed call and returns 1. */
int cli_fail(const char *cmd, const svt_err *err);

#endif
