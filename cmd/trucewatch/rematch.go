package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/trucewatch/trucewatch/rematch"
	"github.com/trucewatch/trucewatch/report"
	"github.com/trucewatch/trucewatch/storage"
)

func runRematch(ctx context.Context, args []string, std stdio) error {
	fs := newFlags("rematch", "--from TIME --to TIME [flags]",
		"Match the stored reports observed in [--from, --to) again with the zone sets of --zones, and rewrite\n"+
			"those matched with another zone-set version, without double counting (see package rematch).\n"+
			"Stop ingest first; restart it with the same --zones once rematch succeeded. Re-run after any failure.\n"+
			"TIME is RFC 3339 (2017-08-01T00:00:00Z) or a UTC date (2017-08-01).", std)
	var f ingestFlags // for --zones, the ClickHouse flags and --log-level
	f.ch.register(fs, "127.0.0.1:9000")
	fs.StringVar(&f.zones, "zones", "", "zone-set GeoJSON file(s), comma-separated (default: the shipped zone sets)")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	from := fs.String("from", "", "start of the observed_at window, inclusive (required)")
	to := fs.String("to", "", "end of the observed_at window, exclusive (required)")
	dry := fs.Bool("dry-run", false, "count what would change, write nothing")
	changedOnly := fs.Bool("changed-only", false, "rewrite only reports whose match changed (others keep the zone-set version they were matched with)")
	batch := fs.Int("batch-size", rematch.DefaultBatchSize, fmt.Sprintf("most reports rewritten per insert (1..%d)", storage.MaxBatchRows))
	migrate := fs.Bool("migrate", true, "apply pending schema migrations at start")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var o rematch.Options
	var err error
	if o.From, err = parseTime(*from); err != nil {
		fmt.Fprintf(std.err, "--from: %v\n", err)
		return errUsage
	}
	if o.To, err = parseTime(*to); err != nil {
		fmt.Fprintf(std.err, "--to: %v\n", err)
		return errUsage
	}
	if !o.From.Before(o.To) {
		fmt.Fprintln(std.err, "--from must be before --to")
		return errUsage
	}
	if *batch < 1 || *batch > storage.MaxBatchRows {
		fmt.Fprintf(std.err, "--batch-size must be in 1..%d\n", storage.MaxBatchRows)
		return errUsage
	}
	o.DryRun, o.ChangedOnly, o.BatchSize = *dry, *changedOnly, *batch
	log, err := f.logger(std)
	if err != nil {
		return err
	}
	o.Logger = log
	m, err := f.matcher()
	if err != nil {
		return err
	}
	store, err := openStore(ctx, f.storeOptions(log), *migrate && !*dry)
	if err != nil {
		return err
	}
	defer store.Close()
	start := time.Now()
	res, err := rematch.Run(ctx, store, m, o)
	printRematch(std.out, &o, &res, time.Since(start))
	return err
}

// parseTime reads a required --from or --to (see report.ParseTime), in UTC.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("required")
	}
	t, err := report.ParseTime(s)
	return t.UTC(), err
}

func printRematch(w io.Writer, o *rematch.Options, r *rematch.Result, took time.Duration) {
	mode := ""
	if o.DryRun {
		mode = " (dry run: nothing written)"
	}
	fmt.Fprintf(w, "rematch [%s, %s) with zone sets %s%s\n", o.From.Format(time.RFC3339), o.To.Format(time.RFC3339), r.Version, mode)
	if len(r.Recovered) > 0 {
		verb := "completed"
		if o.DryRun {
			verb = "pending"
		}
		fmt.Fprintf(w, "interrupted batches of an earlier run %s: %d\n", verb, len(r.Recovered))
	}
	if r.Unsettled > 0 {
		fmt.Fprintf(w, "revisions stored in two generations, to be merged: %d\n", r.Unsettled)
	}
	fmt.Fprintf(w, "examined %d, changed %d, relabelled %d, unchanged %d; %d batch(es) written in %s\n",
		r.Examined, r.Changed, r.Relabelled, r.Unchanged, r.Batches, took.Round(time.Millisecond))
	if len(r.Zones) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "zone\texamined\tchanged\tunchanged\tentered\tleft\t")
	for _, id := range r.ZoneIDs() {
		c := r.Zones[id]
		name := id
		if id == rematch.NoZone {
			name = "(no zone)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t\n", name, c.Examined, c.Changed, c.Unchanged, c.Entered, c.Left)
	}
	tw.Flush()
}
