package ingest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/trucewatch/trucewatch/dlq"
	"github.com/trucewatch/trucewatch/enrich"
	"github.com/trucewatch/trucewatch/geo"
	"github.com/trucewatch/trucewatch/geo/geotest"
	"github.com/trucewatch/trucewatch/ingest"
	"github.com/trucewatch/trucewatch/internal/synth"
	"github.com/trucewatch/trucewatch/kafka/broker"
	"github.com/trucewatch/trucewatch/kafka/publish"
	"github.com/trucewatch/trucewatch/report"
	"github.com/trucewatch/trucewatch/storage"
	"github.com/trucewatch/trucewatch/storage/chtest"
	"github.com/trucewatch/trucewatch/violation"
)

// TestMain checks that nothing outlives the tests. The tests' own
// clients use kafka-go's shared default transport, whose idle connections
// live until closed; the worker closes its own.
func TestMain(m *testing.M) {
	chtest.MainAfter(m, kafka.DefaultTransport.(*kafka.Transport).CloseIdleConnections)
}

// env is one test's broker, database and store.
type env struct {
	t      testing.TB
	ctx    context.Context
	broker *broker.Broker
	addr   string
	store  *storage.Store
	m      *geo.Matcher
}

func newEnv(t testing.TB) *env {
	return newEnvWith(t, broker.Options{Topics: []string{"reports", "reports.dlq"}})
}

func newEnvWith(t testing.TB, o broker.Options) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	srv := chtest.Shared(t)
	b, err := broker.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	store := chtest.Open(t, srv, storage.Options{})
	m := geotest.Matcher(t)
	return &env{t: t, ctx: ctx, broker: b, addr: b.Addrs()[0], store: store, m: m}
}

func (e *env) ingest(group string) ingest.Stats {
	e.t.Helper()
	in, err := ingest.New(ingest.Options{
		Brokers: []string{e.addr}, Group: group, BatchSize: 2000, BatchWait: 200 * time.Millisecond,
		ExitWhenIdle: 3 * time.Second, Logger: testLogger(e.t),
	}, e.m, violation.DefaultRules(), e.store)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := in.Run(e.ctx); err != nil {
		e.t.Fatal(err)
	}
	return in.Stats()
}

// stored is one current report as ClickHouse holds it.
type stored struct {
	revision         uint32
	adm1, adm2, adm3 string
	zones, possible  []string
	violation        bool
	killed           uint32
	copies           uint64
}

// current reads the current revision of every report: rows with sign +1
// whose revision no later row retracted.
func (e *env) current() map[string]stored {
	e.t.Helper()
	rows, err := e.store.Conn().Query(e.ctx, fmt.Sprintf(`
		SELECT report_id, revision, adm1, adm2, adm3, zones, possible_zones, violation, killed, count() AS copies
		FROM %s.reports FINAL
		WHERE sign = 1 AND (partner_id, report_id, revision) NOT IN
			(SELECT partner_id, report_id, revision FROM %s.reports FINAL WHERE sign = -1)
		GROUP BY report_id, revision, adm1, adm2, adm3, zones, possible_zones, violation, killed`,
		e.store.Database(), e.store.Database()))
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]stored{}
	for rows.Next() {
		var id string
		var s stored
		var viol uint8
		if err := rows.Scan(&id, &s.revision, &s.adm1, &s.adm2, &s.adm3, &s.zones, &s.possible, &viol, &s.killed, &s.copies); err != nil {
			e.t.Fatal(err)
		}
		s.violation = viol == 1
		if prev, dup := out[id]; dup {
			e.t.Errorf("report %s stored twice as current: %+v and %+v", id, prev, s)
		}
		out[id] = s
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// expect is what a report must look like once stored.
func (e *env) expect(r *report.Report) stored {
	row := enrich.New(e.m, violation.DefaultRules()).Row(r, time.Time{})
	return stored{revision: r.Revision, adm1: row.Adm1, adm2: row.Adm2, adm3: row.Adm3,
		zones: row.Zones, possible: row.PossibleZones, violation: row.Violation, killed: r.Killed, copies: 1}
}

func sameStrings(a, b []string) bool {
	a, b = append([]string(nil), a...), append([]string(nil), b...)
	sort.Strings(a)
	sort.Strings(b)
	return strings.Join(a, ",") == strings.Join(b, ",")
}

// deadLetters reads the whole dead-letter topic with kafka-go.
func (e *env) deadLetters() []kafka.Message { return e.deadLettersAs(nil) }

// deadLettersAs reads them through d (nil: a plain connection).
func (e *env) deadLettersAs(d *kafka.Dialer) []kafka.Message {
	e.t.Helper()
	if d == nil {
		d = kafka.DefaultDialer
	}
	conn, err := d.DialContext(e.ctx, "tcp", e.addr)
	if err != nil {
		e.t.Fatal(err)
	}
	parts, err := conn.ReadPartitions("reports.dlq")
	conn.Close()
	if err != nil {
		e.t.Fatal(err)
	}
	var out []kafka.Message
	for _, p := range parts {
		pc, err := d.DialLeader(e.ctx, "tcp", e.addr, "reports.dlq", p.ID)
		if err != nil {
			e.t.Fatal(err)
		}
		last, err := pc.ReadLastOffset()
		pc.Close()
		if err != nil {
			e.t.Fatal(err)
		}
		if last == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{e.addr}, Topic: "reports.dlq", Partition: p.ID, Dialer: d, MaxBytes: 16 << 20, MaxWait: 100 * time.Millisecond})
		for {
			m, err := r.FetchMessage(e.ctx)
			if err != nil {
				e.t.Fatal(err)
			}
			out = append(out, m)
			if m.Offset == last-1 {
				break
			}
		}
		r.Close()
	}
	return out
}

func headerMap(hs []kafka.Header) map[string]string {
	m := map[string]string{}
	for _, h := range hs {
		m[h.Key] = string(h.Value)
	}
	return m
}

// TestPipeline produces 10,000 reports, some malformed, through the broker,
// ingests them into a real ClickHouse and checks that every valid report is
// stored exactly once with its zones and admin codes, and every malformed
// one is on the dead-letter topic with its reason.
func TestPipeline(t *testing.T) {
	e := newEnv(t)
	feed := synth.New(synth.Options{Seed: 42, Malformed: 0.03, IDPrefix: "it"})
	valid := map[string]*report.Report{}
	malformed := map[string]string{} // value -> expected field
	pub := publish.New(publish.Options{Brokers: []string{e.addr}, Topic: "reports"})
	defer pub.Close()
	var msgs []publish.Message
	for range 10_000 {
		m := feed.Next()
		if m.Report != nil {
			valid[m.Report.ID] = m.Report
		} else {
			malformed[string(m.Value)] = m.Malformed
		}
		msgs = append(msgs, publish.Message{Key: m.Key, Value: m.Value})
	}
	if err := pub.Write(e.ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	stats := e.ingest("pipeline")
	t.Logf("stats: %+v; valid %d, malformed %d", stats, len(valid), len(malformed))

	got := e.current()
	if len(got) != len(valid) {
		t.Errorf("stored %d reports, want %d", len(got), len(valid))
	}
	violations := 0
	for id, r := range valid {
		s, ok := got[id]
		if !ok {
			t.Errorf("report %s missing", id)
			continue
		}
		want := e.expect(r)
		if s.copies != 1 || s.revision != want.revision || s.adm1 != want.adm1 || s.adm2 != want.adm2 || s.adm3 != want.adm3 ||
			!sameStrings(s.zones, want.zones) || !sameStrings(s.possible, want.possible) || s.violation != want.violation || s.killed != want.killed {
			t.Errorf("report %s stored as %+v, want %+v", id, s, want)
		}
		if s.violation {
			violations++
		}
	}
	if violations == 0 {
		t.Error("no report classified as a violation: the synthetic feed has many")
	}

	dead := e.deadLetters()
	if len(dead) != len(malformed) {
		t.Errorf("%d dead letters, want %d", len(dead), len(malformed))
	}
	seen := map[string]bool{}
	for _, d := range dead {
		h := headerMap(d.Headers)
		field, ok := malformed[string(d.Value)]
		if !ok {
			t.Errorf("dead letter %q is not a malformed message we sent", d.Value)
			continue
		}
		if h[dlq.HeaderReason] == "" || h[dlq.HeaderSourceTopic] != "reports" || h[dlq.HeaderSourceOffset] == "" {
			t.Errorf("dead letter lacks its reason or source: %v", h)
		}
		if field != "json" && h[dlq.HeaderField] != field {
			t.Errorf("dead letter names field %q, want %q (%s)", h[dlq.HeaderField], field, h[dlq.HeaderReason])
		}
		src := h[dlq.HeaderSourcePartition] + "/" + h[dlq.HeaderSourceOffset]
		if seen[src] {
			t.Errorf("message %s dead-lettered twice", src)
		}
		seen[src] = true
	}
	if stats.DeadLettered != int64(len(malformed)) || stats.Consumed != 10_000 {
		t.Errorf("stats %+v disagree with what was sent", stats)
	}
}

// TestKnownPlaces checks zone and admin matching end to end on places whose
// answer is known from the OCHA boundaries and the Astana memorandum.
func TestKnownPlaces(t *testing.T) {
	e := newEnv(t)
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	cases := []struct {
		r        report.Report
		adm3     string
		zone     string // a zone the report must be in ("" = none of the de-escalation zones)
		violates bool
	}{
		{report.Report{ID: "douma-aug17", Lon: 36.4036, Lat: 33.5722, ObservedAt: at("2017-08-01T10:00:00Z"),
			Category: report.Shelling, Perpetrator: report.Actor{Name: "Syrian Arab Army", Side: report.Government}},
			"SY030200", "astana-3", true},
		{report.Report{ID: "douma-isis", Lon: 36.4036, Lat: 33.5722, ObservedAt: at("2017-08-01T10:00:00Z"),
			Category: report.Shelling, Perpetrator: report.Actor{Name: "Islamic State", Side: report.ExcludedGroup}},
			"SY030200", "astana-3", false},
		{report.Report{ID: "douma-arrest", Lon: 36.4036, Lat: 33.5722, ObservedAt: at("2017-08-01T10:00:00Z"),
			Category: report.Arrest, Perpetrator: report.Actor{Side: report.Government}},
			"SY030200", "astana-3", false},
		{report.Report{ID: "daraa-aug17", Lon: 36.1021, Lat: 32.6189, ObservedAt: at("2017-08-01T10:00:00Z"),
			Category: report.Airstrike, Perpetrator: report.Actor{Side: report.Government}},
			"SY120000", "astana-4", true},
	}
	pub := publish.New(publish.Options{Brokers: []string{e.addr}, Topic: "reports"})
	defer pub.Close()
	for i := range cases {
		cases[i].r.Revision, cases[i].r.PartnerID = 1, "field-team"
		b, _ := json.Marshal(cases[i].r)
		if err := pub.Write(e.ctx, publish.Message{Key: []byte(cases[i].r.ID), Value: b}); err != nil {
			t.Fatal(err)
		}
	}
	e.ingest("known")
	got := e.current()
	for _, c := range cases {
		s, ok := got[c.r.ID]
		if !ok {
			t.Errorf("%s missing", c.r.ID)
			continue
		}
		if s.adm3 != c.adm3 || !slices.Contains(s.zones, c.zone) || s.violation != c.violates {
			t.Errorf("%s: adm3 %s zones %v violation %v; want adm3 %s in %s violation %v", c.r.ID, s.adm3, s.zones, s.violation, c.adm3, c.zone, c.violates)
		}
	}
}

// TestKcat checks that an independent Kafka client (librdkafka's kcat)
// can produce reports that trucewatch ingests, and can read the reason
// headers of the dead letters.
func TestKcat(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatal("kcat not found: run `make test`, which installs it (Debian package kcat)")
	}
	e := newEnv(t)
	feed := synth.New(synth.Options{Seed: 7, IDPrefix: "kcat"})
	var lines []string
	ids := map[string]bool{}
	for range 200 {
		m := feed.Next()
		ids[m.Report.ID] = true
		lines = append(lines, string(m.Key)+"\t"+string(m.Value))
	}
	lines = append(lines, "bad-1\t{\"id\":\"bad-1\",\"lat\":\"north\"}")
	in := strings.NewReader(strings.Join(lines, "\n") + "\n")
	cmd := exec.CommandContext(e.ctx, kcat, "-P", "-b", e.addr, "-t", "reports", "-K", "\t", "-X", "partitioner=murmur2_random")
	cmd.Stdin = in
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat produce: %v\n%s", err, out)
	}
	e.ingest("kcat")
	got := e.current()
	for id := range ids {
		if _, ok := got[id]; !ok {
			t.Errorf("report %s produced by kcat not stored", id)
		}
	}
	if len(got) != len(ids) {
		t.Errorf("stored %d, want %d", len(got), len(ids))
	}
	out, err := exec.CommandContext(e.ctx, kcat, "-C", "-b", e.addr, "-t", "reports.dlq", "-e", "-q", "-f", "%k|%h\n").CombinedOutput()
	if err != nil {
		t.Fatalf("kcat consume: %v\n%s", err, out)
	}
	text := strings.TrimSpace(string(out))
	if strings.Count(text, "\n") != 0 || !strings.HasPrefix(text, "bad-1|") ||
		!strings.Contains(text, dlq.HeaderReason+"=") || !strings.Contains(text, "lat: type: must be a number") {
		t.Errorf("kcat read dead letters %q, want the one bad report with its field and reason", text)
	}
}

// testLogger writes the worker's log to the test log with -v.
func testLogger(t testing.TB) *slog.Logger {
	if !testing.Verbose() {
		return nil
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// TestShutdownFlushes stops the worker while partitions hold batches that
// wait for a write slot: a graceful stop must write them all before it
// returns, even though kafka-go ends the generation as soon as the first
// partition goroutine exits.
func TestShutdownFlushes(t *testing.T) {
	e := newEnv(t)
	ids := e.produce(synth.New(synth.Options{Seed: 31, IDPrefix: "stop"}), 6000)
	in, err := ingest.New(ingest.Options{
		Brokers: []string{e.addr}, Group: "stop", BatchSize: 20000, BatchWait: 2 * time.Second,
		MaxConcurrentWrites: 1, Logger: testLogger(e.t),
	}, e.m, violation.DefaultRules(), e.store)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	go func() {
		for in.Stats().Batches == 0 && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		cancel() // the other partitions still hold their batches
	}()
	if err := in.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if s := in.Stats(); s.Consumed != 6000 || s.Written != 6000 {
		t.Errorf("stopped with %+v: every fetched report must be written", s)
	}
	e.wantStored(ids)
}
