package storage

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/trucewatch/trucewatch/storage/read"
)

// Defaults for Options.
const (
	DefaultAddr         = "127.0.0.1:9000"
	DefaultDatabase     = "trucewatch"
	DefaultUsername     = "default"
	DefaultDialTimeout  = 10 * time.Second
	DefaultReadTimeout  = 2 * time.Minute
	DefaultMaxOpenConns = 10
	// MaxBatchRows bounds len(Batch.Rows) (ingest's MaxBatchSize). A batch
	// is sent as one native block (at most twice as many rows: a retraction
	// per replaced report); ClickHouse keeps a client's native block whole,
	// so every materialized view aggregates the whole batch at once and a
	// redo produces the same aggregate rows (checked on 18.16 with a 1.5M-row
	// block).
	MaxBatchRows = 100_000
)

// Options configure Open. The zero value connects to DefaultAddr.
type Options struct {
	Addr     string // host:port of the native protocol; default DefaultAddr
	Database string // default DefaultDatabase; Open creates it if missing
	Username string // default DefaultUsername
	Password string
	TLS      *tls.Config  // nil = plain TCP
	Logger   *slog.Logger // nil = discard

	DialTimeout  time.Duration // default DefaultDialTimeout
	ReadTimeout  time.Duration // per read from the server; default DefaultReadTimeout
	MaxOpenConns int           // default DefaultMaxOpenConns
}

func (o *Options) setDefaults() {
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.Database == "" {
		o.Database = DefaultDatabase
	}
	if o.Username == "" {
		o.Username = DefaultUsername
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	if o.MaxOpenConns <= 0 {
		o.MaxOpenConns = DefaultMaxOpenConns
	}
}

// Store is a connection pool to one ClickHouse database. It is safe for
// concurrent use; connections broken by a server restart are replaced.
type Store struct {
	conn  driver.Conn
	db    string // database name
	qdb   string // quoted database name, for SQL
	log   *slog.Logger
	parts partsCache // active parts per partition, see final.go
	opt   Options
}

var validDB = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Open connects to ClickHouse and creates the database if it is missing.
// It does not create tables: call Migrate.
func Open(ctx context.Context, o Options) (*Store, error) {
	o.setDefaults()
	if !validDB.MatchString(o.Database) {
		return nil, fmt.Errorf("storage: open: invalid database name %q", o.Database)
	}
	s := &Store{db: o.Database, qdb: "`" + o.Database + "`", log: o.Logger, opt: o}
	conn, err := s.dial(o.Database)
	if err != nil {
		return nil, err
	}
	err = conn.Ping(ctx)
	if isCode(err, codeUnknownDatabase) {
		conn.Close()
		if err = s.createDatabase(ctx); err != nil {
			return nil, err
		}
		if conn, err = s.dial(o.Database); err != nil {
			return nil, err
		}
		err = conn.Ping(ctx)
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("storage: open %s: %w", o.Addr, err)
	}
	s.conn = conn
	return s, nil
}

func (s *Store) dial(database string) (driver.Conn, error) {
	conn, err := clickhouse.Open(&clickhouse.Options{
		Protocol: clickhouse.Native,
		Addr:     []string{s.opt.Addr},
		Auth: clickhouse.Auth{
			Database: database,
			Username: s.opt.Username,
			Password: s.opt.Password,
		},
		TLS:          s.opt.TLS,
		DialTimeout:  s.opt.DialTimeout,
		ReadTimeout:  s.opt.ReadTimeout,
		MaxOpenConns: s.opt.MaxOpenConns,
		MaxIdleConns: s.opt.MaxOpenConns,
		Compression:  &clickhouse.Compression{Method: clickhouse.CompressionLZ4},
		ClientInfo: clickhouse.ClientInfo{Products: []struct{ Name, Version string }{
			{Name: "trucewatch", Version: "1"},
		}},
	})
	if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", s.opt.Addr, err)
	}
	return conn, nil
}

func (s *Store) createDatabase(ctx context.Context) error {
	conn, err := s.dial("default")
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+s.qdb); err != nil {
		return fmt.Errorf("storage: create database %s: %w", s.db, err)
	}
	s.log.Info("created database", "database", s.db)
	return nil
}

// Close closes the connections.
func (s *Store) Close() error { return s.conn.Close() }

// Database is the database name.
func (s *Store) Database() string { return s.db }

// Conn is the underlying connection pool, for tests and analysts' checks
// that read the tables directly (tables are in Database()); programs ask
// through the methods, which hold every statement.
func (s *Store) Conn() driver.Conn { return s.conn }

// ServerVersion returns SELECT version().
func (s *Store) ServerVersion(ctx context.Context) (string, error) {
	var v string
	if err := s.conn.QueryRow(ctx, "SELECT version()").Scan(&v); err != nil {
		return "", fmt.Errorf("storage: server version: %w", err)
	}
	return v, nil
}

// sql replaces {db} with the quoted database name.
func (s *Store) sql(q string) string { return strings.ReplaceAll(q, "{db}", s.qdb) }

// ClickHouse error codes this package reacts to.
const (
	codeDuplicateColumn       = 15 // ADD COLUMN of an existing column, current releases
	codeIllegalColumn         = 44 // the same on 18.16 ("column with this name already exists")
	codeTableAlreadyExists    = 57
	codeUnknownDatabase       = 81
	codeDatabaseAlreadyExists = 82
)

// alreadyExists reports whether a DDL statement failed because what it
// creates exists: a migration raced with another process, or ran twice.
func alreadyExists(err error) bool {
	if isCode(err, codeTableAlreadyExists, codeDatabaseAlreadyExists, codeDuplicateColumn) {
		return true
	}
	// 18.16 reports other column errors under code 44 too; only the
	// message tells a duplicate column.
	return isCode(err, codeIllegalColumn) && strings.Contains(err.Error(), "already exists")
}

// readErr marks an error of a read method for readers that do not import
// the driver: read.ErrBusy when the pool had no connection free within
// Options.DialTimeout (ClickHouse is up, every connection in use),
// read.ErrUnavailable for a network error (dial, refused, reset) rather
// than an answer. The driver's error stays in the chain.
func readErr(err error) error {
	var ne net.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return err // the caller's own deadline or cancellation (a net.Error too)
	case errors.Is(err, clickhouse.ErrAcquireConnTimeout):
		return fmt.Errorf("%w: %w", read.ErrBusy, err)
	case errors.As(err, &ne), errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%w: %w", read.ErrUnavailable, err)
	}
	return err
}

func isCode(err error, codes ...int32) bool {
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) {
		return false
	}
	for _, c := range codes {
		if ex.Code == c {
			return true
		}
	}
	return false
}
