package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

const (
	engineDB    = "engine_bench"
	engineGroup = "ch-bench"
)

// writeServerConfig adds to chserver's generated configuration, through
// the config.d and users.d directories clickhouse-server merges: librdkafka
// settings for the Kafka engine, and the default profile's settings the
// engine's consumers run with (the JSON has nested objects the target does
// not keep; the flush interval bounds how long a block waits).
func writeServerConfig(dir string, flush time.Duration) error {
	for _, sub := range []string{"config.d", "users.d"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return err
		}
	}
	kafka := `<?xml version="1.0"?>
<!-- bench-ingest: librdkafka settings of the Kafka table engine -->
<yandex>
    <logger><level>information</level></logger>
    <kafka>
        <auto_offset_reset>smallest</auto_offset_reset>
    </kafka>
</yandex>
`
	users := fmt.Sprintf(`<?xml version="1.0"?>
<!-- bench-ingest: settings of the Kafka table engine's consumers -->
<yandex>
    <profiles>
        <default>
            <input_format_skip_unknown_fields>1</input_format_skip_unknown_fields>
            <log_queries>1</log_queries>
            <stream_flush_interval_ms>%d</stream_flush_interval_ms>
        </default>
    </profiles>
</yandex>
`, flush.Milliseconds())
	if err := os.WriteFile(filepath.Join(dir, "config.d", "kafka.xml"), []byte(kafka), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "users.d", "bench.xml"), []byte(users), 0o644)
}

type engineOptions struct {
	conn               driver.Conn
	chDir, brokers     string
	reports, consumers int
	blockSize          int
	flush              time.Duration
	simplify           float64
	maxPoints          int
	cap                time.Duration
	say                func(string, ...any)
}

// engineResult is the Kafka engine run.
type engineResult struct {
	Rows      int64         // rows in the target when the run ended
	Elapsed   time.Duration // CREATE MATERIALIZED VIEW .. all rows (or the cap)
	Capped    bool          // stopped by the cap before all rows arrived
	CreateMV  time.Duration // how long CREATE MATERIALIZED VIEW took (query analysis)
	QueryKB   int           // size of the MV's SELECT
	Polys     polygonStats
	CHCPU     time.Duration // clickhouse-server CPU during the run
	Load      string
	Consumers int
	InZone    map[string]int64 // rows per zone, a sanity check
	Failure   string           // why the engine consumed nothing, with log lines
}

func (r engineResult) Rate() float64 { return float64(r.Rows) / r.Elapsed.Seconds() }

// RateConsuming leaves out CREATE MATERIALIZED VIEW (the analysis of the
// polygons): the engine's best case, the figure the ratio uses.
func (r engineResult) RateConsuming() float64 {
	return float64(r.Rows) / (r.Elapsed - r.CreateMV).Seconds()
}

// PerCPUSecond is rows per second of clickhouse-server CPU, a figure less
// sensitive than wall time to other load on the machine.
func (r engineResult) PerCPUSecond() float64 { return float64(r.Rows) / r.CHCPU.Seconds() }

// engineSQL returns the statements: target table, Kafka table, and the
// materialized view that moves rows from one to the other, matching the
// zones.
func engineSQL(o engineOptions, zones []engineZone) (target, queue, mv string) {
	target = `CREATE TABLE ` + engineDB + `.reports (
    id String, partner_id String, revision UInt32, observed_at DateTime, lat Float64, lon Float64,
    accuracy_m Float64, category String, killed UInt32, injured UInt32, description String,
    sources Array(String), zones Array(String)
) ENGINE = MergeTree PARTITION BY toYYYYMM(observed_at) ORDER BY (toDate(observed_at), partner_id, id)`
	queue = fmt.Sprintf(`CREATE TABLE %s.queue (
    id String, partner_id String, revision UInt32, observed_at String, lat Float64, lon Float64,
    accuracy_m Float64, category String, killed UInt32, injured UInt32, description String,
    sources Array(String)
) ENGINE = Kafka SETTINGS
    kafka_broker_list = '%s', kafka_topic_list = '%s', kafka_group_name = '%s',
    kafka_format = 'JSONEachRow', kafka_num_consumers = %d, kafka_max_block_size = %d`, engineDB, o.brokers, topic, engineGroup, o.consumers, o.blockSize)
	// No subquery: 18.16 fails to push Kafka blocks through a view with
	// one ("There is no query"). The alias shadows the String column, so
	// the zone conditions compare the parsed time.
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE MATERIALIZED VIEW %s.mv TO %s.reports AS\nSELECT id, partner_id, revision, parseDateTimeBestEffort(observed_at) AS observed_at, ", engineDB, engineDB)
	b.WriteString("lat, lon, accuracy_m, category, killed, injured, description, sources,\n")
	b.WriteString("    arrayFilter(z -> z != '', [\n")
	for i, z := range zones {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, "        if(%s, '%s', '')", zoneExpr(z, "lon", "lat", "observed_at"), z.ID)
	}
	fmt.Fprintf(&b, "\n    ]) AS zones\nFROM %s.queue", engineDB)
	return target, queue, b.String()
}

// runEngine measures ClickHouse's Kafka engine on the same topic.
func runEngine(ctx context.Context, o engineOptions) (engineResult, error) {
	res := engineResult{Consumers: o.consumers, InZone: map[string]int64{}}
	mv, err := createEngineTables(ctx, o, &res)
	if err != nil {
		return res, err
	}
	chPID := serverPID(o.chDir)
	cpu0, _ := procCPU(chPID)
	logMark := logSize(o.chDir)

	start := time.Now()
	if err := o.conn.Exec(ctx, mv); err != nil {
		return res, fmt.Errorf("create materialized view: %w", err)
	}
	res.CreateMV = time.Since(start)
	o.say("  materialized view created in %s; consuming", res.CreateMV.Round(time.Millisecond))
	if err := waitEngineRows(ctx, o, start, logMark, &res); err != nil {
		return res, err
	}
	res.Elapsed = time.Since(start)
	if cpu, ok := procCPU(chPID); ok {
		res.CHCPU = cpu - cpu0
	}
	res.Load = loadAvg()
	// Stop the consumers before anything else runs.
	for _, q := range []string{"DROP TABLE IF EXISTS " + engineDB + ".mv", "DROP TABLE IF EXISTS " + engineDB + ".queue"} {
		if err := o.conn.Exec(ctx, q); err != nil {
			o.say("  %s: %v", q, err)
		}
	}
	if res.InZone, err = zoneCounts(ctx, o.conn, "SELECT z, toInt64(count()) FROM "+engineDB+".reports ARRAY JOIN zones AS z GROUP BY z"); err != nil {
		return res, err
	}
	if res.Failure == "" && res.Rows == 0 {
		res.Failure = "no rows" + kafkaLogLines(o.chDir, logMark)
	}
	return res, nil
}

// createEngineTables makes the engine's zones, creates its database, target
// and Kafka tables, and returns the CREATE MATERIALIZED VIEW that starts
// the consumers.
func createEngineTables(ctx context.Context, o engineOptions, res *engineResult) (mv string, err error) {
	zones, st, err := engineZones(o.simplify)
	if err != nil {
		return "", err
	}
	res.Polys = st
	if o.maxPoints > 0 && st.Points > o.maxPoints {
		return "", fmt.Errorf("zone polygons have %d points after simplification (threshold %g), more than %d", st.Points, o.simplify, o.maxPoints)
	}
	target, queue, mv := engineSQL(o, zones)
	res.QueryKB = len(mv) / 1024
	if o.simplify > 0 {
		o.say("  zones: %d zones, %d polygons, %d points (simplified from %d, Douglas-Peucker %g°), MV query %d KB",
			st.Zones, st.Polygons, st.Points, st.FullPoints, st.Threshold, res.QueryKB)
	} else {
		o.say("  zones: %d zones, %d polygons, %d points (full resolution), MV query %d KB", st.Zones, st.Polygons, st.Points, res.QueryKB)
	}
	for _, q := range []string{"DROP DATABASE IF EXISTS " + engineDB, "CREATE DATABASE " + engineDB, target, queue} {
		if err := o.conn.Exec(ctx, q); err != nil {
			return "", fmt.Errorf("%.60s: %w", q, err)
		}
	}
	return mv, nil
}

// waitEngineRows polls the target table until it holds every report, the
// cap passes (res.Capped), or two minutes pass without a row (res.Failure).
func waitEngineRows(ctx context.Context, o engineOptions, start time.Time, logMark int64, res *engineResult) error {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(o.cap)
	lastSay := time.Now()
	q := "SELECT toInt64(count()) FROM " + engineDB + ".reports"
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			res.Capped = true
			return nil
		case <-tick.C:
		}
		n, err := count(ctx, o.conn, q)
		if err != nil {
			return err
		}
		res.Rows = n
		if n >= int64(o.reports) {
			return nil
		}
		if time.Since(lastSay) > 15*time.Second {
			lastSay = time.Now()
			o.say("  %d/%d after %s", n, o.reports, time.Since(start).Round(time.Second))
			if n == 0 && time.Since(start) > 2*time.Minute {
				res.Failure = "no rows after 2 minutes" + kafkaLogLines(o.chDir, logMark)
				return nil
			}
		}
	}
}

// zoneCounts runs a query returning (zone, count) rows.
func zoneCounts(ctx context.Context, conn driver.Conn, q string) (map[string]int64, error) {
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var z string
		var n int64
		if err := rows.Scan(&z, &n); err != nil {
			return nil, err
		}
		out[z] = n
	}
	return out, rows.Err()
}

func logSize(dir string) int64 {
	fi, err := os.Stat(filepath.Join(dir, "log", "clickhouse-server.log"))
	if err != nil {
		return 0
	}
	return fi.Size()
}

// kafkaLogLines returns the server log lines about Kafka written since
// offset from, as evidence when the engine consumed nothing.
func kafkaLogLines(dir string, from int64) string {
	b, err := os.ReadFile(filepath.Join(dir, "log", "clickhouse-server.log"))
	if err != nil {
		return ": " + err.Error()
	}
	if from < int64(len(b)) {
		b = b[from:]
	}
	var out []string
	for _, l := range bytes.Split(b, []byte("\n")) {
		if bytes.Contains(bytes.ToLower(l), []byte("kafka")) {
			out = append(out, string(l))
		}
	}
	if len(out) > 20 {
		out = out[len(out)-20:]
	}
	if len(out) == 0 {
		return errors.New("; no Kafka lines in the server log").Error()
	}
	return "; server log:\n" + strings.Join(out, "\n")
}
