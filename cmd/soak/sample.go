package main

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// sampler reads one sample every call and keeps what the summary needs.
type sampler struct {
	d       *demo
	conn    driver.Conn
	start   time.Time
	prev    metrics
	samples []sample
}

type sample struct {
	at                     time.Duration
	stored                 int64 // reports stored (new reports, corrections excluded)
	active, inactive, dirs int   // parts of the database: active, inactive in system.parts, directories on disk
	maxPartition           int   // most active parts in one partition
	maxPartitionOf         string
	files                  int64
	bytes                  int64
	merges                 int
	mergeParts             int
	inserts                float64 // batches written in the interval
	latMean, latP99        float64 // seconds, over the interval
	lag                    int64
	tables                 map[string][3]int // active, all (system.parts), directories
}

func newSampler(ctx context.Context, d *demo) (*sampler, error) {
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{d.chAddr}, DialTimeout: 10 * time.Second})
	if err != nil {
		return nil, err
	}
	if err := conn.Ping(ctx); err != nil {
		return nil, fmt.Errorf("clickhouse %s: %w", d.chAddr, err)
	}
	return &sampler{d: d, conn: conn, start: time.Now()}, nil
}

func (s *sampler) close() { s.conn.Close() }

func (s *sampler) header() {
	fmt.Printf("| time | stored | parts active / in system.parts / dirs on disk | most active in a partition | files | bytes on disk (du) | bytes per report | merges (parts) | INSERTs | insert mean / p99 | lag |\n")
	fmt.Printf("|---:|---:|---|---:|---:|---:|---:|---|---:|---|---:|\n")
}

func (s *sampler) sample(ctx context.Context) error {
	var x sample
	x.at = time.Since(s.start).Round(time.Second)
	m, err := readMetrics(ctx, s.d.metricsURL)
	if err != nil {
		return err
	}
	x.stored = int64(m.get("trucewatch_ingest_inserted_total") - m.get("trucewatch_ingest_revisions_total"))
	x.lag = int64(m.sum("trucewatch_ingest_lag_messages"))
	n := m.get("trucewatch_ingest_insert_seconds_count") - s.prev.get("trucewatch_ingest_insert_seconds_count")
	x.inserts = n
	if n > 0 {
		x.latMean = (m.get("trucewatch_ingest_insert_seconds_sum") - s.prev.get("trucewatch_ingest_insert_seconds_sum")) / n
		x.latP99 = m.quantile(s.prev, "trucewatch_ingest_insert_seconds", 0.99)
	}
	s.prev = m
	if err := s.parts(ctx, &x); err != nil {
		return err
	}
	var merges, mergeParts int64
	if err := s.conn.QueryRow(ctx, `SELECT toInt64(count()), toInt64(sum(num_parts)) FROM system.merges WHERE database = ?`, s.d.database).
		Scan(&merges, &mergeParts); err != nil {
		return fmt.Errorf("system.merges: %w", err)
	}
	x.merges, x.mergeParts = int(merges), int(mergeParts)
	x.files, x.bytes = du(s.d.chDir)
	s.samples = append(s.samples, x)
	bpr := "-"
	if x.stored > 0 {
		bpr = strconv.FormatInt(x.bytes/x.stored, 10)
	}
	fmt.Printf("| %s | %d | %d / %d / %d | %d (%s) | %d | %s | %s | %d (%d) | %.0f | %.2f / %.2f s | %d |\n",
		x.at, x.stored, x.active, x.active+x.inactive, x.dirs, x.maxPartition, x.maxPartitionOf, x.files, mb(x.bytes), bpr,
		x.merges, x.mergeParts, x.inserts, x.latMean, x.latP99, x.lag)
	return nil
}

// parts counts the database's parts per table from system.parts (active
// and inactive) and as directories on disk, and finds the partition with
// the most active parts.
func (s *sampler) parts(ctx context.Context, x *sample) error {
	rows, err := s.conn.Query(ctx, `SELECT table, toInt64(countIf(active)), toInt64(count()) FROM system.parts WHERE database = ? GROUP BY table`, s.d.database)
	if err != nil {
		return fmt.Errorf("system.parts: %w", err)
	}
	x.tables = map[string][3]int{}
	for rows.Next() {
		var t string
		var a, all int64
		if err := rows.Scan(&t, &a, &all); err != nil {
			rows.Close()
			return err
		}
		x.tables[t] = [3]int{int(a), int(all), 0}
		x.active += int(a)
		x.inactive += int(all - a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	var most int64
	var table, partition string
	err = s.conn.QueryRow(ctx, `SELECT table, partition, toInt64(count()) AS n FROM system.parts
WHERE database = ? AND active GROUP BY table, partition ORDER BY n DESC LIMIT 1`, s.d.database).Scan(&table, &partition, &most)
	if err == nil {
		x.maxPartition, x.maxPartitionOf = int(most), table+" "+partition
	}
	// Part directories on disk, inactive ones included: what a restart
	// loads and what the file count is made of.
	base := filepath.Join(s.d.chDir, "data", s.d.database)
	tables, _ := os.ReadDir(base)
	for _, t := range tables {
		if !t.IsDir() {
			continue
		}
		ents, _ := os.ReadDir(filepath.Join(base, t.Name()))
		n := 0
		for _, e := range ents {
			if e.IsDir() && e.Name() != "detached" && !strings.HasPrefix(e.Name(), "tmp") {
				n++
			}
		}
		v := x.tables[t.Name()]
		v[2] = n
		x.tables[t.Name()] = v
		x.dirs += n
	}
	return nil
}

// du counts the files under dir and the bytes they take on disk
// (allocated blocks, as du does: a part's small files take a block each).
func du(dir string) (files, bytes int64) {
	filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return nil
		}
		if fi, err := e.Info(); err == nil {
			files++
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				bytes += st.Blocks * 512
			} else {
				bytes += fi.Size()
			}
		}
		return nil
	})
	return files, bytes
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }

// report prints the run's maxima against the targets and says whether all
// were met.
func (s *sampler) report() bool {
	if len(s.samples) == 0 {
		fmt.Println("no samples")
		return false
	}
	var maxDisk, maxPart, maxBPR int64
	var maxBytes int64
	var maxLagFirst, maxLagSecond int64
	last := s.samples[len(s.samples)-1]
	for i, x := range s.samples {
		disk := int64(max(x.dirs, x.active+x.inactive))
		maxDisk = max(maxDisk, disk)
		maxPart = max(maxPart, int64(x.maxPartition))
		maxBytes = max(maxBytes, x.bytes)
		if x.stored > 0 {
			maxBPR = max(maxBPR, x.bytes/x.stored)
		}
		if i < len(s.samples)/2 {
			maxLagFirst = max(maxLagFirst, x.lag)
		} else {
			maxLagSecond = max(maxLagSecond, x.lag)
		}
	}
	fmt.Printf("\nparts per table at the end (active / in system.parts / dirs on disk):")
	names := make([]string, 0, len(last.tables))
	for t := range last.tables {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, t := range names {
		v := last.tables[t]
		fmt.Printf(" %s %d/%d/%d", t, v[0], v[1], v[2])
	}
	fmt.Println()
	// Lag is bounded when the second half's peak is no higher than the
	// first half's, give or take one interval's worth of feed.
	slack := int64(1)
	if n := len(s.samples); n > 1 {
		slack = int64(float64(last.stored) / float64(n))
	}
	ok := true
	check := func(name string, met bool, got string) {
		verdict := "met"
		if !met {
			verdict, ok = "MISSED", false
		}
		fmt.Printf("| %s | %s | %s |\n", name, got, verdict)
	}
	fmt.Printf("\n| target (every sample) | worst sample | |\n|---|---:|---|\n")
	check(fmt.Sprintf("<= %d parts of the database on disk", maxDiskParts), maxDisk <= maxDiskParts, strconv.FormatInt(maxDisk, 10))
	check(fmt.Sprintf("< %d bytes per stored report", maxBytesPerReport), maxBPR < maxBytesPerReport,
		fmt.Sprintf("%d (peak %s, %d reports at the end)", maxBPR, mb(maxBytes), last.stored))
	check(fmt.Sprintf("<= %d active parts in any partition", maxPartitionParts), maxPart <= maxPartitionParts, strconv.FormatInt(maxPart, 10))
	check("lag bounded (second half's peak <= first half's + one interval of feed)", maxLagSecond <= maxLagFirst+slack,
		fmt.Sprintf("peak %d in the first half, %d in the second, %d at the end", maxLagFirst, maxLagSecond, last.lag))
	return ok
}

// metrics is one scrape of the worker's Prometheus endpoint: series (name
// with labels) -> value.
type metrics map[string]float64

func readMetrics(ctx context.Context, url string) (metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	defer resp.Body.Close()
	m := metrics{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		m[line[:i]] = v
	}
	return m, sc.Err()
}

func (m metrics) get(name string) float64 { return m[name] }

// sum adds every series of name, whatever its labels.
func (m metrics) sum(name string) float64 {
	var t float64
	for k, v := range m {
		if k == name || strings.HasPrefix(k, name+"{") {
			t += v
		}
	}
	return t
}

// quantile estimates the q quantile of histogram name over the interval
// since prev: the upper bound of the first bucket holding it.
func (m metrics) quantile(prev metrics, name string, q float64) float64 {
	type bucket struct{ le, n float64 }
	var bs []bucket
	for k, v := range m {
		if !strings.HasPrefix(k, name+"_bucket{le=\"") {
			continue
		}
		le := strings.TrimSuffix(strings.TrimPrefix(k, name+"_bucket{le=\""), "\"}")
		f, err := strconv.ParseFloat(le, 64)
		if err != nil {
			f = math.Inf(1)
		}
		bs = append(bs, bucket{f, v - prev[k]})
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
	if len(bs) == 0 || bs[len(bs)-1].n == 0 {
		return 0
	}
	total := bs[len(bs)-1].n
	for _, b := range bs {
		if b.n >= q*total {
			return b.le
		}
	}
	return math.Inf(1)
}
