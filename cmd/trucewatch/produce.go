package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/trucewatch/trucewatch/internal/synth"
	"github.com/trucewatch/trucewatch/kafka/publish"
)

// maxLine bounds one NDJSON line: larger than any valid report
// (report.MaxReportBytes), so an oversized report still reaches the
// dead-letter topic with its reason instead of being cut here.
const maxLine = 4 << 20

func runProduce(ctx context.Context, args []string, std stdio) error {
	fs := newFlags("produce", "[--file FILE | --synthetic N] [flags]",
		"Send reports to the reports topic, keyed by report id.\nWith --file (or stdin) every NDJSON line is sent as it is, valid or not: ingest\ndead-letters what is invalid. With --synthetic N it generates N reports shaped like\nthe real conflict (Damascus suburbs, Idlib, Aleppo, Daraa...).", std)
	var kf kafkaFlags
	kf.register(fs, defaultBrokers, false)
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

	var next publish.Source
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
		next = publish.NDJSON(in, maxLine)
	}
	start := time.Now()
	sent, err := publish.Stream(ctx, pub, next, *rate)
	el := time.Since(start)
	fmt.Fprintf(std.err, "produced %d reports to %s in %s (%.0f/s)\n", sent, kf.topic, el.Round(time.Millisecond), float64(sent)/el.Seconds())
	return err
}
