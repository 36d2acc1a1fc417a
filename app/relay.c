#include "app/relay.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nats/nats.h>
#include <yder.h>

#include "lib/clock.h"
#include "models/events.h"

/* How often pending events are looked for. */
#define RELAY_INTERVAL_MS 200
/* Pending events taken in one round. */
#define RELAY_BATCH 64
/* How long the event of a purchase that is not there waits for it. */
#define RELAY_ORPHAN_GRACE_MS 60000
/* The longest wait for JetStream's acknowledgement of one event. */
#define RELAY_ACK_WAIT_MS 2000
#define RELAY_SUBJECTS    "purchases.events.>"
#define RELAY_SUBJECT     "purchases.events."

struct relay {
  struct relay_options options;
  char *stream;
  char *source;
  natsConnection *nc;
  jsCtx *js;
  pthread_t thread;
  bool running;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  bool stopping;
  bool closed;       /* libnats's last callback came: the relay may be freed */
  bool stream_ready; /* created or checked since the last connect */
  bool stream_wrong; /* contradicts the configuration: nothing is published */
  atomic_bool connected;
  atomic_ullong published_created;
  atomic_ullong published_changed;
  atomic_ullong failed;
  atomic_ullong pending;       /* events seen pending in the last round */
  atomic_llong oldest_ms;      /* wall time of the oldest of those; 0: none */
  atomic_ullong publish_count; /* round trips to JetStream, for their mean */
  atomic_ullong publish_us;
  bool said_failing; /* a failed publish was logged; said again after a success */
};

static void on_disconnected(natsConnection *nc, void *closure) {
  struct relay *relay = closure;
  (void)nc;
  atomic_store(&relay->connected, false);
  y_log_message(Y_LOG_LEVEL_WARNING,
                "events: NATS connection lost; events wait, pending, until it is back");
}

/* libnats's last callback for the connection, on its own thread. */
static void on_closed(natsConnection *nc, void *closure) {
  struct relay *relay = closure;
  (void)nc;
  pthread_mutex_lock(&relay->lock);
  relay->closed = true;
  pthread_cond_broadcast(&relay->wake);
  pthread_mutex_unlock(&relay->lock);
}

static void on_connected(natsConnection *nc, void *closure) {
  struct relay *relay = closure;
  (void)nc;
  atomic_store(&relay->connected, true);
  pthread_mutex_lock(&relay->lock);
  relay->stream_ready = false; /* checked again: the server may be another */
  pthread_cond_signal(&relay->wake);
  pthread_mutex_unlock(&relay->lock);
  y_log_message(Y_LOG_LEVEL_INFO, "events: connected to NATS");
}

/* Creates the stream, or checks an existing one and updates what may
 * change (max age, duplicate window). False, with err, when it contradicts
 * the configuration or NATS does not answer. */
static bool ensure_stream(struct relay *relay, bool *contradiction, char *err, size_t err_len) {
  const char *subjects[] = {RELAY_SUBJECTS};
  jsStreamConfig config;
  jsStreamInfo *info = NULL;
  jsErrCode code = 0;
  natsStatus s;
  bool ok = false;

  *contradiction = false;
  jsStreamConfig_Init(&config);
  config.Name = relay->stream;
  config.Subjects = subjects;
  config.SubjectsLen = 1;
  config.Storage = js_FileStorage;
  config.MaxAge = (int64_t)relay->options.max_age_s * 1000000000LL;
  config.Replicas = relay->options.replicas;
  config.Duplicates = (int64_t)relay->options.duplicate_window_s * 1000000000LL;

  s = js_GetStreamInfo(&info, relay->js, relay->stream, NULL, &code);
  if (s == NATS_NOT_FOUND) {
    s = js_AddStream(NULL, relay->js, &config, NULL, &code);
    if (s != NATS_OK) {
      snprintf(err, err_len, "events: cannot create stream %s: %s", relay->stream,
               natsStatus_GetText(s));
      goto done;
    }
    y_log_message(Y_LOG_LEVEL_INFO, "events: created stream %s", relay->stream);
    ok = true;
    goto done;
  }
  if (s != NATS_OK || info == NULL || info->Config == NULL) {
    snprintf(err, err_len, "events: cannot read stream %s: %s", relay->stream,
             natsStatus_GetText(s));
    goto done;
  }
  if (info->Config->Storage != js_FileStorage || info->Config->Replicas != config.Replicas ||
      info->Config->SubjectsLen != 1 || strcmp(info->Config->Subjects[0], RELAY_SUBJECTS) != 0) {
    snprintf(err, err_len,
             "events: stream %s exists with other settings (file storage, %lld replicas and "
             "subjects " RELAY_SUBJECTS " wanted): change PURCHASES_EVENTS_* or the stream",
             relay->stream, (long long)config.Replicas);
    *contradiction = true;
    goto done;
  }
  if (info->Config->MaxAge != config.MaxAge || info->Config->Duplicates != config.Duplicates) {
    s = js_UpdateStream(NULL, relay->js, &config, NULL, &code);
    if (s != NATS_OK) {
      snprintf(err, err_len, "events: cannot update stream %s: %s", relay->stream,
               natsStatus_GetText(s));
      goto done;
    }
    y_log_message(Y_LOG_LEVEL_INFO, "events: updated stream %s (max age, duplicate window)",
                  relay->stream);
  }
  ok = true;

done:
  jsStreamInfo_Destroy(info);
  return ok;
}

/* Publishes one event and waits for JetStream's acknowledgement. */
static bool publish(struct relay *relay, const struct pending_event *event, const char *body) {
  char subject[64];
  jsPubOptions options;
  jsPubAck *ack = NULL;
  jsErrCode code = 0;
  uint64_t started = clock_monotonic_ms();
  natsStatus s;

  snprintf(subject, sizeof(subject), RELAY_SUBJECT "%s", event->type);
  jsPubOptions_Init(&options);
  options.MsgId = event->id;
  options.MaxWait = RELAY_ACK_WAIT_MS;
  s = js_Publish(&ack, relay->js, subject, body, (int)strlen(body), &options, &code);
  jsPubAck_Destroy(ack);
  if (s != NATS_OK) {
    atomic_fetch_add(&relay->failed, 1);
    if (!relay->said_failing) {
      y_log_message(Y_LOG_LEVEL_WARNING, "events: publish failed (%s); retrying",
                    natsStatus_GetText(s));
      relay->said_failing = true;
    }
    return false;
  }
  if (relay->said_failing) {
    y_log_message(Y_LOG_LEVEL_INFO, "events: publishing again");
    relay->said_failing = false;
  }
  atomic_fetch_add(&relay->publish_count, 1);
  atomic_fetch_add(&relay->publish_us, (clock_monotonic_ms() - started) * 1000);
  atomic_fetch_add(strcmp(event->type, EVENT_TYPE_CREATED) == 0 ? &relay->published_created
                                                                : &relay->published_changed,
                   1);
  return true;
}

/* Whether two events are of the same purchase. */
static bool same_purchase(const struct pending_event *a, const struct pending_event *b) {
  return strcmp(a->user_id, b->user_id) == 0 && strcmp(a->purchase_id, b->purchase_id) == 0;
}

/* Publishes one event and clears its mark. RELAY_NEXT: done; RELAY_HOLD:
 * not now (its purchase's later events wait behind it); RELAY_STOP: NATS
 * or the database failed, the round ends. */
enum relay_step { RELAY_NEXT, RELAY_HOLD, RELAY_STOP };

static enum relay_step relay_event(struct relay *relay, const struct pending_event *event) {
  enum model_status status;
  json_t *j_event = event_cloudevent(relay->options.db, event, relay->source, &status);
  char *body = j_event != NULL ? json_dumps(j_event, JSON_COMPACT) : NULL;
  enum relay_step step = RELAY_NEXT;
  struct timespec now;

  json_decref(j_event);
  if (status == MODEL_BUSY) {
    step = RELAY_HOLD; /* an earlier event of the purchase first */
    goto done;
  }
  if (status == MODEL_NOT_FOUND) {
    /* A create whose writer died between its two inserts answered no one;
     * its entry is left for a minute (a retry adds the purchase), then
     * dropped: there is no purchase to tell of. */
    clock_gettime(CLOCK_REALTIME, &now);
    if ((int64_t)now.tv_sec * 1000 - event->time_ms < RELAY_ORPHAN_GRACE_MS) {
      step = RELAY_HOLD;
      goto done;
    }
    y_log_message(Y_LOG_LEVEL_WARNING, "events: an event of a purchase that is not there dropped");
  } else if (body == NULL) {
    step = RELAY_STOP;
    goto done;
  } else if (!publish(relay, event, body)) {
    step = RELAY_STOP;
    goto done;
  }
  if (events_mark_published(relay->options.db, event) != MODEL_OK) {
    /* Published: JetStream drops the copy the next round sends. */
    step = RELAY_STOP;
  }

done:
  free(body);
  return step;
}

static void relay_round(struct relay *relay) {
  struct pending_event events[RELAY_BATCH];
  size_t count = 0;
  int64_t oldest = 0;
  const struct pending_event *held = NULL;

  if (events_find_pending(relay->options.db, events, RELAY_BATCH, &count) != MODEL_OK) {
    return;
  }
  for (size_t i = 0; i < count; i++) {
    if (oldest == 0 || events[i].time_ms < oldest) {
      oldest = events[i].time_ms;
    }
  }
  atomic_store(&relay->pending, count);
  atomic_store(&relay->oldest_ms, oldest);
  /* In customer, purchase and version order: an event held back holds
   * back its purchase's later ones. */
  for (size_t i = 0; i < count; i++) {
    enum relay_step step;
    if (held != NULL && same_purchase(held, &events[i])) {
      continue;
    }
    held = NULL;
    step = relay_event(relay, &events[i]);
    if (step == RELAY_STOP) {
      return;
    }
    if (step == RELAY_HOLD) {
      held = &events[i];
    }
  }
}

static void *relay_main(void *arg) {
  struct relay *relay = arg;
  bool said_wrong = false;

  pthread_mutex_lock(&relay->lock);
  while (!relay->stopping) {
    struct timespec until;
    bool ready;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += RELAY_INTERVAL_MS * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&relay->wake, &relay->lock, &until);
    if (relay->stopping) {
      break;
    }
    ready = relay->stream_ready;
    pthread_mutex_unlock(&relay->lock);
    if (!ready && atomic_load(&relay->connected)) {
      char err[256];
      bool contradiction;
      ready = ensure_stream(relay, &contradiction, err, sizeof(err));
      if (!ready && (!contradiction || !said_wrong)) {
        y_log_message(Y_LOG_LEVEL_ERROR, "%s", err);
        said_wrong = said_wrong || contradiction;
      }
    }
    if (ready && atomic_load(&relay->connected)) {
      relay_round(relay);
    }
    pthread_mutex_lock(&relay->lock);
    relay->stream_ready = relay->stream_ready || ready;
  }
  pthread_mutex_unlock(&relay->lock);
  return NULL;
}

struct relay *relay_new(const struct relay_options *options, char *err, size_t err_len) {
  struct relay *relay = calloc(1, sizeof(*relay));
  struct relay *result = NULL;
  natsOptions *nats = NULL;
  natsStatus s;

  if (relay == NULL) {
    snprintf(err, err_len, "out of memory for the event relay");
    goto done;
  }
  relay->options = *options;
  relay->stream = strdup(options->stream);
  relay->source = strdup(options->source);
  pthread_mutex_init(&relay->lock, NULL);
  pthread_cond_init(&relay->wake, NULL);
  if (relay->stream == NULL || relay->source == NULL || natsOptions_Create(&nats) != NATS_OK ||
      natsOptions_SetURL(nats, options->url) != NATS_OK ||
      natsOptions_SetMaxReconnect(nats, -1) != NATS_OK ||
      natsOptions_SetReconnectWait(nats, 500) != NATS_OK ||
      natsOptions_SetTimeout(nats, 2000) != NATS_OK ||
      natsOptions_SetRetryOnFailedConnect(nats, true, on_connected, relay) != NATS_OK ||
      natsOptions_SetDisconnectedCB(nats, on_disconnected, relay) != NATS_OK ||
      natsOptions_SetReconnectedCB(nats, on_connected, relay) != NATS_OK ||
      natsOptions_SetClosedCB(nats, on_closed, relay) != NATS_OK) {
    snprintf(err, err_len, "PURCHASES_NATS_URL: cannot be used: %s", options->url);
    goto done;
  }
  s = natsConnection_Connect(&relay->nc, nats);
  if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
    snprintf(err, err_len, "PURCHASES_NATS_URL: %s: %s", options->url, natsStatus_GetText(s));
    goto done;
  }
  if (natsConnection_JetStream(&relay->js, relay->nc, NULL) != NATS_OK) {
    snprintf(err, err_len, "events: no JetStream context");
    goto done;
  }
  if (s == NATS_OK) {
    bool contradiction = false;
    atomic_store(&relay->connected, true);
    relay->stream_ready = ensure_stream(relay, &contradiction, err, err_len);
    if (!relay->stream_ready && contradiction) {
      goto done;
    }
    if (!relay->stream_ready) {
      y_log_message(Y_LOG_LEVEL_WARNING, "%s; trying again", err);
    }
  } else {
    y_log_message(Y_LOG_LEVEL_WARNING,
                  "events: NATS at %s does not answer yet; events wait, pending", options->url);
  }
  if (pthread_create(&relay->thread, NULL, relay_main, relay) != 0) {
    snprintf(err, err_len, "cannot start the event relay");
    goto done;
  }
  relay->running = true;
  result = relay;
  relay = NULL;

done:
  natsOptions_Destroy(nats);
  relay_free(relay);
  return result;
}

void relay_free(struct relay *relay) {
  if (relay == NULL) {
    return;
  }
  if (relay->running) {
    pthread_mutex_lock(&relay->lock);
    relay->stopping = true;
    pthread_cond_signal(&relay->wake);
    pthread_mutex_unlock(&relay->lock);
    pthread_join(relay->thread, NULL);
  }
  jsCtx_Destroy(relay->js);
  if (relay->nc != NULL) {
    /* libnats calls back on a thread of its own, last of all on_closed:
     * the relay lives until then (5 s at most). */
    struct timespec until;
    natsConnection_Close(relay->nc);
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    pthread_mutex_lock(&relay->lock);
    while (!relay->closed && pthread_cond_timedwait(&relay->wake, &relay->lock, &until) == 0) {
    }
    pthread_mutex_unlock(&relay->lock);
  }
  natsConnection_Destroy(relay->nc);
  pthread_cond_destroy(&relay->wake);
  pthread_mutex_destroy(&relay->lock);
  free(relay->stream);
  free(relay->source);
  free(relay);
}

void relay_write_metrics(struct relay *relay, FILE *out) {
  uint64_t count;
  int64_t oldest;
  struct timespec now;

  if (relay == NULL) {
    return;
  }
  count = atomic_load(&relay->publish_count);
  oldest = atomic_load(&relay->oldest_ms);
  clock_gettime(CLOCK_REALTIME, &now);
  fprintf(out,
          "# HELP purchases_events_published_total Events JetStream acknowledged, by type.\n"
          "# TYPE purchases_events_published_total counter\n"
          "purchases_events_published_total{type=\"" EVENT_TYPE_CREATED "\"} %llu\n"
          "purchases_events_published_total{type=\"" EVENT_TYPE_STATUS_CHANGED "\"} %llu\n"
          "# HELP purchases_events_failed_total Publishes that failed (retried).\n"
          "# TYPE purchases_events_failed_total counter\n"
          "purchases_events_failed_total %llu\n"
          "# HELP purchases_events_pending Events waiting to be published, as the last round saw "
          "(at most 64).\n"
          "# TYPE purchases_events_pending gauge\n"
          "purchases_events_pending %llu\n"
          "# HELP purchases_events_oldest_pending_seconds Age of the oldest pending event; 0: "
          "none.\n"
          "# TYPE purchases_events_oldest_pending_seconds gauge\n"
          "purchases_events_oldest_pending_seconds %.3f\n"
          "# HELP purchases_events_publish_seconds Round trips to JetStream.\n"
          "# TYPE purchases_events_publish_seconds summary\n"
          "purchases_events_publish_seconds_sum %.6f\n"
          "purchases_events_publish_seconds_count %llu\n"
          "# HELP purchases_events_nats_connected Whether the relay is connected to NATS.\n"
          "# TYPE purchases_events_nats_connected gauge\n"
          "purchases_events_nats_connected %d\n",
          (unsigned long long)atomic_load(&relay->published_created),
          (unsigned long long)atomic_load(&relay->published_changed),
          (unsigned long long)atomic_load(&relay->failed),
          (unsigned long long)atomic_load(&relay->pending),
          oldest > 0
              ? ((double)now.tv_sec * 1000 + (double)now.tv_nsec / 1e6 - (double)oldest) / 1000
              : 0.0,
          (double)atomic_load(&relay->publish_us) / 1e6, (unsigned long long)count,
          atomic_load(&relay->connected) ? 1 : 0);
}
