package storage

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Reading the ReplacingMergeTree tables with FINAL folds the identical rows
// a redone Kafka span writes, but ClickHouse 18.16 runs FINAL as one
// merging stream over every part read: on 10 million reports it makes a
// query six times slower. Duplicates can only sit in different parts (the
// materialized views group each INSERT block by the table's full key, so
// one part never holds a key twice), so a partition made of a single part
// needs no FINAL. Queries are therefore split by month partition: the
// months whose partition has one active part are read without FINAL, the
// others (typically the current month, still taking inserts) with it, and
// the partial aggregates are summed. Newer ClickHouse releases do the same
// by themselves (do_not_merge_across_partitions_select_final).
//
// The part counts come from system.parts and are refreshed at most every
// partsTTL. A part added to a single-part partition between that check and
// the query can only be a problem if it repeats a span already in the
// other part (a redo): for at most partsTTL that span would count twice.

const partsTTL = time.Second

// segment is a time range inside one run of months that are all read with
// FINAL or all without.
type segment struct {
	from, to time.Time
	final    bool
}

type partsCache struct {
	mu      sync.Mutex
	fetched time.Time
	counts  map[string]map[string]uint64 // table -> partition (YYYYMM) -> active parts
	blocks  map[string]map[string]uint64 // table -> partition -> highest block number
}

// partCounts returns the number of active parts per partition of each
// table, from system.parts, refreshed at most every partsTTL.
func (s *Store) partCounts(ctx context.Context) (map[string]map[string]uint64, error) {
	counts, _, err := s.partsAfter(ctx, time.Time{})
	return counts, err
}

// partsAfter returns partCounts and the highest block number of each
// partition, from a snapshot of system.parts taken after notBefore (and
// at most partsTTL old).
func (s *Store) partsAfter(ctx context.Context, notBefore time.Time) (counts, blocks map[string]map[string]uint64, err error) {
	pc := &s.parts
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if time.Since(pc.fetched) < partsTTL && pc.fetched.After(notBefore) && pc.counts != nil {
		return pc.counts, pc.blocks, nil
	}
	start := time.Now()
	rows, err := s.conn.Query(ctx, `SELECT table, partition, count(), max(max_block_number) FROM system.parts
WHERE database = ? AND active AND table IN ('reports', 'counts_tile_day', 'counts_adm_day', 'counts_zone_hour',
    'incident_counts_tile_day', 'incident_counts_adm_day', 'incident_counts_zone_hour')
GROUP BY table, partition`, s.db)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	counts, blocks = map[string]map[string]uint64{}, map[string]map[string]uint64{}
	for rows.Next() {
		var table, part string
		var n uint64
		var block int64
		if err := rows.Scan(&table, &part, &n, &block); err != nil {
			return nil, nil, err
		}
		if counts[table] == nil {
			counts[table], blocks[table] = map[string]uint64{}, map[string]uint64{}
		}
		counts[table][part], blocks[table][part] = n, uint64(block)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	// The snapshot's time is when its query began: every write that
	// returned before then is in it.
	pc.counts, pc.blocks, pc.fetched = counts, blocks, start
	return counts, blocks, nil
}

// DataVersion names the state of table's partitions overlapping
// [from, to) in a snapshot of system.parts taken after notBefore: the
// partitions and the highest block number of each. Every INSERT into a
// partition raises its block number and merges keep it, so an unchanged
// version means unchanged data there: a cached answer over that range
// needs no query again (serve's pieces).
func (s *Store) DataVersion(ctx context.Context, table string, from, to, notBefore time.Time) (string, error) {
	_, blocks, err := s.partsAfter(ctx, notBefore)
	if err != nil {
		return "", fmt.Errorf("storage: data version: %w", readErr(err))
	}
	var b strings.Builder
	for _, p := range partitionsOf(table, from, to) {
		if n, ok := blocks[table][p]; ok {
			fmt.Fprintf(&b, "%s:%d;", p, n)
		}
	}
	return b.String(), nil
}

// yearlyTables are partitioned by toYear of their time column, the
// others by toYYYYMM (migration 0008 says why).
var yearlyTables = map[string]bool{incTileTable: true, incAdmTable: true, incZoneTable: true}

// partitionsOf lists the partition ids of table overlapping [from, to).
func partitionsOf(table string, from, to time.Time) []string {
	first, months, id := partitionStep(table, from)
	var out []string
	for m := first; m.Before(to); m = m.AddDate(0, months, 0) {
		out = append(out, m.Format(id))
	}
	return out
}

// partitionStep is the first partition of table holding from, its length
// in months and the layout of its id.
func partitionStep(table string, from time.Time) (time.Time, int, string) {
	if yearlyTables[table] {
		return time.Date(from.Year(), 1, 1, 0, 0, 0, 0, time.UTC), 12, "2006"
	}
	return time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, time.UTC), 1, "200601"
}

// segments splits [from, to) by partition (month, or year for
// yearlyTables) and says which runs of partitions need FINAL. If the part
// counts cannot be read, everything is read with FINAL.
func (s *Store) segments(ctx context.Context, table string, from, to time.Time) []segment {
	counts, err := s.partCounts(ctx)
	if err != nil {
		return []segment{{from: from, to: to, final: true}}
	}
	first, months, id := partitionStep(table, from)
	var segs []segment
	for m := first; m.Before(to); m = m.AddDate(0, months, 0) {
		lo, hi := m, m.AddDate(0, months, 0)
		if lo.Before(from) {
			lo = from
		}
		if hi.After(to) {
			hi = to
		}
		final := counts[table][m.Format(id)] > 1
		if n := len(segs); n > 0 && segs[n-1].final == final && segs[n-1].to.Equal(lo) {
			segs[n-1].to = hi
			continue
		}
		segs = append(segs, segment{from: lo, to: hi, final: final})
	}
	return segs
}

// unionSQL builds `SELECT outer FROM (branch UNION ALL branch ...) rest`,
// one branch per segment; branch returns the SQL and arguments of one
// segment's query given " FINAL" or "".
func unionSQL(outer, rest string, segs []segment, branch func(seg segment, final string) (string, []any)) (string, []any) {
	var b strings.Builder
	var args []any
	fmt.Fprintf(&b, "SELECT %s FROM (\n", outer)
	for i, seg := range segs {
		if i > 0 {
			b.WriteString("\nUNION ALL\n")
		}
		final := ""
		if seg.final {
			final = " FINAL"
		}
		q, a := branch(seg, final)
		b.WriteString(q)
		args = append(args, a...)
	}
	b.WriteString("\n)\n")
	b.WriteString(rest)
	return b.String(), args
}

// dateUTC returns midnight UTC of a Date scanned in any location.
func dateUTC(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
