package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// buildTrucewatch builds the binary under test, as `make build` does.
func buildTrucewatch(ctx context.Context, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/trucewatch")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build ./cmd/trucewatch (run from the repository root): %w", err)
	}
	return nil
}

type runOptions struct {
	bin, brokers, ch   string
	chDir              string
	conn               driver.Conn
	reports, batchSize int
	database, group    string
	cap                time.Duration
	logPath, logLevel  string
	keepDB             bool
	say                func(string, ...any)
}

// ingestResult is one trucewatch run.
type ingestResult struct {
	BatchSize int
	Stored    int64         // reports in the store at the end (sum(sign) FINAL)
	Elapsed   time.Duration // process start .. ledger covers every message
	PeakRSSKB int64         // VmHWM
	CPU       time.Duration // user+system of the ingest process
	CHCPU     time.Duration // user+system of clickhouse-server meanwhile
	Batches   int64         // ledger spans
	Load      string        // load average at the end
	Parts     string        // parts per table in the store at the end (active/all)
	Writes    writeBreakdown
	InZone    map[string]int64 // reports inside each zone (not "possible"), from agg_zone_hour
	InOrNear  map[string]int64 // reports inside or possibly inside each zone
	Lookups   string           // rows the revision lookups read, from system.query_log
}

func (r ingestResult) Rate() float64      { return float64(r.Stored) / r.Elapsed.Seconds() }
func (r ingestResult) PeakRSSMB() float64 { return float64(r.PeakRSSKB) / 1024 }

// PerCPUSecond is reports per second of CPU of the ingest process and
// clickhouse-server together.
func (r ingestResult) PerCPUSecond() float64 { return float64(r.Stored) / (r.CPU + r.CHCPU).Seconds() }

// runTrucewatch runs `trucewatch ingest` as its own process against a fresh
// database and consumer group, and times it until the ledger shows every
// message in a done span: the store (reports, report_revisions, the three
// aggregates) then holds every report, since a span is marked done only
// after its INSERT, MVs included, returned.
func runTrucewatch(ctx context.Context, o runOptions) (ingestResult, error) {
	res := ingestResult{BatchSize: o.batchSize}
	if err := o.conn.Exec(ctx, "DROP DATABASE IF EXISTS "+o.database); err != nil {
		return res, err
	}
	logf, err := os.Create(o.logPath)
	if err != nil {
		return res, err
	}
	defer logf.Close()
	cmd := exec.Command(o.bin, "ingest",
		"--brokers", o.brokers, "--topic", topic, "--clickhouse", o.ch, "--database", o.database,
		"--group", o.group, "--batch-size", strconv.Itoa(o.batchSize),
		"--exit-when-idle", "3s", "--ops-addr", "", "--log-level", o.logLevel)
	// Flags given here win over TRUCEWATCH_* variables, but leave none of
	// them to change what is not given.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TRUCEWATCH_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	chPID := serverPID(o.chDir)
	chCPU0, _ := procCPU(chPID)

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("start %s: %w", o.bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	pid := cmd.Process.Pid
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
		}
	}()

	sample := func() {
		if kb, ok := procStatusKB(pid, "VmHWM"); ok && kb > res.PeakRSSKB {
			res.PeakRSSKB = kb
		}
		if cpu, ok := procCPU(pid); ok {
			res.CPU = cpu
		}
	}
	q := fmt.Sprintf(`SELECT toInt64(sum(last_offset - first_offset + 1)) FROM %s.ledger FINAL WHERE state = 1`, o.database)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(o.cap)
	var covered int64
	lastSay := time.Now()
	exitedEarly := false
poll:
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case err := <-exited:
			// With --exit-when-idle the process stops as soon as its last
			// write returns when it has been idle long enough already (the
			// writes took longer than the idle limit): the exit time is
			// then the end time, give or take the group leave.
			end := time.Since(start)
			if n, qerr := count(ctx, o.conn, q); err == nil && qerr == nil && n >= int64(o.reports) {
				covered, exitedEarly = n, true
				res.Elapsed = end
				break poll
			}
			return res, fmt.Errorf("ingest exited early (%v) after %s with %d of %d messages written; log: %s%s",
				err, end.Round(time.Millisecond), covered, o.reports, o.logPath, tail(o.logPath))
		case <-deadline:
			return res, fmt.Errorf("not done after %s (%d of %d messages); log: %s", o.cap, covered, o.reports, o.logPath)
		case <-tick.C:
		}
		sample()
		if i%3 != 0 { // poll the store every 300 ms, RSS every 100 ms
			continue
		}
		n, err := count(ctx, o.conn, q)
		if err != nil {
			if covered > 0 {
				o.say("  poll: %v", err)
			}
			continue // the database does not exist before the migration
		}
		covered = n
		if os.Getenv("BENCH_DEBUG") != "" {
			o.say("  poll %d after %s", n, time.Since(start))
		}
		if covered >= int64(o.reports) {
			break poll
		}
		if time.Since(lastSay) > 15*time.Second {
			lastSay = time.Now()
			o.say("  %d/%d after %s, RSS peak %.0f MB", covered, o.reports, time.Since(start).Round(time.Second), float64(res.PeakRSSKB)/1024)
		}
	}
	if !exitedEarly {
		res.Elapsed = time.Since(start)
		sample()
	}
	if cpu, ok := procCPU(chPID); ok {
		res.CHCPU = cpu - chCPU0
	}
	res.Load = loadAvg()

	// Let it stop by itself (idle), sampling RSS until then.
	stopBy := time.After(60 * time.Second)
wait:
	for !exitedEarly {
		select {
		case err := <-exited:
			if err != nil {
				return res, fmt.Errorf("ingest exited with %v; log: %s%s", err, o.logPath, tail(o.logPath))
			}
			break wait
		case <-stopBy:
			o.say("  ingest did not exit after idle; terminating it")
			_ = cmd.Process.Signal(syscall.SIGTERM)
			stopBy = nil
		case <-tick.C:
			sample()
		}
	}
	if ps := cmd.ProcessState; ps != nil {
		res.CPU = ps.UserTime() + ps.SystemTime()
	}

	// Check what the store holds, the way storage/doc.go says to count.
	if res.Stored, err = count(ctx, o.conn, fmt.Sprintf(`SELECT toInt64(sum(sign)) FROM %s.reports FINAL`, o.database)); err != nil {
		return res, err
	}
	if res.Batches, err = count(ctx, o.conn, fmt.Sprintf(`SELECT toInt64(count()) FROM %s.ledger FINAL WHERE state = 1`, o.database)); err != nil {
		return res, err
	}
	agg, err := count(ctx, o.conn, fmt.Sprintf(`SELECT toInt64(sum(n_reports)) FROM %s.agg_adm_day FINAL`, o.database))
	if err != nil {
		return res, err
	}
	res.Writes = parseBreakdown(o.logPath)
	res.Lookups = lookupReads(ctx, o.conn, o.database)
	if res.InZone, err = zoneCounts(ctx, o.conn, fmt.Sprintf(`SELECT zone, toInt64(sum(n_reports)) FROM %s.agg_zone_hour FINAL
WHERE possible = 0 GROUP BY zone`, o.database)); err != nil {
		return res, err
	}
	if res.InOrNear, err = zoneCounts(ctx, o.conn, fmt.Sprintf(`SELECT zone, toInt64(sum(n_reports)) FROM %s.agg_zone_hour FINAL
GROUP BY zone`, o.database)); err != nil {
		return res, err
	}
	rows, err := o.conn.Query(ctx, fmt.Sprintf(`SELECT table, toInt64(countIf(active)), toInt64(count()) FROM system.parts
WHERE database = '%s' GROUP BY table ORDER BY table`, o.database))
	if err != nil {
		return res, err
	}
	var parts []string
	for rows.Next() {
		var t string
		var act, all int64
		if err := rows.Scan(&t, &act, &all); err != nil {
			rows.Close()
			return res, err
		}
		parts = append(parts, fmt.Sprintf("%s %d/%d", t, act, all))
	}
	rows.Close()
	res.Parts = strings.Join(parts, ", ")
	if res.Stored != int64(o.reports) || agg != res.Stored {
		return res, fmt.Errorf("store holds %d reports (agg_adm_day: %d), want %d", res.Stored, agg, o.reports)
	}
	if o.keepDB {
		return res, nil
	}
	// Dropping takes minutes after a 1M run (some 11,000 parts to delete
	// at --batch-size 5000); it is not part of the measurement.
	if err := o.conn.Exec(ctx, "DROP DATABASE IF EXISTS "+o.database); err != nil {
		return res, errors.Join(errors.New("drop database"), err)
	}
	return res, nil
}

// tail returns the last lines of a log file, for an error message.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return ""
	}
	if len(b) > 1500 {
		b = b[len(b)-1500:]
	}
	return "\n--- " + path + " ---\n" + strings.TrimSpace(string(b))
}

// lookupReads says how many rows storage's revision lookups read (from
// system.query_log, which the benchmark's profile switches on): whether
// they use report_revisions' primary key or scan it.
func lookupReads(ctx context.Context, conn driver.Conn, db string) string {
	_ = conn.Exec(ctx, "SYSTEM FLUSH LOGS")
	q := fmt.Sprintf(`SELECT toInt64(count()), toInt64(avg(read_rows)), toInt64(max(read_rows)), toInt64(avg(query_duration_ms))
FROM system.query_log
WHERE type = 2 AND query LIKE '%%%s%%.report_revisions%%' AND query LIKE '%%batch_keys%%'`, db)
	var n, avg, mx, ms int64
	for range 20 { // the log is flushed every 7.5 s
		if err := conn.QueryRow(ctx, q).Scan(&n, &avg, &mx, &ms); err != nil {
			return "query_log: " + err.Error()
		}
		if n > 0 {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d revision lookups read %d rows on average, %d at most, %d ms on average", n, avg, mx, ms)
}
