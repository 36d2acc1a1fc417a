#ifndef PURCHASES_APP_LOGGING_H
#define PURCHASES_APP_LOGGING_H

/* Starts yder on the console at `level` (a Y_LOG_LEVEL_* value) under the
 * name "purchases". Returns 0, or -1 when yder refused. */
int logging_init(unsigned long level);

/* Stops yder. */
void logging_close(void);

#endif
