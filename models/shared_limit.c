#include "models/shared_limit.h"

#include <stdio.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <hiredis/hiredis.h>

#include "models/redis.h"

/* KEYS[1] the bucket; ARGV rps, burst, op (1 take, 0 peek, -1 refund).
 * Returns {allowed, milli-tokens left}. The same arithmetic as the
 * per-instance buckets of middleware/rate_limit.c. */
static const char SCRIPT[] =
    "local rps = tonumber(ARGV[1])\n"
    "local full = tonumber(ARGV[2]) * 1000\n"
    "local op = tonumber(ARGV[3])\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local state = redis.call('HMGET', KEYS[1], 'm', 't')\n"
    "local tokens = tonumber(state[1]) or full\n"
    "local last = tonumber(state[2]) or now\n"
    "if now > last then tokens = math.min(full, tokens + (now - last) * rps) end\n"
    "local allowed = 1\n"
    "if op > 0 then\n"
    "  if tokens >= 1000 then tokens = tokens - 1000 else allowed = 0 end\n"
    "elseif op < 0 then\n"
    "  tokens = math.min(full, tokens + 1000)\n"
    "elseif tokens < 1000 then\n"
    "  allowed = 0\n"
    "end\n"
    "if op ~= 0 then\n"
    "  redis.call('HSET', KEYS[1], 'm', tokens, 't', now)\n"
    "  redis.call('PEXPIRE', KEYS[1], math.ceil((full - tokens) / rps) + 1000)\n"
    "end\n"
    "return {allowed, tokens}\n";

#define KEY_PREFIX "purchases:rate:"

/* The script's SHA-1 in hex, for EVALSHA. */
static bool script_sha(char out[41]) {
  static const char HEX[] = "0123456789abcdef";
  unsigned char digest[20];
  if (gnutls_hash_fast(GNUTLS_DIG_SHA1, SCRIPT, sizeof(SCRIPT) - 1, digest) != 0) {
    return false;
  }
  for (size_t i = 0; i < sizeof(digest); i++) {
    out[2 * i] = HEX[digest[i] >> 4];
    out[2 * i + 1] = HEX[digest[i] & 0x0f];
  }
  out[40] = '\0';
  return true;
}

static bool read_reply(const redisReply *reply, struct shared_limit_state *out) {
  if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
      reply->element[0]->type != REDIS_REPLY_INTEGER ||
      reply->element[1]->type != REDIS_REPLY_INTEGER || reply->element[1]->integer < 0) {
    return false;
  }
  out->allowed = reply->element[0]->integer == 1;
  out->milli_tokens = (uint64_t)reply->element[1]->integer;
  return true;
}

/* One decision: EVALSHA, or EVAL when this Redis does not know the script
 * yet (first use, or after a restart). */
struct decision {
  const char *sha;
  const char *key;
  uint32_t rps;
  uint32_t burst;
  enum shared_limit_op op;
  struct shared_limit_state *out;
};

static bool decide_work(redisContext *context, void *data) {
  const struct decision *d = data;
  redisReply *reply = redisCommand(context, "EVALSHA %s 1 %s%s %u %u %d", d->sha, KEY_PREFIX,
                                   d->key, d->rps, d->burst, (int)d->op);
  bool ok;

  if (reply != NULL && reply->type == REDIS_REPLY_ERROR &&
      strncmp(reply->str, "NOSCRIPT", 8) == 0) {
    freeReplyObject(reply);
    reply = redisCommand(context, "EVAL %s 1 %s%s %u %u %d", SCRIPT, KEY_PREFIX, d->key, d->rps,
                         d->burst, (int)d->op);
  }
  ok = read_reply(reply, d->out);
  freeReplyObject(reply);
  return ok;
}

bool shared_limit_apply(struct redis_pool *pool, const char *key, uint32_t rps, uint32_t burst,
                        enum shared_limit_op op, struct shared_limit_state *out) {
  char sha[41];
  struct decision decision = {sha, key, rps, burst, op, out};

  if (rps == 0 || !script_sha(sha)) {
    return false;
  }
  return redis_pool_run(pool, decide_work, &decision);
}
