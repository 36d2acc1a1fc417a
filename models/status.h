#ifndef PURCHASES_MODELS_STATUS_H
#define PURCHASES_MODELS_STATUS_H

/* What a model function tells its caller. Models never know HTTP: the
 * controller maps each status to a response. */
enum model_status {
  MODEL_OK = 0,
  MODEL_NOT_FOUND,   /* the thing asked for does not exist */
  MODEL_INVALID,     /* the caller passed something the model cannot use */
  MODEL_CONFLICT,    /* a unique index refused the write: it exists already */
  MODEL_UNAVAILABLE, /* the database cannot be reached now; worth retrying */
  MODEL_BUSY,        /* shed: every database slot stayed taken for the wait budget */
  MODEL_ERROR        /* anything else: a bug or an unexpected reply */
};

/* A constant, lower-case name for logs ("ok", "unavailable", ...). */
const char *model_status_name(enum model_status status);

#endif
