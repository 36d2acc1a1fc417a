#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <mongoc/mongoc.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/wait.h>

const char *harness_tmp(void) {
  const char *dir = getenv("PURCHASES_TEST_TMP");
  return dir != NULL && dir[0] != '\0' ? dir : "/tmp";
}

static void sleep_ms(long ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

int harness_free_port(void) {
  struct sockaddr_in addr;
  socklen_t len = sizeof(addr);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int port = -1;

  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 &&
      getsockname(fd, (struct sockaddr *)&addr, &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  if (fd >= 0) {
    close(fd);
  }
  return port;
}

static bool port_accepts(int port) {
  struct sockaddr_in addr;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  bool ok;

  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ok = fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
  if (fd >= 0) {
    close(fd);
  }
  return ok;
}

/* fork + exec with stdout and stderr appended to log_path. */
static pid_t spawn(const char *const *argv, const char *const *env, const char *log_path) {
  pid_t pid = fork();
  if (pid != 0) {
    return pid;
  }
  /* A failed assertion skips a test's own cleanup; the child still dies with
   * the test process instead of outliving the run on its port. */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) {
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
  }
  for (size_t i = 0; env != NULL && env[i] != NULL; i++) {
    putenv((char *)env[i]);
  }
  /* A test must never hang on a child waiting for input. */
  int null_fd = open("/dev/null", O_RDONLY);
  if (null_fd >= 0) {
    dup2(null_fd, STDIN_FILENO);
    close(null_fd);
  }
  execv(argv[0], (char *const *)argv);
  fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
  _exit(127);
}

static int exit_code_of(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Waits for pid to exit, up to timeout_ms; returns its wait status or -1. */
static int wait_exit(pid_t pid, long timeout_ms) {
  int status = 0;
  for (long waited = 0; waited <= timeout_ms; waited += 20) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      return status;
    }
    if (r < 0) {
      return -1;
    }
    sleep_ms(20);
  }
  return -1;
}

bool harness_on_postgresql(void) {
  const char *handler = getenv("FERRETDB_HANDLER");
  const char *base = getenv("PURCHASES_TEST_PG_URL");
  return base != NULL && base[0] != '\0' && (handler == NULL || strcmp(handler, "sqlite") != 0);
}

/* Runs psql on url with one command; its output into *out when out is not
 * NULL (the caller frees). Returns psql's success. */
static bool psql(const char *url, const char *sql, char **out) {
  char *command = NULL;
  char buffer[4096];
  size_t len = 0;
  char *text = NULL;
  FILE *pipe = NULL;
  bool ok = false;

  /* Our own SQL and URLs only: no caller input reaches this shell line. */
  if (asprintf(&command, "psql -X -q -tA -v ON_ERROR_STOP=1 '%s' -c \"%s\" 2>&1", url, sql) < 0) {
    command = NULL;
    goto done;
  }
  pipe = popen(command, "r");
  if (pipe == NULL) {
    goto done;
  }
  text = calloc(1, 1);
  while (text != NULL && fgets(buffer, sizeof(buffer), pipe) != NULL) {
    size_t add = strlen(buffer);
    char *grown = realloc(text, len + add + 1);
    if (grown == NULL) {
      break;
    }
    memcpy(grown + len, buffer, add + 1);
    text = grown;
    len += add;
  }
  ok = pclose(pipe) == 0;
  pipe = NULL;
  if (!ok) {
    fprintf(stderr, "harness: psql failed: %s\n%s", sql, text != NULL ? text : "");
  }
  if (out != NULL && ok) {
    *out = text;
    text = NULL;
  }

done:
  free(text);
  free(command);
  return ok;
}

char *ferretdb_sql(const struct ferretdb *db, const char *sql) {
  char *out = NULL;
  if (db->pg_url[0] == '\0' || !psql(db->pg_url, sql, &out)) {
    return NULL;
  }
  return out;
}

/* A new PostgreSQL database for this FerretDB: its name is the test
 * process's id and the FerretDB port, unique among the runs on this machine. */
static bool pg_database_create(struct ferretdb *db) {
  const char *base = getenv("PURCHASES_TEST_PG_URL");
  char admin[256];
  char sql[128];
  char name[64];

  snprintf(name, sizeof(name), "it_%d_%d", (int)getpid(), db->port);
  snprintf(admin, sizeof(admin), "%s/postgres", base);
  snprintf(db->pg_url, sizeof(db->pg_url), "%s/%s", base, name);
  snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
  if (!psql(admin, sql, NULL)) {
    return false;
  }
  snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
  return psql(admin, sql, NULL);
}

static void pg_database_drop(struct ferretdb *db) {
  const char *base = getenv("PURCHASES_TEST_PG_URL");
  const char *name = strrchr(db->pg_url, '/');
  char admin[256];
  char sql[128];

  if (base == NULL || name == NULL) {
    return;
  }
  snprintf(admin, sizeof(admin), "%s/postgres", base);
  snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", name + 1);
  psql(admin, sql, NULL);
  db->pg_url[0] = '\0';
}

static bool ferretdb_spawn(struct ferretdb *db) {
  char listen[32];
  char sqlite_url[160];
  char log_path[192];
  snprintf(listen, sizeof(listen), "127.0.0.1:%d", db->port);
  snprintf(sqlite_url, sizeof(sqlite_url), "file:%s/data/", db->dir);
  snprintf(log_path, sizeof(log_path), "%s/ferretdb.log", db->dir);
  const char *sqlite_argv[] = {FERRETDB_BIN, "-listen",    listen,  "-sqlite-url",
                               sqlite_url,   "-log-level", "error", NULL};
  /* The launcher keeps the GIN indexes in place, as make run has them;
   * every second, so a test's first reads after a create find them. */
  const char *pg_argv[] = {FERRETDB_BIN,
                           "-listen",
                           listen,
                           "-handler",
                           "postgresql",
                           "-postgresql-url",
                           db->pg_url,
                           "-pg-indexes",
                           FERRETDB_PG_INDEXES,
                           "-pg-indexes-every",
                           "1s",
                           "-log-level",
                           "error",
                           NULL};
  db->pid = spawn(db->pg_url[0] != '\0' ? pg_argv : sqlite_argv, NULL, log_path);
  for (int i = 0; i < 500; i++) {
    if (port_accepts(db->port)) {
      return true;
    }
    if (waitpid(db->pid, NULL, WNOHANG) == db->pid) {
      break;
    }
    sleep_ms(20);
  }
  fprintf(stderr, "harness: FerretDB did not start on port %d (see %s)\n", db->port, log_path);
  return false;
}

bool ferretdb_start(struct ferretdb *db, const char *database) {
  char data[160];
  memset(db, 0, sizeof(*db));
  snprintf(db->dir, sizeof(db->dir), "%s/purchases-it-XXXXXX", harness_tmp());
  if (mkdtemp(db->dir) == NULL) {
    perror("mkdtemp");
    return false;
  }
  snprintf(data, sizeof(data), "%s/data", db->dir);
  mkdir(data, 0755);
  db->port = harness_free_port();
  snprintf(db->uri, sizeof(db->uri), "mongodb://127.0.0.1:%d/%s", db->port, database);
  if (harness_on_postgresql() && !pg_database_create(db)) {
    return false;
  }
  return ferretdb_spawn(db);
}

bool ferretdb_restart(struct ferretdb *db) {
  return ferretdb_spawn(db);
}

void ferretdb_stop(struct ferretdb *db, bool keep_data) {
  if (db->pid > 0) {
    kill(db->pid, SIGCONT);
    kill(db->pid, SIGTERM);
    if (wait_exit(db->pid, 5000) == -1) {
      kill(db->pid, SIGKILL);
      waitpid(db->pid, NULL, 0);
    }
    db->pid = 0;
  }
  if (!keep_data && db->pg_url[0] != '\0') {
    pg_database_drop(db);
  }
  if (!keep_data && db->dir[0] != '\0') {
    char command[192];
    snprintf(command, sizeof(command), "rm -rf '%s'", db->dir);
    if (system(command) != 0) {
      fprintf(stderr, "harness: could not remove %s\n", db->dir);
    }
    db->dir[0] = '\0';
  }
}

/* Whether every thread of process `pid` is stopped (state T in its stat). */
static bool all_threads_stopped(pid_t pid) {
  char path[64];
  DIR *tasks;
  bool stopped = true;

  snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
  tasks = opendir(path);
  if (tasks == NULL) {
    return true; /* gone: nothing runs */
  }
  for (struct dirent *task = readdir(tasks); task != NULL && stopped; task = readdir(tasks)) {
    char stat_path[sizeof(path) + 256 + 8];
    char stat[512] = "";
    const char *state;
    FILE *file;
    if (task->d_name[0] == '.') {
      continue;
    }
    snprintf(stat_path, sizeof(stat_path), "%s/%s/stat", path, task->d_name);
    file = fopen(stat_path, "r");
    if (file == NULL) {
      continue; /* the thread ended meanwhile */
    }
    if (fgets(stat, sizeof(stat), file) != NULL) {
      /* "tid (comm) S ...": the state follows the last ')'. */
      state = strrchr(stat, ')');
      stopped = state != NULL && (state[2] == 'T' || state[2] == 't');
    }
    fclose(file);
  }
  closedir(tasks);
  return stopped;
}

void ferretdb_pause(struct ferretdb *db) {
  /* kill() returns before the signal has stopped every thread, and a
   * thread still running may answer one more query: wait (up to 2 s) until
   * the kernel says each one is stopped. */
  kill(db->pid, SIGSTOP);
  for (int i = 0; i < 200 && !all_threads_stopped(db->pid); i++) {
    usleep(10 * 1000);
  }
}

void ferretdb_resume(struct ferretdb *db) {
  kill(db->pid, SIGCONT);
}

/* SIGTERM, then SIGKILL after 5 s, and reaped; *pid becomes 0. */
static void stop_child(pid_t *pid) {
  if (*pid <= 0) {
    return;
  }
  kill(*pid, SIGTERM);
  if (wait_exit(*pid, 5000) == -1) {
    kill(*pid, SIGKILL);
    waitpid(*pid, NULL, 0);
  }
  *pid = 0;
}

bool nats_restart(struct nats *nats) {
  char port[16];
  snprintf(port, sizeof(port), "%d", nats->port);
  const char *argv[] = {
      "/usr/sbin/nats-server", "-js", "-a", "127.0.0.1", "-p", port, "-sd", nats->dir, NULL};
  nats->pid = spawn(argv, NULL, nats->log_path);
  for (int i = 0; i < 200; i++) {
    if (port_accepts(nats->port)) {
      return true;
    }
    sleep_ms(50);
  }
  fprintf(stderr, "harness: nats-server did not listen on %d (see %s)\n", nats->port,
          nats->log_path);
  return false;
}

bool nats_start(struct nats *nats) {
  memset(nats, 0, sizeof(*nats));
  nats->port = harness_free_port();
  snprintf(nats->url, sizeof(nats->url), "nats://127.0.0.1:%d", nats->port);
  snprintf(nats->dir, sizeof(nats->dir), "%s/nats-%d-%d", harness_tmp(), (int)getpid(), nats->port);
  snprintf(nats->log_path, sizeof(nats->log_path), "%s.log", nats->dir);
  if (mkdir(nats->dir, 0700) != 0) {
    fprintf(stderr, "harness: cannot make %s\n", nats->dir);
    return false;
  }
  return nats_restart(nats);
}

void nats_stop(struct nats *nats) {
  stop_child(&nats->pid);
}

void nats_remove(struct nats *nats) {
  char command[512];
  snprintf(command, sizeof(command), "rm -rf '%s' '%s'", nats->dir, nats->log_path);
  if (system(command) != 0) {
    fprintf(stderr, "harness: cannot remove %s\n", nats->dir);
  }
}

/* Whether a Redis on 127.0.0.1:port answers PING with PONG. */
static bool redis_answers(int port) {
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  struct timeval timeout = {.tv_sec = 1};
  char reply[16] = "";
  bool ok = false;
  int fd = socket(AF_INET, SOCK_STREAM, 0);

  if (fd < 0) {
    return false;
  }
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  if (connect(fd, (struct sockaddr *)&address, sizeof(address)) == 0 &&
      write(fd, "PING\r\n", 6) == 6 && read(fd, reply, sizeof(reply) - 1) > 0) {
    ok = strncmp(reply, "+PONG", 5) == 0;
  }
  close(fd);
  return ok;
}

bool redis_restart(struct redis *redis) {
  char port[16];
  snprintf(port, sizeof(port), "%d", redis->port);
  const char *argv[] = {
      "/usr/bin/redis-server", "--port", port,    "--bind", "127.0.0.1", "--save", "",
      "--appendonly",          "no",     "--dir", "/tmp",   NULL};
  redis->pid = spawn(argv, NULL, redis->log_path);
  for (int i = 0; i < 100; i++) {
    if (redis_answers(redis->port)) {
      return true;
    }
    sleep_ms(50);
  }
  fprintf(stderr, "harness: redis-server did not answer on %d (see %s)\n", redis->port,
          redis->log_path);
  return false;
}

bool redis_start(struct redis *redis) {
  memset(redis, 0, sizeof(*redis));
  redis->port = harness_free_port();
  snprintf(redis->url, sizeof(redis->url), "redis://127.0.0.1:%d", redis->port);
  snprintf(redis->log_path, sizeof(redis->log_path), "%s/purchases-it-redis-%d-%d.log",
           harness_tmp(), (int)getpid(), redis->port);
  unlink(redis->log_path);
  return redis_restart(redis);
}

void redis_stop(struct redis *redis) {
  stop_child(&redis->pid);
}

bool server_start(struct server *server, const char *mongodb_uri, const char *const *env) {
  char port_env[64];
  char uri_env[256];
  char workers_env[48];
  const char *full_env[32];
  size_t n = 0;

  memset(server, 0, sizeof(*server));
  server->port = harness_free_port();
  snprintf(server->log_path, sizeof(server->log_path), "%s/purchases-it-server-%d-%d.log",
           harness_tmp(), (int)getpid(), server->port);
  unlink(server->log_path);
  snprintf(port_env, sizeof(port_env), "PURCHASES_PORT=%d", server->port);
  snprintf(uri_env, sizeof(uri_env), "MONGODB_URI=%s", mongodb_uri);
  full_env[n++] = port_env;
  full_env[n++] = uri_env;
  full_env[n++] = "PURCHASES_BIND_ADDRESS=127.0.0.1";
  full_env[n++] = "PURCHASES_DB_TIMEOUT_MS=1000";
  /* Tests that are not about rate limiting must never meet it. */
  full_env[n++] = "PURCHASES_RATE_LIMIT_RPS=0";
  full_env[n++] = "PURCHASES_AUTH_FAILURES_RPS=0";
  /* scripts/test.sh runs suites again with a thread per connection this way
   * (PURCHASES_TEST_WORKERS=0), unless the test chose its serving model
   * itself; without it the server takes its default. */
  const char *workers = getenv("PURCHASES_TEST_WORKERS");
  bool chosen = false;
  for (size_t i = 0; env != NULL && env[i] != NULL; i++) {
    chosen = chosen || strncmp(env[i], "PURCHASES_WORKERS=", 18) == 0;
  }
  if (workers != NULL && workers[0] != '\0' && !chosen) {
    snprintf(workers_env, sizeof(workers_env), "PURCHASES_WORKERS=%s", workers);
    full_env[n++] = workers_env;
  }
  for (size_t i = 0; env != NULL && env[i] != NULL && n < 31; i++) {
    full_env[n++] = env[i];
  }
  full_env[n] = NULL;
  const char *argv[] = {PURCHASES_BIN, NULL};
  server->pid = spawn(argv, full_env, server->log_path);
  for (int i = 0; i < 150; i++) {
    int status = 0;
    if (waitpid(server->pid, &status, WNOHANG) == server->pid) {
      server->exit_code = exit_code_of(status);
      server->pid = 0;
      break;
    }
    if (wait_for_status(server->port, "/healthz", 200, 0)) {
      return true;
    }
    sleep_ms(100);
  }
  /* A server that exited (a test of a bad configuration expects it) says
   * why in its exit code; only one still running is worth a line. */
  if (server->pid > 0) {
    fprintf(stderr, "harness: the server runs but did not answer /healthz (see %s)\n",
            server->log_path);
  }
  return false;
}

int server_stop(struct server *server, int timeout_s) {
  int status;
  int code;
  if (server->pid <= 0) {
    return server->exit_code;
  }
  kill(server->pid, SIGTERM);
  status = wait_exit(server->pid, (long)timeout_s * 1000);
  if (status == -1) {
    kill(server->pid, SIGKILL);
    waitpid(server->pid, NULL, 0);
    code = -1;
  } else {
    code = exit_code_of(status);
  }
  server->pid = 0;
  return code;
}

void server_kill(struct server *server) {
  if (server->pid > 0) {
    kill(server->pid, SIGKILL);
    waitpid(server->pid, NULL, 0);
    server->pid = 0;
  }
}

char *server_log(const struct server *server) {
  FILE *f = fopen(server->log_path, "rb");
  char *text = NULL;
  long size;
  if (f == NULL) {
    return strdup("");
  }
  fseek(f, 0, SEEK_END);
  size = ftell(f);
  fseek(f, 0, SEEK_SET);
  text = calloc(1, (size_t)size + 1);
  if (text != NULL && fread(text, 1, (size_t)size, f) != (size_t)size) {
    text[0] = '\0';
  }
  fclose(f);
  return text;
}

struct buffer {
  char *data;
  size_t len;
};

/* The certificate requests trust when the server speaks TLS; NULL for
 * plain HTTP. */
static const char *tls_ca_file;

void harness_set_tls(const char *ca_file) {
  tls_ca_file = ca_file;
}

static size_t buffer_append(char *ptr, size_t size, size_t nmemb, void *userdata) {
  struct buffer *buffer = userdata;
  size_t add = size * nmemb;
  char *grown = realloc(buffer->data, buffer->len + add + 1);
  if (grown == NULL) {
    return 0;
  }
  memcpy(grown + buffer->len, ptr, add);
  buffer->len += add;
  grown[buffer->len] = '\0';
  buffer->data = grown;
  return add;
}

bool http_request(int port, const char *method, const char *path, const char *const *headers,
                  struct http_response *out) {
  return http_request_body(port, method, path, headers, NULL, out);
}

bool http_request_body(int port, const char *method, const char *path, const char *const *headers,
                       const char *request_body, struct http_response *out) {
  CURL *curl = curl_easy_init();
  struct curl_slist *list = NULL;
  struct buffer body = {NULL, 0};
  struct buffer head = {NULL, 0};
  char url[8192]; /* room for the 414 tests */
  CURLcode rc;

  memset(out, 0, sizeof(*out));
  if (curl == NULL) {
    return false;
  }
  snprintf(url, sizeof(url), "%s://127.0.0.1:%d%s", tls_ca_file != NULL ? "https" : "http", port,
           path);
  if (tls_ca_file != NULL) {
    /* Trust exactly the test's own certificate, and check the name. */
    curl_easy_setopt(curl, CURLOPT_CAINFO, tls_ca_file);
    curl_easy_setopt(curl, CURLOPT_CAPATH, NULL);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  }
  for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
    list = curl_slist_append(list, headers[i]);
  }
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
  if (strcmp(method, "HEAD") == 0) {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L); /* a HEAD answer has none to wait for */
  }
  if (request_body != NULL) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request_body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(request_body));
    /* Send the body at once rather than wait for a 100 Continue. */
    list = curl_slist_append(list, "Expect:");
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, buffer_append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, buffer_append);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &head);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 20L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  /* Send the path exactly as written: no dot-segment squashing. */
  curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
  rc = curl_easy_perform(curl);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out->status);
    out->body = body.data != NULL ? body.data : strdup("");
    out->body_len = body.len;
    out->headers = head.data != NULL ? head.data : strdup("");
    out->j_body = json_loads(out->body, 0, NULL);
    body.data = NULL;
    head.data = NULL;
  }
  free(body.data);
  free(head.data);
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  return rc == CURLE_OK;
}

bool http_get_as(int port, const char *path, const char *client_id, const char *user_id,
                 struct http_response *out) {
  char client_header[256];
  char user_header[256];
  const char *headers[3] = {NULL, NULL, NULL};
  size_t n = 0;
  if (client_id != NULL) {
    snprintf(client_header, sizeof(client_header), "x-client-id: %s", client_id);
    headers[n++] = client_header;
  }
  if (user_id != NULL) {
    snprintf(user_header, sizeof(user_header), "x-user-id: %s", user_id);
    headers[n++] = user_header;
  }
  return http_request(port, "GET", path, headers, out);
}

const char *http_header(const struct http_response *response, const char *name, char *buf,
                        size_t len) {
  size_t name_len = strlen(name);
  const char *line = response->headers;
  while (line != NULL && *line != '\0') {
    const char *end = strstr(line, "\r\n");
    size_t line_len = end != NULL ? (size_t)(end - line) : strlen(line);
    if (line_len > name_len && line[name_len] == ':' && strncasecmp(line, name, name_len) == 0) {
      const char *value = line + name_len + 1;
      while (*value == ' ') {
        value++;
      }
      size_t value_len = line_len - (size_t)(value - line);
      if (value_len >= len) {
        value_len = len - 1;
      }
      memcpy(buf, value, value_len);
      buf[value_len] = '\0';
      return buf;
    }
    line = end != NULL ? end + 2 : NULL;
  }
  return NULL;
}

void http_response_cleanup(struct http_response *response) {
  free(response->body);
  free(response->headers);
  json_decref(response->j_body);
  memset(response, 0, sizeof(*response));
}

long http_metric(int port, const char *name) {
  struct http_response r;
  const char *line = NULL;
  size_t len = strlen(name);
  long value = -1;

  if (!http_request(port, "GET", "/metrics", NULL, &r)) {
    return -1;
  }
  for (line = r.body != NULL ? strstr(r.body, name) : NULL; line != NULL;
       line = strstr(line + 1, name)) {
    if ((line == r.body || line[-1] == '\n') && line[len] == ' ') {
      value = strtol(line + len + 1, NULL, 10);
      break;
    }
  }
  http_response_cleanup(&r);
  return value;
}

int64_t db_count(const char *uri, const char *collection_name, const char *filter_json) {
  mongoc_client_t *client = mongoc_client_new(uri);
  mongoc_uri_t *parsed = mongoc_uri_new(uri);
  mongoc_collection_t *collection = NULL;
  bson_t *filter = NULL;
  bson_error_t error;
  int64_t n = -1;

  filter = bson_new_from_json((const uint8_t *)filter_json, -1, &error);
  if (client == NULL || parsed == NULL || filter == NULL) {
    fprintf(stderr, "harness: cannot count %s %s\n", collection_name, filter_json);
    goto done;
  }
  collection =
      mongoc_client_get_collection(client, mongoc_uri_get_database(parsed), collection_name);
  n = mongoc_collection_count_documents(collection, filter, NULL, NULL, NULL, &error);
  if (n < 0) {
    fprintf(stderr, "harness: count of %s failed: %s\n", collection_name, error.message);
  }

done:
  bson_destroy(filter);
  mongoc_collection_destroy(collection);
  mongoc_uri_destroy(parsed);
  mongoc_client_destroy(client);
  return n;
}

bool db_insert(const char *uri, const bson_t *const *docs, size_t count) {
  mongoc_client_t *client = mongoc_client_new(uri);
  mongoc_uri_t *parsed = mongoc_uri_new(uri);
  mongoc_collection_t *collection = NULL;
  bson_error_t error;
  bool ok = false;

  if (client == NULL || parsed == NULL) {
    goto done;
  }
  collection = mongoc_client_get_collection(client, mongoc_uri_get_database(parsed), "purchases");
  ok = mongoc_collection_insert_many(collection, (const bson_t **)docs, count, NULL, NULL, &error);
  if (!ok) {
    fprintf(stderr, "harness: insert failed: %s\n", error.message);
  }

done:
  mongoc_collection_destroy(collection);
  mongoc_uri_destroy(parsed);
  mongoc_client_destroy(client);
  return ok;
}

/* `value`, or `fallback` when it is NULL. */
static const char *or_default(const char *value, const char *fallback) {
  return value != NULL ? value : fallback;
}

bson_t *fixture_document(const struct fixture *f) {
  const char *status = or_default(f->status, "delivered");
  const char *currency = or_default(f->currency, "GBP");
  int64_t unit = f->unit_pence != 0 ? f->unit_pence : 3499;
  int32_t quantity = f->quantity != 0 ? f->quantity : 2;
  bool delivered = strcmp(status, "delivered") == 0 || strcmp(status, "refunded") == 0;
  char receipt[128];
  bson_t delivery;
  bson_t *doc;

  snprintf(receipt, sizeof(receipt), "https://shop.example/receipts/%s", f->id);
  doc = BCON_NEW("id", BCON_UTF8(f->id), "userId", BCON_UTF8(f->user_id), "status",
                 BCON_UTF8(status), "items", "[", "{", "id", BCON_UTF8("kettle-blue"), "title",
                 BCON_UTF8(or_default(f->title, "Secret Blue Kettle")), "brand",
                 BCON_UTF8(or_default(f->brand, "Hearthware")), "imgUrl",
                 BCON_UTF8("https://img.shop.example/k.jpg"), "pricePerUnitPence", BCON_INT64(unit),
                 "currency", BCON_UTF8(currency), "quantity", BCON_INT32(quantity),
                 "priceTotalPence", BCON_INT64(unit * quantity), "}", "]", "pricePence",
                 BCON_INT64(unit * quantity), "currency", BCON_UTF8(currency), "datePurchased",
                 BCON_DATE_TIME(f->date_ms), "payment", "{", "method", BCON_UTF8("card"),
                 "lastDigits", BCON_UTF8("4242"), "receiptUrl", BCON_UTF8(receipt), "}");
  BSON_APPEND_DOCUMENT_BEGIN(doc, "delivery", &delivery);
  BSON_APPEND_UTF8(&delivery, "method", "standard");
  BSON_APPEND_NULL(&delivery, "storeLocation");
  if (delivered) {
    BSON_APPEND_DATE_TIME(&delivery, "dateDelivered", f->date_ms + 86400000);
  } else {
    BSON_APPEND_NULL(&delivery, "dateDelivered");
  }
  bson_append_document_end(doc, &delivery);
  return doc;
}

bson_t *fixture_purchase(const char *id, const char *user_id, int64_t date_ms) {
  struct fixture fixture = {.id = id, .user_id = user_id, .date_ms = date_ms};
  return fixture_document(&fixture);
}

bool wait_for_status(int port, const char *path, long status, int timeout_s) {
  for (int i = 0; i <= timeout_s * 10; i++) {
    struct http_response response;
    bool got = http_request(port, "GET", path, NULL, &response);
    long seen = response.status;
    http_response_cleanup(&response);
    if (got && seen == status) {
      return true;
    }
    if (i < timeout_s * 10) {
      sleep_ms(100);
    }
  }
  return false;
}
