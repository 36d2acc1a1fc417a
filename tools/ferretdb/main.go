// Command ferretdb runs the embeddable FerretDB on 127.0.0.1 for local
// development and tests of purchases. It exists because FerretDB's own
// cmd/ferretdb, installed with `go install`, panics at start: its generated
// version file is not part of the published module (FerretDB issue #2982).
//
// With the postgresql handler and -pg-indexes FILE it also keeps the
// PostgreSQL indexes that FerretDB's filter pushdown can use in place: it
// runs FILE (an idempotent SQL script, deploy/ferretdb/postgresql-indexes.sql)
// at start and every -pg-indexes-every, so tables that FerretDB creates later
// (a new database, a dropped and re-created collection) get them too.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"github.com/jackc/pgx/v5"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on (loopback only)")
	handler := flag.String("handler", "sqlite", "storage backend: sqlite or postgresql")
	sqliteURL := flag.String("sqlite-url", "file:var/db/", "SQLite directory URI (the folder must exist)")
	pgURL := flag.String("postgresql-url", "postgres://127.0.0.1:5432/ferretdb", "PostgreSQL URL for the postgresql handler")
	logLevel := flag.String("log-level", "warn", "debug, info, warn or error")
	pgIndexes := flag.String("pg-indexes", "", "SQL file run against -postgresql-url at start and then periodically")
	pgIndexesEvery := flag.Duration("pg-indexes-every", 2*time.Second, "how often -pg-indexes runs")
	flag.Parse()

	if err := run(*listen, *handler, *sqliteURL, *pgURL, *logLevel, *pgIndexes, *pgIndexesEvery); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb: %s\n", err)
		os.Exit(1)
	}
}

func run(listen, handler, sqliteURL, pgURL, logLevel, pgIndexes string, every time.Duration) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("-listen %q: %w", listen, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-listen %q: only loopback addresses are allowed", listen)
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(logLevel))); err != nil {
		return fmt.Errorf("-log-level %q: %w", logLevel, err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	cfg := ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: listen},
		Logger:   logger,
		Handler:  handler,
	}
	switch handler {
	case "sqlite":
		cfg.SQLiteURL = sqliteURL
	case "postgresql":
		cfg.PostgreSQLURL = pgURL
	default:
		return fmt.Errorf("-handler %q: want sqlite or postgresql", handler)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	f, err := ferretdb.New(&cfg)
	if err != nil {
		return err
	}

	if pgIndexes != "" {
		if handler != "postgresql" {
			return fmt.Errorf("-pg-indexes goes with -handler postgresql")
		}
		script, err := os.ReadFile(pgIndexes)
		if err != nil {
			return fmt.Errorf("-pg-indexes: %w", err)
		}
		go keepIndexes(ctx, logger, pgURL, string(script), every)
	}

	logger.Info("ferretdb listening", "addr", listen, "handler", handler)
	return f.Run(ctx)
}

// keepIndexes runs script against the PostgreSQL database at url now and
// then every interval until ctx ends. The script is idempotent, so a run
// that finds every index in place costs one small catalogue query per table.
func keepIndexes(ctx context.Context, logger *slog.Logger, url, script string, interval time.Duration) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()

	failing := false
	for {
		if err := runScript(ctx, url, script); err != nil && ctx.Err() == nil {
			if !failing {
				logger.Warn("pg-indexes: cannot apply the index script; retrying", "error", err)
			}
			failing = true
		} else {
			failing = false
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

func runScript(ctx context.Context, url, script string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()

	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())

	// Two launchers on one database (tests run several) must not build the
	// same index at once: the second would wait, then find it there.
	if _, err = conn.Exec(ctx, "SELECT pg_advisory_lock(7310)"); err != nil {
		return err
	}
	_, err = conn.Exec(ctx, script)
	return err
}
