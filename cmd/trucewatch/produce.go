package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trucewatch/trucewatch/publish"
	"github.com/trucewatch/trucewatch/report"
	"github.com/trucewatch/trucewatch/synth"
)

func init() {
	register(command{name: "produce", summary: "send NDJSON or synthetic reports to the reports topic", run: runProduce})
}

// maxLine bounds one NDJSON line: larger than any valid report
// (report.MaxReportBytes), so an oversized report still reaches the
// dead-letter topic with its reason instead of being cut here.
const maxLine = 4 << 20

func runProduce(ctx context.Context, args []string, std stdio) error {
	fs := newFlags("produce", "[--file FILE | --synthetic N] [flags]",
		"Send reports to the reports topic, keyed by report id.\nWith --file (or stdin) every NDJSON line is sent as it is, valid or not: ingest\ndead-letters what is invalid. With --synthetic N it generates N reports shaped like\nthe real conflict (Damascus suburbs, Idlib, Aleppo, Daraa...).", std)
	var kf kafkaFlags
	kf.register(fs, false)
	file := fs.String("file", "-", "NDJSON file of reports, - for stdin (ignored with --synthetic)")
	n := fs.Int("synthetic", 0, "generate this many synthetic reports instead of reading a file")
	rate := fs.Float64("rate", 0, "reports per second (0: as fast as the broker takes them)")
	malformed := fs.Float64("malformed", 0, "fraction 0..1 of synthetic messages that are malformed on purpose")
	seed := fs.Uint64("seed", 1, "seed of the synthetic feed (same seed, same reports)")
	prefix := fs.String("id-prefix", "syn", "prefix of synthetic report ids")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *malformed < 0 || *malformed > 1 {
		return fmt.Errorf("--malformed %g outside 0..1", *malformed)
	}
	_, transport, err := kf.clients()
	if err != nil {
		return err
	}
	pub := publish.New(publish.Options{Brokers: kf.brokerList(), Topic: kf.topic, Transport: transport})
	defer pub.Close()

	var next func() (publish.Message, bool, error)
	if *n > 0 {
		feed := synth.New(synth.Options{Seed: *seed, Malformed: *malformed, IDPrefix: *prefix})
		left := *n
		next = func() (publish.Message, bool, error) {
			if left == 0 {
				return publish.Message{}, false, nil
			}
			left--
			m := feed.Next()
			return publish.Message{Key: m.Key, Value: m.Value}, true, nil
		}
	} else {
		in := std.in
		if !isStdin(*file) {
			f, err := os.Open(*file)
			if err != nil {
				return err
			}
			defer f.Close()
			in = f
		}
		next = ndjson(in)
	}
	start := time.Now()
	sent, err := produce(ctx, pub, next, *rate)
	el := time.Since(start)
	fmt.Fprintf(std.err, "produced %d reports to %s in %s (%.0f/s)\n", sent, kf.topic, el.Round(time.Millisecond), float64(sent)/el.Seconds())
	return err
}

// ndjson returns messages from r, one per non-empty line, keyed by the
// line's "id" when it has one.
func ndjson(r io.Reader) func() (publish.Message, bool, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	line := 0
	var arena []byte // the values of many lines share one allocation
	return func() (publish.Message, bool, error) {
		for sc.Scan() {
			line++
			b := sc.Bytes()
			if len(b) == 0 {
				continue
			}
			if cap(arena)-len(arena) < len(b) {
				arena = make([]byte, 0, max(1<<20, len(b)))
			}
			start := len(arena)
			arena = append(arena, b...)
			v := arena[start:len(arena):len(arena)]
			key, _ := report.MessageKey(v)
			return publish.Message{Key: key, Value: v}, true, nil
		}
		if err := sc.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				return publish.Message{}, false, fmt.Errorf("line %d: longer than %d bytes", line+1, maxLine)
			}
			return publish.Message{}, false, err
		}
		return publish.Message{}, false, nil
	}
}

// Unpaced, produce keeps produceLanes writes of produceChunk messages in
// flight: 5,000 x 4 was the fastest of the settings tried with
// BenchmarkProduceCommand (1,000-10,000 x 2-8).
const (
	produceChunk = 5000
	produceLanes = 4
)

// produce sends messages in chunks. Paced to rate per second when rate > 0;
// otherwise produceLanes writes are in flight at once, each lane taking the
// keys that hash to it, so that the revisions of one report keep their
// order. It returns how many messages the brokers acknowledged.
func produce(ctx context.Context, pub *publish.Publisher, next func() (publish.Message, bool, error), rate float64) (int, error) {
	if rate > 0 {
		return producePaced(ctx, pub, next, rate)
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		sent     atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		writeErr error
	)
	lanes := make([]chan []publish.Message, produceLanes)
	for i := range lanes {
		lanes[i] = make(chan []publish.Message, 1)
		wg.Go(func() {
			for chunk := range lanes[i] {
				if ctx.Err() != nil {
					continue // drain: a write failed or we were interrupted
				}
				if err := pub.Write(ctx, chunk...); err != nil {
					mu.Lock()
					if writeErr == nil {
						writeErr = err
					}
					mu.Unlock()
					cancel()
					continue
				}
				sent.Add(int64(len(chunk)))
			}
		})
	}
	pending := make([][]publish.Message, produceLanes)
	var readErr error
	rr := 0
	for ctx.Err() == nil {
		m, ok, err := next()
		if err != nil {
			readErr = err
			break
		}
		if !ok {
			break
		}
		lane := rr % produceLanes
		if len(m.Key) > 0 {
			lane = int(crc32.ChecksumIEEE(m.Key) % produceLanes)
		} else {
			rr++
		}
		if pending[lane] == nil {
			pending[lane] = make([]publish.Message, 0, produceChunk)
		}
		pending[lane] = append(pending[lane], m)
		if len(pending[lane]) == produceChunk {
			select {
			case lanes[lane] <- pending[lane]:
			case <-ctx.Done():
			}
			pending[lane] = nil
		}
	}
	for i, p := range pending {
		if len(p) > 0 && ctx.Err() == nil {
			select {
			case lanes[i] <- p:
			case <-ctx.Done():
			}
		}
		close(lanes[i])
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	switch {
	case parent.Err() != nil:
		return int(sent.Load()), nil // interrupted: what was acknowledged is counted
	case writeErr != nil:
		return int(sent.Load()), writeErr
	case readErr != nil:
		return int(sent.Load()), readErr
	}
	return int(sent.Load()), nil
}

// producePaced sends chunks one at a time, paced to rate per second.
func producePaced(ctx context.Context, pub *publish.Publisher, next func() (publish.Message, bool, error), rate float64) (int, error) {
	sent := 0
	start := time.Now()
	size := max(1, min(produceChunk, int(rate/20)))
	buf := make([]publish.Message, 0, size)
	for {
		buf = buf[:0]
		var err error
		for len(buf) < size {
			m, ok, e := next()
			if e != nil {
				err = e
				break
			}
			if !ok {
				break
			}
			buf = append(buf, m)
		}
		if len(buf) > 0 {
			if werr := pub.Write(ctx, buf...); werr != nil {
				if ctx.Err() != nil {
					return sent, nil // interrupted: what was acknowledged is counted
				}
				return sent, werr
			}
			sent += len(buf)
		}
		if err != nil || len(buf) < size {
			return sent, err
		}
		due := start.Add(time.Duration(float64(sent) / rate * float64(time.Second)))
		if d := time.Until(due); d > 0 {
			select {
			case <-ctx.Done():
				return sent, nil
			case <-time.After(d):
			}
		}
		if ctx.Err() != nil {
			return sent, nil
		}
	}
}
