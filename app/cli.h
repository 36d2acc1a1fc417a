#ifndef PURCHASES_APP_CLI_H
#define PURCHASES_APP_CLI_H

#include <stdio.h>

/* The options every program of the project takes, for the default case of
 * its getopt loop: -h/--help prints the usage on stdout and returns 0,
 * -V/--version prints "<program> <version> (<commit>)" and returns 0, and
 * anything else (getopt has named it) prints the usage on stderr and
 * returns 2. */
int cli_common_option(int opt, const char *program, void (*usage)(FILE *out));

#endif
