package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"text/tabwriter"

	"github.com/trucewatch/trucewatch/dlq"
)

func runDLQ(ctx context.Context, args []string, std stdio) error {
	usageText := "Usage: trucewatch dlq inspect|replay [flags]\n\n" +
		"  inspect   summarise the dead letters: counts by broken rule, field and source, with samples\n" +
		"  replay    send dead letters back to the reports topic after the cause is fixed;\n" +
		"            progress is kept in a consumer group, so a second run sends only new letters"
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(std.err, usageText)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	action, args := args[0], args[1:]
	fs := newFlags("dlq "+action, "[flags]", usageText, std)
	var kf kafkaFlags
	kf.register(fs, defaultBrokers, true)
	asJSON := fs.Bool("json", false, "inspect: print the summary as JSON")
	samples := fs.Int("samples", 3, "inspect: sample letters to show per rule")
	group := fs.String("group", dlq.DefaultReplayGroup, "replay: consumer group that keeps replay progress")
	rule := fs.String("rule", "", "replay: only letters that broke this rule (required, range, enum, json, ...)")
	field := fs.String("field", "", "replay: only letters about this field")
	dry := fs.Bool("dry-run", false, "replay: count what would be replayed; send and commit nothing")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	dialer, transport, err := kf.clients()
	if err != nil {
		return err
	}
	o := dlq.Options{Brokers: kf.brokerList(), Topic: kf.dlqTopic, Dialer: dialer, Transport: transport}
	switch action {
	case "inspect":
		s, err := dlq.Inspect(ctx, o, *samples)
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(std.out)
			enc.SetIndent("", "  ")
			return enc.Encode(s)
		}
		printSummary(std, kf.dlqTopic, s)
		return nil
	case "replay":
		res, err := dlq.Replay(ctx, dlq.ReplayOptions{Options: o, Target: kf.topic, Group: *group, Rule: *rule, Field: *field, DryRun: *dry})
		verb := "replayed"
		if *dry {
			verb = "would replay"
		}
		fmt.Fprintf(std.out, "%s %d dead letters to %s (%d skipped by the filters, %d cut to fit the dead-letter topic and not replayable)\n", verb, res.Replayed, kf.topic, res.Skipped, res.Cut)
		return err
	default:
		fmt.Fprintf(std.err, "trucewatch dlq: unknown action %q\n\n%s\n", action, usageText)
		return errUsage
	}
}

func printSummary(std stdio, topic string, s dlq.Summary) {
	fmt.Fprintf(std.out, "%d dead letters on %s", s.Total, topic)
	if s.Total > 0 {
		fmt.Fprintf(std.out, " (%s .. %s)", s.First.UTC().Format("2006-01-02 15:04:05"), s.Last.UTC().Format("2006-01-02 15:04:05"))
	}
	fmt.Fprintln(std.out)
	tw := tabwriter.NewWriter(std.out, 0, 4, 2, ' ', 0)
	for _, sec := range []struct {
		title string
		m     map[string]int
	}{{"rule", s.ByRule}, {"field", s.ByField}, {"source", s.BySource}} {
		fmt.Fprintf(tw, "\nby %s\tcount\n", sec.title)
		keys := make([]string, 0, len(sec.m))
		for k := range sec.m {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			return sec.m[keys[i]] > sec.m[keys[j]] || (sec.m[keys[i]] == sec.m[keys[j]] && keys[i] < keys[j])
		})
		for _, k := range keys {
			name := k
			if name == "" {
				name = "(document)"
			}
			fmt.Fprintf(tw, "  %s\t%d\n", name, sec.m[k])
		}
	}
	tw.Flush()
	if len(s.Samples) > 0 {
		fmt.Fprintln(std.out, "\nsamples:")
		for _, l := range s.Samples {
			fmt.Fprintf(std.out, "  %s/%d@%d key=%q: %s\n", l.SourceTopic, l.SourcePartition, l.SourceOffset, l.Key, l.Reason)
		}
	}
}
