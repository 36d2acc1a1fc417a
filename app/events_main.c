/* purchases-events: reads the purchase events of the JetStream stream
 * (docs/events.md). `purchases-events tail` prints one CloudEvent a line,
 * from the start, a stream sequence or a time, and follows new ones; an
 * ordered consumer of its own, nothing kept on the server afterwards. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <nats/nats.h>

#include "app/cli.h"
#include "models/dates.h"

#define SUBJECT_PREFIX "purchases.events."

struct tail_options {
  const char *url;
  const char *stream;
  uint64_t from_seq;   /* 0: not given */
  int64_t since_ms;    /* -1: not given */
  const char *type;    /* NULL: every type */
  const char *user_id; /* NULL: every customer */
  uint32_t limit;      /* 0: follow for ever */
};

static volatile sig_atomic_t interrupted;

static void on_signal(int signal_number) {
  (void)signal_number;
  interrupted = 1;
}

static void usage(FILE *out) {
  fprintf(out, "Usage: purchases-events tail [options]\n"
               "Prints the purchase events of the stream, one CloudEvent (JSON) a line, and\n"
               "follows new ones until interrupted.\n\n"
               "  --from-seq N    from stream sequence N (default: the first event)\n"
               "  --since TIME    from this time, ISO-8601 (2026-12-08T10:00:00Z)\n"
               "  --type T        only events of type T (purchase.created, ...)\n"
               "  --user U        only events of customer U\n"
               "  --limit N       stop after N events\n"
               "  --url URL       NATS (default PURCHASES_NATS_URL, else nats://127.0.0.1:4222)\n"
               "  --stream S      the stream (default PURCHASES_EVENTS_STREAM, else PURCHASES)\n"
               "  -h, --help      this text\n"
               "  -V, --version   the version\n");
}

/* Prints the event if it passes the filters; whether it was printed. */
static bool print_event(natsMsg *msg, const struct tail_options *options) {
  json_error_t error;
  json_t *j_event = json_loadb(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), 0, &error);
  const char *user = json_string_value(json_object_get(j_event, "userid"));
  bool printed = false;

  if (j_event != NULL &&
      (options->user_id == NULL || (user != NULL && strcmp(user, options->user_id) == 0))) {
    char *line = json_dumps(j_event, JSON_COMPACT);
    if (line != NULL) {
      printf("%s\n", line);
      fflush(stdout);
      printed = true;
    }
    free(line);
  }
  json_decref(j_event);
  return printed;
}

static int tail(const struct tail_options *options) {
  natsConnection *nc = NULL;
  jsCtx *js = NULL;
  natsSubscription *sub = NULL;
  jsSubOptions sub_options;
  jsErrCode code = 0;
  char subject[96];
  uint32_t printed = 0;
  natsStatus s;
  int rc = 1;

  s = natsConnection_ConnectTo(&nc, options->url);
  if (s != NATS_OK) {
    fprintf(stderr, "purchases-events: cannot reach NATS at %s: %s\n", options->url,
            natsStatus_GetText(s));
    goto done;
  }
  if (natsConnection_JetStream(&js, nc, NULL) != NATS_OK) {
    fprintf(stderr, "purchases-events: no JetStream\n");
    goto done;
  }
  jsSubOptions_Init(&sub_options);
  sub_options.Stream = options->stream;
  sub_options.Ordered = true;
  if (options->from_seq > 0) {
    sub_options.Config.DeliverPolicy = js_DeliverByStartSequence;
    sub_options.Config.OptStartSeq = options->from_seq;
  } else if (options->since_ms >= 0) {
    sub_options.Config.DeliverPolicy = js_DeliverByStartTime;
    sub_options.Config.OptStartTime = options->since_ms * 1000000LL;
  } else {
    sub_options.Config.DeliverPolicy = js_DeliverAll;
  }
  snprintf(subject, sizeof(subject), SUBJECT_PREFIX "%s",
           options->type != NULL ? options->type : ">");
  s = js_SubscribeSync(&sub, js, subject, NULL, &sub_options, &code);
  if (s != NATS_OK) {
    fprintf(stderr, "purchases-events: cannot read stream %s: %s\n", options->stream,
            natsStatus_GetText(s));
    goto done;
  }
  while (!interrupted && (options->limit == 0 || printed < options->limit)) {
    natsMsg *msg = NULL;
    s = natsSubscription_NextMsg(&msg, sub, 500);
    if (s == NATS_TIMEOUT) {
      continue;
    }
    if (s != NATS_OK) {
      fprintf(stderr, "purchases-events: %s\n", natsStatus_GetText(s));
      goto done;
    }
    printed += print_event(msg, options) ? 1 : 0;
    natsMsg_Destroy(msg);
  }
  rc = 0;

done:
  natsSubscription_Destroy(sub);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  return rc;
}

int main(int argc, char **argv) {
  static const struct option LONG_OPTIONS[] = {
      {"from-seq", required_argument, NULL, 'f'}, {"since", required_argument, NULL, 's'},
      {"type", required_argument, NULL, 't'},     {"user", required_argument, NULL, 'u'},
      {"limit", required_argument, NULL, 'l'},    {"url", required_argument, NULL, 'U'},
      {"stream", required_argument, NULL, 'S'},   {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'V'},        {NULL, 0, NULL, 0},
  };
  struct tail_options options = {.url = getenv("PURCHASES_NATS_URL"),
                                 .stream = getenv("PURCHASES_EVENTS_STREAM"),
                                 .since_ms = -1};
  uint32_t seq = 0;
  int opt;
  int rc;

  if (options.url == NULL || options.url[0] == '\0') {
    options.url = "nats://127.0.0.1:4222";
  }
  if (options.stream == NULL || options.stream[0] == '\0') {
    options.stream = "PURCHASES";
  }
  opterr = 0; /* cli_common_option() names a refused option, escaped */
  while ((opt = getopt_long(argc, argv, ":hV", LONG_OPTIONS, NULL)) != -1) {
    switch (opt) {
      case 'f':
        if (!cli_parse_count(optarg, UINT32_MAX, &seq)) {
          fprintf(stderr, "purchases-events: --from-seq takes a sequence from 1\n");
          return 2;
        }
        options.from_seq = seq;
        break;
      case 's':
        if (!parse_timestamp(optarg, &options.since_ms)) {
          fprintf(stderr, "purchases-events: --since takes an ISO-8601 time\n");
          return 2;
        }
        break;
      case 't':
        options.type = optarg;
        break;
      case 'u':
        options.user_id = optarg;
        break;
      case 'l':
        if (!cli_parse_count(optarg, UINT32_MAX, &options.limit)) {
          fprintf(stderr, "purchases-events: --limit takes a number from 1\n");
          return 2;
        }
        break;
      case 'U':
        options.url = optarg;
        break;
      case 'S':
        options.stream = optarg;
        break;
      default:
        return cli_common_option(opt, "purchases-events", argv, usage);
    }
  }
  if (optind + 1 != argc || strcmp(argv[optind], "tail") != 0) {
    usage(stderr);
    return 2;
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  rc = tail(&options);
  nats_Close();
  return rc;
}
