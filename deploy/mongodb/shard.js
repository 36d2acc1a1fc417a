// Shards the purchases database of a MongoDB replica set that has become a
// sharded cluster (docs/scaling.md, "Sharding a live database"). Run it with
// mongosh against a mongos, once purchases-migrate has finished:
//     mongosh "mongodb://mongos.example/purchases" deploy/mongodb/shard.js
// It is safe to run again: every step is skipped once done.
//
// The keys below are the service's own table (models/collections.c); the
// deploy lint (scripts/lint-deploy.js) fails when they differ from
// `purchases-migrate --shard-keys`. null: left unsharded, on the primary shard.
const KEYS = // shard-keys:begin
{
  "purchases": {"userId": "hashed"},
  "purchase_history": {"userId": "hashed"},
  "audit": {"userId": "hashed"},
  "idempotency_keys": null
}
// shard-keys:end
;

const name = db.getName();
const indexNamed = (collection, index) =>
  db.getCollection(collection).getIndexes().some((i) => i.name === index);

// 1. Only a migrated database can be sharded: its unique indexes must begin
//    with userId, and every history entry must carry one.
if (indexNamed('purchases', 'id_1') || indexNamed('purchase_history', 'purchaseId_1_version_1') ||
    db.purchase_history.findOne({userId: {$exists: false}}, {_id: 1}) !== null) {
  print('shard.js: the database has the earlier shape; run purchases-migrate first');
  quit(1);
}

// 2. The database (a no-op on MongoDB 6 and later, needed before).
sh.enableSharding(name);

// 3. Each collection: the hashed index on its key first (shardCollection builds
//    it only on an empty collection), then the collection itself. On a live
//    collection the balancer then moves chunks in the background.
for (const [collection, key] of Object.entries(KEYS)) {
  if (key === null) {
    print(`shard.js: ${collection} stays unsharded`);
    continue;
  }
  const info = db.getSiblingDB('config').collections.findOne({_id: `${name}.${collection}`});
  if (info !== null && !info.dropped) {
    print(`shard.js: ${collection} is sharded already`);
    continue;
  }
  db.getCollection(collection).createIndex(key);
  sh.shardCollection(`${name}.${collection}`, key);
  print(`shard.js: ${collection} sharded on ${JSON.stringify(key)}`);
}
