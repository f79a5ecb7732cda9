package storage

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"math"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migration is one embedded schema change, migrations/NNNN_name.sql.
type Migration struct {
	Version uint32
	Name    string
	SQL     string
}

// Migrations lists the embedded migrations in version order.
func Migrations() ([]Migration, error) {
	files, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("storage: migrations: %w", err)
	}
	var ms []Migration
	for _, f := range files {
		base := strings.TrimSuffix(path.Base(f), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.ParseUint(num, 10, 32)
		if !ok || err != nil || v == 0 {
			return nil, fmt.Errorf("storage: migrations: bad file name %s (want NNNN_name.sql)", f)
		}
		data, err := migrationFS.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("storage: migrations: %w", err)
		}
		ms = append(ms, Migration{Version: uint32(v), Name: name, SQL: string(data)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			return nil, fmt.Errorf("storage: migrations: version %d twice", ms[i].Version)
		}
	}
	return ms, nil
}

// statements splits a migration into statements: a statement ends with a
// line ending in ';'. Comment-only lines are dropped.
func statements(sql string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(sql, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(t, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

// Applied returns the versions recorded in schema_migrations.
func (s *Store) Applied(ctx context.Context) ([]uint32, error) {
	if err := s.conn.Exec(ctx, s.sql(`CREATE TABLE IF NOT EXISTS {db}.schema_migrations (
    version     UInt32,
    name        String,
    applied_at  DateTime('UTC')
) ENGINE = ReplacingMergeTree ORDER BY version`)); err != nil && !alreadyExists(err) {
		return nil, fmt.Errorf("storage: migrate: create schema_migrations: %w", err)
	}
	rows, err := s.conn.Query(ctx, s.sql("SELECT DISTINCT version FROM {db}.schema_migrations ORDER BY version"))
	if err != nil {
		return nil, fmt.Errorf("storage: migrate: applied versions: %w", err)
	}
	defer rows.Close()
	var vs []uint32
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("storage: migrate: applied versions: %w", err)
		}
		vs = append(vs, v)
	}
	return vs, rows.Err()
}

// Migrate applies, in order, every embedded migration not yet recorded in
// schema_migrations, and records it. It is idempotent, and safe to run from
// two processes at once: every statement is IF NOT EXISTS DDL (an
// "already exists" race is ignored) and a version recorded twice is one
// row after merges (and read with DISTINCT).
func (s *Store) Migrate(ctx context.Context) error {
	_, err := s.ApplyMigrations(ctx)
	return err
}

// ApplyMigrations is Migrate, returning the migrations it applied.
func (s *Store) ApplyMigrations(ctx context.Context) ([]Migration, error) {
	return s.applyMigrations(ctx, math.MaxUint32)
}

// applyMigrations applies the migrations up to version upTo.
func (s *Store) applyMigrations(ctx context.Context, upTo uint32) ([]Migration, error) {
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	applied, err := s.Applied(ctx)
	if err != nil {
		return nil, err
	}
	done := map[uint32]bool{}
	for _, v := range applied {
		done[v] = true
	}
	var did []Migration
	for _, m := range ms {
		if done[m.Version] || m.Version > upTo {
			continue
		}
		for _, st := range statements(m.SQL) {
			if err := s.execMigration(ctx, st); err != nil {
				return did, fmt.Errorf("storage: migrate %04d_%s: %w", m.Version, m.Name, err)
			}
		}
		b, err := s.conn.PrepareBatch(ctx, s.sql("INSERT INTO {db}.schema_migrations (version, name, applied_at)"))
		if err != nil {
			return did, fmt.Errorf("storage: migrate: record %d: %w", m.Version, err)
		}
		if err := b.Append(m.Version, m.Name, time.Now().UTC()); err != nil {
			b.Abort()
			return did, fmt.Errorf("storage: migrate: record %d: %w", m.Version, err)
		}
		if err := b.Send(); err != nil {
			return did, fmt.Errorf("storage: migrate: record %d: %w", m.Version, err)
		}
		s.log.Info("applied migration", "database", s.db, "version", m.Version, "name", m.Name)
		did = append(did, m)
	}
	return did, nil
}

// execMigration runs one statement of a migration. A statement holding
// {month} fills a table from the raw one: it runs once per month that
// holds reports, {month} standing for that month's condition, so that no
// INSERT touches more partitions than current releases allow.
func (s *Store) execMigration(ctx context.Context, st string) error {
	if !strings.Contains(st, "{month}") {
		err := s.conn.Exec(ctx, s.sql(st))
		if err != nil && !alreadyExists(err) {
			return fmt.Errorf("%w\n%s", err, s.sql(st))
		}
		return nil
	}
	var months []uint32
	err := s.each(ctx, "months", s.sql("SELECT DISTINCT toYYYYMM(observed_at) AS m FROM {db}.reports ORDER BY m"), nil, func(sc scanner) error {
		var m uint32
		if err := sc.Scan(&m); err != nil {
			return err
		}
		months = append(months, m)
		return nil
	})
	if err != nil {
		return err
	}
	for _, m := range months {
		q := s.sql(strings.ReplaceAll(st, "{month}", fmt.Sprintf("toYYYYMM(observed_at) = %d", m)))
		if err := s.conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("fill month %d: %w\n%s", m, err, q)
		}
	}
	return nil
}
