package storage

import (
	"context"
	"strings"
)

// PlannedRow is a row WriteBatch would insert.
type PlannedRow = outRow

// PlanRows runs steps 2-3 of WriteBatch without inserting: the rows the
// INSERT of b would carry.
func PlanRows(ctx context.Context, s *Store, b Batch) ([]PlannedRow, error) {
	stored, err := s.storedRevisions(ctx, [][]Row{b.Rows}, []uint64{SpanID(b.Span)})
	if err != nil {
		return nil, err
	}
	var res WriteResult
	return plan(b.Rows, stored, &res), nil
}

// InsertPlanned inserts planned rows of span sp, as an interrupted
// WriteBatch would have.
func InsertPlanned(ctx context.Context, s *Store, sp Span, rows []PlannedRow) error {
	return s.insertRows(ctx, sp, SpanID(sp), rows)
}

// MarkPending writes a pending ledger entry for sp, as step 1 of WriteBatch.
func MarkPending(ctx context.Context, s *Store, sp Span) error {
	return s.writeLedger(ctx, sp, statePending, 0, WriteResult{})
}

// InsertPlannedInto is InsertPlanned into another table of the database.
func InsertPlannedInto(ctx context.Context, s *Store, table string, sp Span, rows []PlannedRow) error {
	return s.insertInto(ctx, table, sp, SpanID(sp), rows)
}

// CurrentSQL is the definition of the current revision (currentSQL).
var CurrentSQL = currentSQL

// ByMonths is how insertInto splits rows into INSERTs (byMonths).
var ByMonths = byMonths

// FillCounts runs the statements of migration 0004 that fill the counts
// tables from the raw one.
func FillCounts(ctx context.Context, s *Store) error {
	ms, err := Migrations()
	if err != nil {
		return err
	}
	for _, st := range statements(ms[3].SQL) {
		if strings.Contains(st, "{month}") {
			if err := s.execMigration(ctx, st); err != nil {
				return err
			}
		}
	}
	return nil
}

// MigrateUpTo applies the migrations up to version v.
func MigrateUpTo(ctx context.Context, s *Store, v uint32) error {
	_, err := s.applyMigrations(ctx, v)
	return err
}

// ReadSettings are the ClickHouse settings of a read query under ctx.
var ReadSettings = readSettings
