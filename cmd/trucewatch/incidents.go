package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/trucewatch/trucewatch/incident"
	"github.com/trucewatch/trucewatch/storage"
)

// incidentFlags are the resolver's flags (trucewatch incidents, demo).
type incidentFlags struct {
	distance, maxUncertainty float64
	slack, maxWindow         time.Duration
	interval, overlap        time.Duration
	cellInterval             time.Duration
	groups                   string
}

// demoPartnerGroups puts the synthetic feed's partners on the two sides
// of the mechanism.
const demoPartnerGroups = "sohr-field=guarantor:tr,sn4hr=guarantor:tr,whitehelmets-idlib=guarantor:tr," +
	"vdc-ghouta=guarantor:ru,daraa24=guarantor:ru,aleppo-media-centre=guarantor:ru"

func (f *incidentFlags) register(fs *flag.FlagSet, groups string) {
	fs.Float64Var(&f.distance, "incident-distance", incident.DefaultDistanceM, "reports this close (metres) may be one incident whatever their uncertainty")
	fs.Float64Var(&f.maxUncertainty, "incident-max-uncertainty", incident.DefaultMaxUncertaintyM, "a report placed less precisely (metres) is an incident of its own")
	fs.DurationVar(&f.slack, "incident-slack", incident.DefaultSlack, "every report's time window is widened by at least this on each side")
	fs.DurationVar(&f.maxWindow, "incident-max-window", incident.DefaultMaxWindow, "a report whose widened window is longer is an incident of its own")
	fs.DurationVar(&f.interval, "incident-interval", incident.DefaultInterval, "time between two resolver passes")
	fs.DurationVar(&f.cellInterval, "incident-cell-interval", incident.DefaultCellInterval, "a pass writes the incident aggregates' changed cells at most this often (the incidents every pass)")
	fs.DurationVar(&f.overlap, "incident-overlap", incident.DefaultOverlap, "each pass reads again the rows written this long before the previous pass (longer than any INSERT)")
	fs.StringVar(&f.groups, "partner-groups", groups, "partner groups, comma-separated partner=group pairs (e.g. sn4hr=guarantor:tr,vdc-ghouta=ngo)")
}

// options are the resolver's options of these flags.
func (f *incidentFlags) options(store *storage.Store, log *slog.Logger) (incident.Options, error) {
	groups := map[string]string{}
	for _, pair := range splitList(f.groups) {
		p, g, ok := strings.Cut(pair, "=")
		if !ok || p == "" || g == "" {
			return incident.Options{}, fmt.Errorf("--partner-groups: %q is not partner=group", pair)
		}
		groups[p] = g
	}
	return incident.Options{Store: store, Groups: groups, Interval: f.interval, CellInterval: f.cellInterval, Overlap: f.overlap, Logger: log,
		Rule: incident.Rule{DistanceM: f.distance, Slack: f.slack, MaxUncertaintyM: f.maxUncertainty, MaxWindow: f.maxWindow}}, nil
}

func runIncidents(ctx context.Context, args []string, std stdio) error {
	fs := newFlags("incidents", "[flags]",
		"Resolve the stored reports into incidents and keep them resolved: the reports several partners send\n"+
			"of one event become one incident (see docs/incidents.md). Run one per database, beside ingest.", std)
	var ch clickhouseFlags
	ch.register(fs, "127.0.0.1:9000")
	var f incidentFlags
	f.register(fs, "")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	once := fs.Bool("once", false, "resolve everything once, print the figures and exit")
	migrate := fs.Bool("migrate", true, "apply pending schema migrations at start")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log, err := newLogger(*logLevel, std.err)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, ch.options(log), *migrate)
	if err != nil {
		return err
	}
	defer store.Close()
	o, err := f.options(store, log)
	if err != nil {
		fmt.Fprintln(std.err, err)
		return errUsage
	}
	o.Pass = func(p incident.Pass) {
		if p.Full || *once {
			fmt.Fprintf(std.out, "%d reports in %d incidents; wrote %d, deleted %d, %d aggregate cells, in %v\n",
				p.Reports, p.Incidents, p.Put, p.Del, p.Cells, p.Took.Round(time.Millisecond))
		}
	}
	r, err := incident.New(o)
	if err != nil {
		return err
	}
	if *once {
		return r.Step(ctx)
	}
	return r.Run(ctx)
}
