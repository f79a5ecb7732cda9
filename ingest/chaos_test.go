//go:build !race

// The chaos test runs without the race detector (make test runs it in a
// second, plain pass): under -race the in-process broker alone is ten
// times slower, which turns a two-minute test into a twenty-minute one.

package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/trucewatch/trucewatch/dlq"
	"github.com/trucewatch/trucewatch/geo"
	"github.com/trucewatch/trucewatch/geo/geotest"
	"github.com/trucewatch/trucewatch/ingest"
	"github.com/trucewatch/trucewatch/intake"
	"github.com/trucewatch/trucewatch/intake/partners"
	"github.com/trucewatch/trucewatch/internal/synth"
	"github.com/trucewatch/trucewatch/kafka/broker"
	"github.com/trucewatch/trucewatch/kafka/publish"
	"github.com/trucewatch/trucewatch/report"
	"github.com/trucewatch/trucewatch/storage"
	"github.com/trucewatch/trucewatch/storage/chtest"
	"github.com/trucewatch/trucewatch/violation"
)

// How a chaos message reaches the broker.
type chaosRoute int

const (
	viaMurmur  chaosRoute = iota // publish, murmur2 of the id: the documented way
	viaKcat                      // kcat with librdkafka's default partitioner (CRC32)
	viaHTTPS                     // the HTTPS intake, as partner chaosHTTPSPartner
	viaPartner                   // partner chaosPartner's own topic, CRC32 partitioner
)

const (
	chaosHTTPSPartner = "field-https"
	chaosPartner      = "gulf-observers"
)

// chaosMsg is one produced message and how it travels.
type chaosMsg struct {
	publish.Message
	route chaosRoute
}

// chaosFeed is the produced data and what it must add up to.
type chaosFeed struct {
	msgs   []chaosMsg
	final  map[report.Key]report.Report // latest revision of every report
	poison int
}

// newChaosFeed generates n messages: 0.5% poison (some of them 60 KB, some
// as large as the broker takes, some naming another partner on a partner
// topic), 2% repeated deliveries of an earlier message, 1% corrections (a
// higher revision of an earlier report, half of them by kcat with its
// default partitioner, so on another partition than the first revision;
// reports first sent over HTTPS are corrected that way too), the rest new
// reports (1% over HTTPS, 2% on a partner topic); 0.3% withdraw an earlier
// report (which a later correction may bring back).
func newChaosFeed(n int, seed uint64) *chaosFeed {
	rng := rand.New(rand.NewPCG(seed, 1))
	// Two months around the Astana zones' entry into force, like a live
	// feed: a batch touches few monthly partitions.
	from, to := time.Date(2017, 7, 1, 0, 0, 0, 0, time.UTC), time.Date(2017, 9, 1, 0, 0, 0, 0, time.UTC)
	feed := synth.New(synth.Options{Seed: seed, IDPrefix: "chaos", Malformed: 1, From: from, To: to})
	valid := synth.New(synth.Options{Seed: seed + 1, IDPrefix: "chaos", From: from, To: to})
	f := &chaosFeed{final: map[report.Key]report.Report{}}
	var sent []int // indexes of valid messages
	var keys []report.Key
	for len(f.msgs) < n {
		x := rng.Float64()
		switch {
		case x < 0.005:
			f.msgs = append(f.msgs, f.poisonMsg(rng, feed, valid))
			f.poison++
		case x < 0.025 && len(sent) > 0:
			f.msgs = append(f.msgs, f.msgs[sent[rng.IntN(len(sent))]])
		case x < 0.038 && len(keys) > 0:
			k := keys[rng.IntN(len(keys))]
			r := valid.Revise(f.final[k])
			r.Withdrawn = false // a correction of a withdrawn report brings it back
			f.final[k] = r
			msg := toMsg(r)
			if x >= 0.035 { // a withdrawal: id and revision only
				r.Withdrawn = true
				f.final[k] = r
				msg = toMsg(report.Report{ID: r.ID, PartnerID: r.PartnerID, Revision: r.Revision, Withdrawn: true})
			}
			route := viaMurmur
			switch {
			case k.PartnerID == chaosPartner:
				route = viaPartner
			case k.PartnerID == chaosHTTPSPartner || rng.IntN(2) == 0:
				route = viaKcat
			}
			sent = append(sent, len(f.msgs))
			f.msgs = append(f.msgs, chaosMsg{msg, route})
		default:
			r := valid.Report()
			route := viaMurmur
			if y := rng.Float64(); y < 0.01 {
				route, r.PartnerID = viaHTTPS, chaosHTTPSPartner
			} else if y < 0.03 {
				route, r.PartnerID = viaPartner, chaosPartner
			}
			f.final[r.Key()] = r
			keys = append(keys, r.Key())
			sent = append(sent, len(f.msgs))
			m := toMsg(r)
			if route == viaPartner && rng.IntN(2) == 0 {
				r.PartnerID = "" // the topic says whose it is
				m = toMsg(r)
			}
			f.msgs = append(f.msgs, chaosMsg{m, route})
		}
	}
	return f
}

// poisonMsg is a message ingest must dead-letter.
func (f *chaosFeed) poisonMsg(rng *rand.Rand, feed, valid *synth.Feed) chaosMsg {
	switch y := rng.Float64(); {
	case y < 0.04: // 60 KB: a batch's letters together exceed the broker's limit
		return chaosMsg{publish.Message{Key: []byte(fmt.Sprintf("big-%d", len(f.msgs))), Value: bigValue(60_000)}, viaMurmur}
	case y < 0.05: // as large as the broker takes: the letter is cut
		return chaosMsg{publish.Message{Key: []byte(fmt.Sprintf("huge-%d", len(f.msgs))),
			Value: bigValue(publish.MaxRecordBytes(publish.DefaultMaxMessageBytes) - 200)}, viaMurmur}
	case y < 0.15: // a partner writing as another
		r := valid.Report()
		r.PartnerID = chaosHTTPSPartner
		return chaosMsg{toMsg(r), viaPartner}
	}
	m := feed.Next() // always malformed
	return chaosMsg{publish.Message{Key: m.Key, Value: m.Value}, viaMurmur}
}

func bigValue(n int) []byte { return []byte(`{"id":"` + strings.Repeat("x", n) + `"}`) }

func toMsg(r report.Report) publish.Message {
	b, _ := json.Marshal(r)
	return publish.Message{Key: []byte(r.ID), Value: b}
}

// aggregates computes, independently of ClickHouse, what every aggregate
// must hold: adm3 x day, zone x hour and tile x day, each split by
// category and violation, with report, killed and injured sums.
func (f *chaosFeed) aggregates(m *geo.Matcher) map[string][3]int64 {
	out := map[string][3]int64{}
	add := func(k string, r *report.Report) {
		v := out[k]
		v[0]++
		v[1] += int64(r.Killed)
		v[2] += int64(r.Injured)
		out[k] = v
	}
	var gm geo.Match
	rules := violation.DefaultRules()
	for _, r := range f.final {
		if r.Withdrawn {
			continue
		}
		m.Match(orb.Point{r.Lon, r.Lat}, r.ObservedAt, r.UncertaintyM(), &gm)
		viol, _ := rules.Classify(&r, &gm)
		v := 0
		if viol {
			v = 1
		}
		day := r.ObservedAt.UTC().Format("2006-01-02")
		add(fmt.Sprintf("adm|%s|%s|%s|%d", gm.Adm3, day, r.Category, v), &r)
		add(fmt.Sprintf("tile|%d|%s|%s|%d", storage.TileKey(r.Lon, r.Lat), day, r.Category, v), &r)
		hour := r.ObservedAt.UTC().Truncate(time.Hour).Format("2006-01-02T15")
		for _, z := range gm.Zones {
			p := 0
			if z.Possible {
				p = 1
			}
			add(fmt.Sprintf("zone|%s|%s|%s|%d|%d", z.ID, hour, r.Category, v, p), &r)
		}
	}
	return out
}

// current is the number of reports not withdrawn.
func (f *chaosFeed) current() int {
	n := 0
	for _, r := range f.final {
		if !r.Withdrawn {
			n++
		}
	}
	return n
}

// storedAggregates reads the same figures from the aggregate tables.
func storedAggregates(t *testing.T, ctx context.Context, s *storage.Store) map[string][3]int64 {
	t.Helper()
	queries := []string{
		`SELECT concat('adm|', adm3, '|', toString(day), '|', category, '|', toString(toUInt8(violation_class > 0))),
			sum(n_reports), sum(n_killed), sum(n_injured) FROM %s.counts_adm_day FINAL GROUP BY adm3, day, category, violation_class > 0`,
		`SELECT concat('tile|', toString(tile), '|', toString(day), '|', category, '|', toString(toUInt8(violation_class > 0))),
			sum(n_reports), sum(n_killed), sum(n_injured) FROM %s.counts_tile_day FINAL GROUP BY tile, day, category, violation_class > 0`,
		`SELECT concat('zone|', zone, '|', formatDateTime(hour, '%%Y-%%m-%%dT%%H'), '|', category, '|', toString(violation), '|', toString(possible)),
			sum(n_reports), sum(n_killed), sum(n_injured) FROM %s.counts_zone_hour FINAL GROUP BY zone, hour, category, violation, possible`,
	}
	return chtest.Figures[[3]int64](t, ctx, s, queries...)
}

// buildBinary compiles trucewatch once for the processes the test kills.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "trucewatch")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/trucewatch/trucewatch/cmd/trucewatch").CombinedOutput()
	if err != nil {
		t.Fatalf("build trucewatch: %v\n%s", err, out)
	}
	return bin
}

// TestChaos is the exactly-once test: 200,000 reports with repeated
// deliveries, corrections and poison, two ingest processes in one group,
// one of them SIGKILLed at random moments and restarted, ClickHouse down
// for 10 s, fetches and produces failing at the broker. Every aggregate
// must equal the figure computed from the produced data, and every poison
// message must be on the dead-letter topic exactly once.
func TestChaos(t *testing.T) {
	n := 200_000
	if testing.Short() {
		n = 20_000
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	bin := buildBinary(t)
	srv := chtest.New(t)
	partnerTopic := ingest.DefaultPartnerTopicPrefix + chaosPartner
	b, err := broker.Start(broker.Options{Topics: []string{"reports", "reports.dlq", partnerTopic}, Partitions: 6})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	addr := b.Addrs()[0]
	db := chtest.Database(t)
	store := chtest.Open(t, srv, storage.Options{Database: db})
	m := geotest.Matcher(t)
	feed := newChaosFeed(n, 2017)
	t.Logf("feed: %d messages, %d reports (%d withdrawn at the end), %d poison", len(feed.msgs), len(feed.final), len(feed.final)-feed.current(), feed.poison)

	logDir := os.Getenv("CHAOS_LOG_DIR") // keep the workers' logs for a post-mortem
	if logDir == "" {
		logDir = t.TempDir()
	}
	var mu sync.Mutex
	procs := map[string]*exec.Cmd{}
	logSize := func(name string) int {
		fi, err := os.Stat(filepath.Join(logDir, name+".log"))
		if err != nil {
			return 0
		}
		return int(fi.Size())
	}
	startWorker := func(name string, idle time.Duration) *exec.Cmd {
		logf, _ := os.OpenFile(filepath.Join(logDir, name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		cmd := exec.Command(bin, "ingest", "--brokers", addr, "--clickhouse", srv.Addr(), "--database", db,
			"--group", "chaos", "--batch-size", "2000", "--batch-wait", "200ms", "--exit-when-idle", idle.String(),
			"--ops-addr", "", "--log-level", "info", "--migrate=false", "--session-timeout", "3s")
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		procs[name] = cmd
		mu.Unlock()
		return cmd
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range procs {
			_ = c.Process.Kill()
		}
		if t.Failed() {
			for _, name := range []string{"a", "b", "drain"} {
				if b, err := os.ReadFile(filepath.Join(logDir, name+".log")); err == nil {
					t.Logf("--- %s.log (tail)\n%s", name, tail(string(b), 3000))
				}
			}
		}
	})

	// Faults at the broker: failed fetches on the reports topic and failed
	// produces on the dead-letter topic, throughout the run.
	b.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Topic: "reports", Err: kerr.NotLeaderForPartition, Count: 40,
		When: func(kmsg.Request) bool { return rand.IntN(20) == 0 }})
	b.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "reports.dlq", Err: kerr.NotEnoughReplicas, Count: 5,
		When: func(kmsg.Request) bool { return rand.IntN(3) == 0 }})

	// Produce over ~20 s while the workers run, so kills land mid-stream.
	pub := publish.New(publish.Options{Brokers: []string{addr}, Topic: "reports"})
	defer pub.Close()
	send := newChaosSender(t, addr, pub, partnerTopic)
	produced := make(chan error, 1)
	go func() {
		const chunk = 2000
		pace := 20 * time.Second / time.Duration((len(feed.msgs)+chunk-1)/chunk)
		for i := 0; i < len(feed.msgs); i += chunk {
			if err := send.send(ctx, feed.msgs[i:min(i+chunk, len(feed.msgs))]); err != nil {
				produced <- err
				return
			}
			time.Sleep(pace)
		}
		produced <- nil
	}()

	workerIdle := 15 * time.Second
	aFrom := logSize("a")
	a := startWorker("a", workerIdle)
	startWorker("b", workerIdle)
	rng := rand.New(rand.NewPCG(7, 7))
	kills := 0
	for kills < 6 {
		// Kill a worker that holds partitions: wait for its assignment,
		// then a random moment of its work.
		waitAssigned(t, filepath.Join(logDir, "a.log"), aFrom, a)
		time.Sleep(time.Duration(200+rng.IntN(2500)) * time.Millisecond)
		_ = a.Process.Signal(syscall.SIGKILL)
		_, _ = a.Process.Wait()
		kills++
		t.Logf("%s killed worker a (%d)", time.Now().Format("15:04:05"), kills)
		if kills == 3 {
			t.Log("stopping ClickHouse for 10 s")
			if err := srv.Stop(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(10 * time.Second)
			if err := srv.Start(ctx); err != nil {
				t.Fatal(err)
			}
			t.Log("ClickHouse is back")
		}
		aFrom = logSize("a")
		a = startWorker("a", workerIdle)
	}
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	// Both workers stop once idle; then one more drains whatever a
	// rebalance left behind, and must find everything already done.
	for _, name := range []string{"a", "b"} {
		mu.Lock()
		c := procs[name]
		mu.Unlock()
		if err := c.Wait(); err != nil {
			t.Fatalf("worker %s: %v", name, err)
		}
	}
	if err := startWorker("drain", 5*time.Second).Wait(); err != nil {
		t.Fatalf("drain worker: %v", err)
	}

	// Nothing lost: every partition's stored position is its end.
	client := &kafka.Client{Addr: kafka.TCP(addr)}
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{"reports"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"reports", partnerTopic} {
		for p := range 6 {
			resp, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: {kafka.LastOffsetOf(p)}}})
			if err != nil {
				t.Fatal(err)
			}
			end := resp.Topics[topic][0].LastOffset
			pos, err := store.Resume(ctx, storage.Source{Cluster: md.ClusterID, Topic: topic, Partition: p})
			if err != nil {
				t.Fatal(err)
			}
			if pos.Next != end || pos.Pending != nil {
				t.Errorf("%s partition %d: stored position %+v, end %d", topic, p, pos, end)
			}
		}
	}

	// Counted once, in the latest revision: every aggregate exact.
	want := feed.aggregates(m)
	got := storedAggregates(t, ctx, store)
	bad := 0
	for k, w := range want {
		if got[k] != w {
			if bad++; bad <= 10 {
				t.Errorf("aggregate %s = %v, want %v", k, got[k], w)
			}
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			if bad++; bad <= 10 {
				t.Errorf("aggregate %s = %v, want nothing", k, g)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d aggregate cells wrong", bad, len(want))
	}
	var current uint64
	if err := store.Conn().QueryRow(ctx, fmt.Sprintf("SELECT count() FROM %s.reports_current", db)).Scan(&current); err != nil {
		t.Fatal(err)
	}
	if want := feed.current(); current != uint64(want) {
		t.Errorf("%d current reports, want %d", current, want)
	}

	// Every poison message on the dead-letter topic exactly once.
	e := &env{t: t, ctx: ctx, addr: addr}
	seen := map[string]int{}
	where := map[string][]string{}
	for _, d := range e.deadLetters() {
		h := headerMap(d.Headers)
		k := h[dlq.HeaderSourceTopic] + "/" + h[dlq.HeaderSourcePartition] + "/" + h[dlq.HeaderSourceOffset]
		seen[k]++
		where[k] = append(where[k], fmt.Sprintf("dlq %d@%d at %s by %s", d.Partition, d.Offset, d.Time.Format("15:04:05.000"), h[dlq.HeaderWriter]))
	}
	for k, w := range where {
		if len(w) > 1 {
			t.Logf("source %s dead-lettered %d times: %v", k, len(w), w)
		}
	}
	dups := 0
	for _, c := range seen {
		if c > 1 {
			dups++
		}
	}
	if len(seen) != feed.poison || dups > 0 {
		t.Errorf("dead letters: %d distinct (want %d), %d sent more than once", len(seen), feed.poison, dups)
	}
}

// waitAssigned waits until the worker's log shows a partition assignment
// after its start (or 30 s).
func waitAssigned(t *testing.T, logPath string, from int, c *exec.Cmd) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(logPath)
		if len(b) > from && strings.Contains(string(b[from:]), "partitions assigned") {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("worker pid %d got no partitions in 30 s", c.Process.Pid)
}

// chaosSender sends each message its way: publish (murmur2), kcat (its
// default partitioner), the HTTPS intake, or a partner topic.
type chaosSender struct {
	pub     *publish.Publisher
	partner *kafka.Writer
	kcat    []string
	url     string
	key     string
}

func newChaosSender(t *testing.T, addr string, pub *publish.Publisher, partnerTopic string) *chaosSender {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatal("kcat not found: run `make test`, which installs it (Debian package kcat)")
	}
	keys, err := partners.Create(filepath.Join(t.TempDir(), "partners.json"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := keys.Add(chaosHTTPSPartner)
	if err != nil {
		t.Fatal(err)
	}
	h, err := intake.New(intake.Options{Keys: keys, Publisher: pub, Rate: -1})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: partnerTopic, Balancer: &kafka.CRC32Balancer{Consistent: true},
		BatchTimeout: time.Millisecond, BatchSize: 2000}
	t.Cleanup(func() { w.Close() })
	return &chaosSender{pub: pub, partner: w, url: srv.URL + "/v1/reports", key: key,
		kcat: []string{kcat, "-P", "-b", addr, "-t", "reports", "-K", "\t"}}
}

func (s *chaosSender) send(ctx context.Context, msgs []chaosMsg) error {
	var direct []publish.Message
	var kcat, https [][]byte
	var partner []kafka.Message
	for _, m := range msgs {
		switch m.route {
		case viaMurmur:
			direct = append(direct, m.Message)
		case viaKcat:
			kcat = append(kcat, append(append(append([]byte{}, m.Key...), '\t'), m.Value...))
		case viaHTTPS:
			https = append(https, m.Value)
		case viaPartner:
			partner = append(partner, kafka.Message{Key: m.Key, Value: m.Value})
		}
	}
	if err := s.pub.Write(ctx, direct...); err != nil {
		return err
	}
	if err := s.partner.WriteMessages(ctx, partner...); err != nil {
		return fmt.Errorf("partner topic: %w", err)
	}
	if len(kcat) > 0 {
		cmd := exec.CommandContext(ctx, s.kcat[0], s.kcat[1:]...)
		cmd.Stdin = bytes.NewReader(append(bytes.Join(kcat, []byte("\n")), '\n'))
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("kcat: %v: %s", err, out)
		}
	}
	if len(https) > 0 {
		return s.post(ctx, append(bytes.Join(https, []byte("\n")), '\n'))
	}
	return nil
}

// post sends NDJSON to the intake until it answers 202, as partners are
// told to.
func (s *chaosSender) post(ctx context.Context, body []byte) error {
	for attempt := 0; attempt < 20; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+s.key)
		req.Header.Set("Content-Type", intake.ContentTypeNDJSON)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		switch res.StatusCode {
		case http.StatusAccepted:
			return nil
		case http.StatusServiceUnavailable, http.StatusTooManyRequests:
			time.Sleep(500 * time.Millisecond)
		default:
			return fmt.Errorf("intake: %d %s", res.StatusCode, b)
		}
	}
	return errors.New("intake: no 202 after 20 attempts")
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
