-- PostgreSQL indexes for purchases on FerretDB 1.x with its postgresql handler.
--
-- FerretDB keeps each collection in a table of one jsonb column, _jsonb, and
-- sends a top-level equality such as {userId: "123"} to PostgreSQL as
--     _jsonb->'userId' @> '"123"'
-- The indexes FerretDB makes for createIndexes are btree expression indexes,
-- which cannot serve @>: without the GIN indexes below every such read scans
-- the whole table. MongoDB needs none of this (the service's own
-- createIndexes serve it there).
--
-- Idempotent: run it whenever you like, for instance after the service has
-- started once against a new database (the tables exist from then on). Our
-- FerretDB launcher (tools/ferretdb) runs it by itself every few seconds.
--     psql "$FERRETDB_POSTGRESQL_URL" -f deploy/ferretdb/postgresql-indexes.sql
--
-- One row per equality the service pushes down; docs/performance.md names
-- the request that each one serves.
DO $$
DECLARE
  wanted CONSTANT text[][] := ARRAY[
    ['purchases',        'userId'],      -- a customer's list, one purchase of a user
    ['purchases',        'id'],          -- one purchase by id, status changes
    ['purchase_history', 'purchaseId'],  -- a purchase's history, the version arbiter
    ['purchase_history', 'eventPending'], -- the event relay's look for pending events
    ['idempotency_keys', 'key'],         -- replays of a POST
    ['audit',            'userId']       -- the audit trail of a user
  ];
  schema_name text;
  table_name text;
  index_name text;
BEGIN
  FOR schema_name IN
    SELECT table_schema FROM information_schema.tables
    WHERE tables.table_name = '_ferretdb_database_metadata'
  LOOP
    FOR i IN 1 .. array_length(wanted, 1) LOOP
      EXECUTE format('SELECT _jsonb->>''table'' FROM %I._ferretdb_database_metadata
                      WHERE _jsonb->>''_id'' = $1', schema_name)
        INTO table_name USING wanted[i][1];
      CONTINUE WHEN table_name IS NULL;
      index_name := left(table_name, 40) || '_' || lower(wanted[i][2]) || '_gin';
      IF to_regclass(format('%I.%I', schema_name, index_name)) IS NULL THEN
        EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I.%I USING gin ((_jsonb->%L) jsonb_path_ops)',
                       index_name, schema_name, table_name, wanted[i][2]);
        EXECUTE format('ANALYZE %I.%I', schema_name, table_name);
        RAISE NOTICE 'purchases: created %.%', schema_name, index_name;
      END IF;
    END LOOP;
  END LOOP;
END
$$;
