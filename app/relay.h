#ifndef PURCHASES_APP_RELAY_H
#define PURCHASES_APP_RELAY_H

/* The relay: publishes the purchase events that writes recorded in their
 * history entries as pending (models/events.h) to a NATS JetStream stream,
 * and unmarks each once JetStream has acknowledged it. One per
 * instance; several relay side by side, and JetStream's de-duplication by
 * Nats-Msg-Id (the event id) keeps one copy of each event. Writes never
 * wait for it: with NATS away, events stay pending and are published, in
 * order, once it is back. docs/events.md. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "models/db.h"

struct relay_options {
  const char *url;    /* PURCHASES_NATS_URL */
  const char *stream; /* PURCHASES_EVENTS_STREAM */
  const char *source; /* the CloudEvents source of every event */
  uint32_t max_age_s; /* PURCHASES_EVENTS_MAX_AGE_S */
  uint32_t replicas;  /* PURCHASES_EVENTS_REPLICAS */
  uint32_t duplicate_window_s;
  struct db *db;
};

struct relay;

/* Connects to NATS (going on in the background when it is away) and, when
 * it answers, creates or updates the stream. NULL with a one-line reason in
 * err when the options cannot be used or the existing stream's settings
 * contradict them (storage, replicas, subjects). Starts the relay's thread.
 * The caller frees it with relay_free(). */
struct relay *relay_new(const struct relay_options *options, char *err, size_t err_len);

/* Stops the thread (after the round in progress) and closes NATS. NULL is
 * a no-op. */
void relay_free(struct relay *relay);

/* purchases_events_* for /metrics; nothing for NULL. */
void relay_write_metrics(struct relay *relay, FILE *out);

#endif
