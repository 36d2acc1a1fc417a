'use strict';
// Benchmark peer for issue 13, not a service: GET /user/:userId (headers auth) as the original
// Node.js stack would write it. Matches the C service's authorization (middleware/authn.c,
// authz.c, audit.c), query (models/purchase.c, purchase_query.c, routes/list_params.c), JSON
// (models/purchase_json.c, routes/user_purchases.c) and errors (middleware/problem.c). README.md.
const crypto = require('node:crypto');
const { isUtf8 } = require('node:buffer');
const Fastify = require('fastify');
const { MongoClient, MongoNetworkError, MongoServerSelectionError, MongoServerError } = require('mongodb');

const env = process.env;
const uri = env.MONGODB_URI || 'mongodb://127.0.0.1:27090/purchases';
const port = Number(env.PORT || 8091);
const host = env.HOST || '127.0.0.1';
const queryTimeoutMs = Number(env.QUERY_TIMEOUT_MS || 5000); // the C's PURCHASES_DB_QUERY_TIMEOUT_MS
// Client id -> role, PURCHASES_CLIENTS with the C service's default (app/config.c).
const clients = new Map((env.PURCHASES_CLIENTS ||
  'shop:customer,customer-support:support,invoicing:service,checkout:ingest').split(',').map((e) => e.split(':')));

const ID = /^[A-Za-z0-9_-]{1,64}$/; // lib/ids.h ID_PLAIN: user ids
const DOTTED = /^[A-Za-z0-9_.-]{1,64}$/; // ID_DOTTED: client and request ids
const RULE = '1 to 64 characters of A-Z a-z 0-9 _ -';
const PROBLEMS = { 400: ['invalid-request', 'Invalid request'], 401: ['unauthenticated', 'Authentication required'],
  403: ['forbidden', 'Access denied'], 404: ['not-found', 'Not found'],
  500: ['internal-error', 'Internal server error'], 503: ['service-unavailable', 'Service unavailable'] };
// Server errors the C service answers with 503 (models/db.c classify()).
const UNAVAILABLE = new Set([6, 7, 50, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436]);

const mongo = new MongoClient(uri, { maxPoolSize: 16, serverSelectionTimeoutMS: 2000, waitQueueTimeoutMS: 2000 });
const [purchases, audit] = ['purchases', 'audit'].map((c) => mongo.db().collection(c)); // db: URI path

class Problem extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}
function storeFailure(err) {
  if (err instanceof Problem) return err;
  if (/WaitQueueTimeout/.test(err.name)) { // the C service's 2 s wait for one of 16 database slots
    return new Problem(503, 'The service is at capacity right now. Try again after Retry-After seconds.');
  }
  const down = err instanceof MongoNetworkError || err instanceof MongoServerSelectionError ||
    /PoolCleared/.test(err.name) || (err instanceof MongoServerError && UNAVAILABLE.has(err.code));
  return down ? new Problem(503, 'The purchase store cannot be reached. Try again shortly.')
    : new Problem(500, 'Something went wrong on our side. Quote the request id when you report it.');
}
function sendProblem(reply, { status, message }) {
  const [slug, title] = PROBLEMS[status];
  if (status === 503) reply.header('retry-after', '2');
  return reply.code(status).type('application/problem+json')
    .send({ type: `/problems/${slug}`, title, status, detail: message, requestId: reply.request.id });
}

// One purchase as models/purchase_json.c maps it: every field of the contract
// in its order, null when missing or of another type.
const str = (v) => (typeof v === 'string' ? v : null);
const int = (v) => (Number.isInteger(v) ? v : null);
const date = (v) => (v instanceof Date && !Number.isNaN(v.getTime()) ? v.toISOString() : null);
const isDoc = (v) => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date);
const item = (i) => ({ id: str(i.id), title: str(i.title), brand: str(i.brand), imgUrl: str(i.imgUrl),
  pricePerUnitPence: int(i.pricePerUnitPence), currency: str(i.currency), quantity: int(i.quantity),
  priceTotalPence: int(i.priceTotalPence) });
const toJson = (p) => ({ id: str(p.id), userId: str(p.userId), status: str(p.status),
  items: Array.isArray(p.items) ? p.items.map((i) => (isDoc(i) ? item(i) : null)) : null,
  pricePence: int(p.pricePence), currency: str(p.currency), datePurchased: date(p.datePurchased),
  payment: isDoc(p.payment) ? { method: str(p.payment.method), lastDigits: str(p.payment.lastDigits),
    receiptUrl: str(p.payment.receiptUrl) } : null,
  delivery: isDoc(p.delivery) ? { method: str(p.delivery.method), storeLocation: str(p.delivery.storeLocation),
    dateDelivered: date(p.delivery.dateDelivered) } : null });

// nextCursor is a simple opaque string: UNSIGNED base64url of [datePurchased
// ms, id]. The C service's is HMAC-signed and bound to user, sort and filters.
const encodeCursor = (p) => Buffer.from(JSON.stringify([p.datePurchased.getTime(), p.id])).toString('base64url');
function keysetAfter(text) {
  let after = null;
  try { after = JSON.parse(Buffer.from(text, 'base64url').toString()); } catch { /* refused below */ }
  if (!Array.isArray(after) || !Number.isSafeInteger(after[0]) || !ID.test(after[1])) {
    throw new Problem(400, 'Query parameter \'cursor\' is not a cursor of this list: it was altered, cut short, ' +
      'or made for another user, sort or filter. Start again without it.');
  }
  const key = new Date(after[0]); // models/purchase_query.c append_keyset(), descending
  return [{ datePurchased: { $lte: key }, $or: [{ datePurchased: { $lt: key } }, { id: { $lt: after[1] } }] }];
}

async function listPage(userId, query) {
  const filter = { userId };
  let limit = 20; // LIST_LIMIT_DEFAULT; sort -datePurchased, the default
  for (const [name, value] of Object.entries(query)) {
    if (typeof value !== 'string') throw new Problem(400, `Query parameter '${name}' is given more than once.`);
    if (name === 'limit') {
      limit = /^[0-9]{1,15}$/.test(value) ? Number(value) : 0;
      if (limit < 1 || limit > 100) throw new Problem(400, 'Query parameter \'limit\' must be a whole number from 1 to 100.');
    } else if (name === 'cursor') {
      filter.$and = keysetAfter(value);
    } else {
      throw new Problem(400, `Unknown query parameter '${name}'. This benchmark peer knows only limit and cursor.`);
    }
  }
  const docs = await purchases.find(filter, { sort: { datePurchased: -1, id: -1 }, projection: { _id: 0 },
    limit: limit + 1, maxTimeMS: queryTimeoutMs }).toArray(); // one more than the page: is there a next?
  const hasMore = docs.length > limit;
  const shown = hasMore ? docs.slice(0, limit) : docs;
  const last = shown[shown.length - 1];
  const nextCursor = hasMore && last.datePurchased instanceof Date && ID.test(last.id) ? encodeCursor(last) : null;
  return { data: shown.map(toJson), page: { limit, hasMore, nextCursor, prevCursor: null } };
}

// middleware/authn.c from_headers(), then authz.c: customers read only
// themselves, support and service anyone, ingest no one.
function authorize(req) {
  const { 'x-client-id': clientId, 'x-user-id': actor, 'x-access-reason': reason } = req.headers;
  const target = req.params.userId;
  if (!clientId) throw new Problem(401, 'The x-client-id header is required.');
  if (!DOTTED.test(clientId)) {
    throw new Problem(400, 'The x-client-id header must be 1 to 64 characters of A-Z a-z 0-9 _ - . and sent once.');
  }
  const role = clients.get(clientId);
  if (role === undefined) throw new Problem(403, 'This client is not allowed to call the service.');
  if (!actor) throw new Problem(401, 'The x-user-id header is required.');
  if (!ID.test(actor)) throw new Problem(400, `The x-user-id header must be ${RULE} and sent once.`);
  if (!ID.test(target)) throw new Problem(400, `The userId in the path must be ${RULE}.`);
  if (!(role === 'support' || role === 'service' || (role === 'customer' && actor === target))) {
    throw new Problem(403, 'You may not read this user\'s purchases.');
  }
  const bytes = reason === undefined ? null : Buffer.from(reason, 'latin1'); // node reads header bytes as latin1
  if (bytes && (bytes.length > 200 || !isUtf8(bytes) || /[\x00-\x1f\x7f]/.test(reason) || !bytes.length)) {
    throw new Problem(400, 'The x-access-reason header must be 1 to 200 bytes of UTF-8 text without control characters.');
  }
  return { clientId, role, actor, target, reason: bytes ? bytes.toString('utf8') : null };
}

const app = Fastify({ logger: false, routerOptions: { maxParamLength: 1000 },
  genReqId: (req) => (DOTTED.test(req.headers['x-request-id'] || '') ? req.headers['x-request-id']
    : crypto.randomBytes(16).toString('hex')) });
app.addHook('onRequest', (req, reply, done) => {
  reply.header('x-request-id', req.id).header('cache-control', 'no-store');
  done();
});
app.setNotFoundHandler((req, reply) => sendProblem(reply, new Problem(404, 'There is no such route.')));
app.setErrorHandler((err, req, reply) => sendProblem(reply, new Problem(err.statusCode === 400 ? 400 : 500,
  err.statusCode === 400 ? 'The request is malformed.' : 'Something went wrong on our side.')));

app.get('/user/:userId', async (req, reply) => {
  let who; let body; let failure;
  try { who = authorize(req); } catch (problem) { return sendProblem(reply, problem); }
  try { body = await listPage(who.target, req.query); } catch (err) { failure = storeFailure(err); }
  if (who.role !== 'customer') { // middleware/audit.c: a support or service read is recorded, or refused
    try {
      await audit.insertOne({ time: new Date(), client: who.clientId, role: who.role, actor: who.actor,
        userId: who.target, method: 'GET', route: '/user/:userId', purchaseId: null,
        status: failure ? failure.status : 200, requestId: req.id, reason: who.reason },
      { writeConcern: { w: 'majority', journal: true, wtimeoutMS: queryTimeoutMs } });
    } catch {
      failure = new Problem(503, 'This read could not be recorded in the audit trail, so it is refused. Try again shortly.');
    }
  }
  return failure ? sendProblem(reply, failure) : body;
});

async function stop() { // SIGTERM: finish requests in flight, close idle connections, then the pool
  await app.close().finally(() => mongo.close()).catch(() => {});
  process.exit(0);
}
if (require.main === module) {
  process.once('SIGTERM', stop).once('SIGINT', stop);
  app.listen({ port, host }).catch((err) => {
    console.error(`peer: cannot listen on ${host}:${port}: ${err.message}`);
    process.exit(1);
  });
}
module.exports = app;
