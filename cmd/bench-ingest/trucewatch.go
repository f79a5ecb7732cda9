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
	InZone    map[string]int64 // reports inside each zone (not "possible"), from counts_zone_hour
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
// message in a done span: the store (reports, revisions, the three
// aggregates) then holds every report, since a span is marked done only
// after its INSERT, MVs included, returned.
func runTrucewatch(ctx context.Context, o runOptions) (ingestResult, error) {
	run := &ingestRun{o: o, res: ingestResult{BatchSize: o.batchSize}}
	if err := o.conn.Exec(ctx, "DROP DATABASE IF EXISTS "+o.database); err != nil {
		return run.res, err
	}
	logf, err := os.Create(o.logPath)
	if err != nil {
		return run.res, err
	}
	defer logf.Close()
	chPID := serverPID(o.chDir)
	chCPU0, _ := procCPU(chPID)
	if err := run.start(logf); err != nil {
		return run.res, err
	}
	defer run.stop()
	run.tick = time.NewTicker(100 * time.Millisecond)
	defer run.tick.Stop()
	if err := run.waitStored(ctx); err != nil {
		return run.res, err
	}
	if cpu, ok := procCPU(chPID); ok {
		run.res.CHCPU = cpu - chCPU0
	}
	run.res.Load = loadAvg()
	if err := run.waitExit(); err != nil {
		return run.res, err
	}
	if err := checkStore(ctx, o, &run.res); err != nil {
		return run.res, err
	}
	if o.keepDB {
		return run.res, nil
	}
	// Dropping takes minutes after a 1M run (some 11,000 parts to delete
	// at --batch-size 5000); it is not part of the measurement.
	if err := o.conn.Exec(ctx, "DROP DATABASE IF EXISTS "+o.database); err != nil {
		return run.res, errors.Join(errors.New("drop database"), err)
	}
	return run.res, nil
}

// ingestRun is one `trucewatch ingest` process being measured.
type ingestRun struct {
	o      runOptions
	res    ingestResult
	cmd    *exec.Cmd
	exited chan error // the process's exit, once
	begin  time.Time  // when the process started
	tick   *time.Ticker
	early  bool // the process exited before the poll saw every message stored
}

// start starts the process, its output to logf.
func (run *ingestRun) start(logf *os.File) error {
	o := run.o
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
	run.begin = time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", o.bin, err)
	}
	run.cmd = cmd
	run.exited = make(chan error, 1)
	go func() { run.exited <- cmd.Wait() }()
	return nil
}

// stop terminates the process if it is still running.
func (run *ingestRun) stop() {
	if run.cmd.ProcessState != nil {
		return
	}
	_ = run.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-run.exited:
	case <-time.After(30 * time.Second):
		_ = run.cmd.Process.Kill()
		<-run.exited
	}
}

// sample records the process's peak RSS and CPU so far.
func (run *ingestRun) sample() {
	pid := run.cmd.Process.Pid
	if kb, ok := procStatusKB(pid, "VmHWM"); ok && kb > run.res.PeakRSSKB {
		run.res.PeakRSSKB = kb
	}
	if cpu, ok := procCPU(pid); ok {
		run.res.CPU = cpu
	}
}

// waitStored polls the ledger until it covers every message and sets
// res.Elapsed.
func (run *ingestRun) waitStored(ctx context.Context) error {
	o := run.o
	q := fmt.Sprintf(`SELECT toInt64(sum(last_offset - first_offset + 1)) FROM %s.ledger FINAL WHERE state = 1`, o.database)
	deadline := time.After(o.cap)
	var covered int64
	lastSay := time.Now()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-run.exited:
			// With --exit-when-idle the process stops as soon as its last
			// write returns when it has been idle long enough already (the
			// writes took longer than the idle limit): the exit time is
			// then the end time, give or take the group leave.
			end := time.Since(run.begin)
			if n, qerr := count(ctx, o.conn, q); err == nil && qerr == nil && n >= int64(o.reports) {
				run.early = true
				run.res.Elapsed = end
				return nil
			}
			return fmt.Errorf("ingest exited early (%v) after %s with %d of %d messages written; log: %s%s",
				err, end.Round(time.Millisecond), covered, o.reports, o.logPath, tail(o.logPath))
		case <-deadline:
			return fmt.Errorf("not done after %s (%d of %d messages); log: %s", o.cap, covered, o.reports, o.logPath)
		case <-run.tick.C:
		}
		run.sample()
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
			o.say("  poll %d after %s", n, time.Since(run.begin))
		}
		if covered >= int64(o.reports) {
			run.res.Elapsed = time.Since(run.begin)
			run.sample()
			return nil
		}
		if time.Since(lastSay) > 15*time.Second {
			lastSay = time.Now()
			o.say("  %d/%d after %s, RSS peak %.0f MB", covered, o.reports, time.Since(run.begin).Round(time.Second), float64(run.res.PeakRSSKB)/1024)
		}
	}
}

// waitExit lets the process stop by itself (idle), sampling RSS until
// then, and records its CPU.
func (run *ingestRun) waitExit() error {
	stopBy := time.After(60 * time.Second)
wait:
	for !run.early {
		select {
		case err := <-run.exited:
			if err != nil {
				return fmt.Errorf("ingest exited with %v; log: %s%s", err, run.o.logPath, tail(run.o.logPath))
			}
			break wait
		case <-stopBy:
			run.o.say("  ingest did not exit after idle; terminating it")
			_ = run.cmd.Process.Signal(syscall.SIGTERM)
			stopBy = nil
		case <-run.tick.C:
			run.sample()
		}
	}
	if ps := run.cmd.ProcessState; ps != nil {
		run.res.CPU = ps.UserTime() + ps.SystemTime()
	}
	return nil
}

// checkStore fills in what the store holds at the end, the way
// storage/doc.go says to count, and checks that it holds every report.
func checkStore(ctx context.Context, o runOptions, res *ingestResult) error {
	var err error
	if res.Stored, err = count(ctx, o.conn, fmt.Sprintf(`SELECT toInt64(sum(sign)) FROM %s.reports FINAL`, o.database)); err != nil {
		return err
	}
	if res.Batches, err = count(ctx, o.conn, fmt.Sprintf(`SELECT toInt64(count()) FROM %s.ledger FINAL WHERE state = 1`, o.database)); err != nil {
		return err
	}
	agg, err := count(ctx, o.conn, fmt.Sprintf(`SELECT toInt64(sum(n_reports)) FROM %s.counts_adm_day FINAL`, o.database))
	if err != nil {
		return err
	}
	res.Writes = parseBreakdown(o.logPath)
	res.Lookups = lookupReads(ctx, o.conn, o.database)
	if res.InZone, err = zoneCounts(ctx, o.conn, fmt.Sprintf(`SELECT zone, toInt64(sum(n_reports)) FROM %s.counts_zone_hour FINAL
WHERE possible = 0 GROUP BY zone`, o.database)); err != nil {
		return err
	}
	if res.InOrNear, err = zoneCounts(ctx, o.conn, fmt.Sprintf(`SELECT zone, toInt64(sum(n_reports)) FROM %s.counts_zone_hour FINAL
GROUP BY zone`, o.database)); err != nil {
		return err
	}
	if res.Parts, err = tableParts(ctx, o.conn, o.database); err != nil {
		return err
	}
	if res.Stored != int64(o.reports) || agg != res.Stored {
		return fmt.Errorf("store holds %d reports (counts_adm_day: %d), want %d", res.Stored, agg, o.reports)
	}
	return nil
}

// tableParts lists the active and all parts of each table of db.
func tableParts(ctx context.Context, conn driver.Conn, db string) (string, error) {
	rows, err := conn.Query(ctx, fmt.Sprintf(`SELECT table, toInt64(countIf(active)), toInt64(count()) FROM system.parts
WHERE database = '%s' GROUP BY table ORDER BY table`, db))
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var parts []string
	for rows.Next() {
		var t string
		var act, all int64
		if err := rows.Scan(&t, &act, &all); err != nil {
			return "", err
		}
		parts = append(parts, fmt.Sprintf("%s %d/%d", t, act, all))
	}
	return strings.Join(parts, ", "), nil
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
// they use revisions' primary key or scan it.
func lookupReads(ctx context.Context, conn driver.Conn, db string) string {
	_ = conn.Exec(ctx, "SYSTEM FLUSH LOGS")
	q := fmt.Sprintf(`SELECT toInt64(count()), toInt64(avg(read_rows)), toInt64(max(read_rows)), toInt64(avg(query_duration_ms))
FROM system.query_log
WHERE type = 2 AND query LIKE '%%%s%%.revisions%%' AND query LIKE '%%batch_keys%%'`, db)
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
