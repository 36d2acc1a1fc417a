#ifndef PURCHASES_APP_CLI_H
#define PURCHASES_APP_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "models/db.h"

/* The options both command-line tools (purchases-seed, purchases-import)
 * take, for the default case of their getopt loops (the server reads its one
 * option by hand, app/main.c): -h/--help prints the usage on stdout and returns 0,
 * -V/--version prints "<program> <version> (<commit>)" and returns 0, and
 * anything else names the option (escaped: argv is the caller's own) and
 * prints the usage on stderr, returning 2. The loops set opterr to 0, so
 * that getopt itself writes nothing. */
int cli_common_option(int opt, const char *program, char *const argv[], void (*usage)(FILE *out));

/* Parses `text` as a whole number from 1 to max into *out: digits only,
 * nothing after them. False (and *out untouched) otherwise. */
bool cli_parse_count(const char *text, uint32_t max, uint32_t *out);

/* What a tool's work runs between: logging (warnings and errors, on the
 * console) and the driver's global state; cli_end() undoes cli_begin(). */
void cli_begin(void);
void cli_end(void);

/* The database of a command-line tool: `uri`, named `program` in the
 * server's logs, `timeout_ms` to reach it, and queries that may run ten
 * minutes (bulk writes), with no load shedding. NULL with err filled when
 * it cannot be opened. */
struct db *cli_db_open(const char *uri, const char *program, uint32_t timeout_ms, char *err,
                       size_t err_len);

#endif
