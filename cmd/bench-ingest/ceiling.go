package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"golang.org/x/sync/errgroup"

	"github.com/trucewatch/trucewatch/internal/synth"
)

// The ceiling: ClickHouse alone taking the same reports, already decoded
// and matched, by native INSERTs of ceilingBatch rows from two writers into
// a plain MergeTree shaped like the engine's target table (no
// materialized views, no revision lookups, no ledger, no Kafka). No
// pipeline that stores every report as a row on this server can beat it,
// so it tells whether a target is reachable at all.
const (
	ceilingDB    = "ceiling_bench"
	ceilingBatch = 20000
)

type ceilingResult struct {
	Rows    int
	Elapsed time.Duration
	CHCPU   time.Duration
}

func (r ceilingResult) Rate() float64 { return float64(r.Rows) / r.Elapsed.Seconds() }

// CPUMicros is ClickHouse's CPU per row.
func (r ceilingResult) CPUMicros() float64 {
	return float64(r.CHCPU.Microseconds()) / float64(r.Rows)
}

func runCeiling(ctx context.Context, conn driver.Conn, chDir string, n, days int) (ceilingResult, error) {
	var res ceilingResult
	target, _, _ := engineSQL(engineOptions{}, nil)
	for _, q := range []string{
		"DROP DATABASE IF EXISTS " + ceilingDB,
		"CREATE DATABASE " + ceilingDB,
		strings.Replace(target, engineDB+".", ceilingDB+".", 1),
	} {
		if err := conn.Exec(ctx, q); err != nil {
			return res, fmt.Errorf("ceiling: %s: %w", q, err)
		}
	}
	defer conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+ceilingDB)

	// The rows, built before the clock starts.
	type row struct {
		id, partner        string
		revision           uint32
		observed           time.Time
		lat, lon, accuracy float64
		category           string
		killed, injured    uint32
		description        string
		sources, zones     []string
	}
	feed := synth.New(feedOptions(days))
	rows := make([]row, n)
	for i := range rows {
		r := feed.Next().Report
		rows[i] = row{r.ID, r.PartnerID, r.Revision, r.ObservedAt, r.Lat, r.Lon, r.AccuracyM, string(r.Category),
			r.Killed, r.Injured, r.Description, append([]string{}, r.Sources...), []string{}}
	}
	pid := serverPID(chDir)
	cpu0, _ := procCPU(pid)
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(2)
	for lo := 0; lo < n; lo += ceilingBatch {
		batch := rows[lo:min(lo+ceilingBatch, n)]
		g.Go(func() error {
			b, err := conn.PrepareBatch(gctx, "INSERT INTO "+ceilingDB+`.reports (id, partner_id, revision, observed_at,
    lat, lon, accuracy_m, category, killed, injured, description, sources, zones)`)
			if err != nil {
				return err
			}
			for _, r := range batch {
				if err := b.Append(r.id, r.partner, r.revision, r.observed, r.lat, r.lon, r.accuracy, r.category,
					r.killed, r.injured, r.description, r.sources, r.zones); err != nil {
					b.Abort()
					return err
				}
			}
			return b.Send()
		})
	}
	if err := g.Wait(); err != nil {
		return res, fmt.Errorf("ceiling: insert: %w", err)
	}
	res.Elapsed = time.Since(start)
	cpu1, _ := procCPU(pid)
	res.CHCPU = cpu1 - cpu0
	got, err := count(ctx, conn, "SELECT toInt64(count()) FROM "+ceilingDB+".reports")
	if err != nil {
		return res, err
	}
	if got != int64(n) {
		return res, fmt.Errorf("ceiling: %d rows stored, want %d", got, n)
	}
	res.Rows = n
	return res, nil
}
