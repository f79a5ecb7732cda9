// Command trucewatch runs the ceasefire-monitoring pipeline: one binary,
// one subcommand per role. main only wires flags to the libraries.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// command is one subcommand. run gets its own arguments (without the
// subcommand name) and returns an error instead of exiting.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, std stdio) error
}

type stdio struct {
	in       io.Reader
	out, err io.Writer
}

// commands is the command table, in the order usage lists them: the
// pipeline's roles first (broker, schema, ingest, produce, serve), then
// the operators' tools.
var commands = []command{
	{name: "broker", summary: "run the embedded Kafka-protocol broker alone", run: runBroker},
	{name: "migrate", summary: "create or upgrade the ClickHouse schema (idempotent)", run: runMigrate},
	{name: "ingest", summary: "consume reports from Kafka into ClickHouse", run: runIngest},
	{name: "produce", summary: "send NDJSON or synthetic reports to the reports topic", run: runProduce},
	{name: "import", summary: "send the events of a UCDP GED or ACLED CSV file to the reports topic", run: runImport},
	{name: "incidents", summary: "resolve the stored reports into incidents, and keep them resolved", run: runIncidents},
	{name: "serve", summary: "serve map tiles, choropleths and reports over HTTP", run: runServe},
	{name: "partners", summary: "manage the API keys of field partners (add, list, revoke)", run: runPartners},
	{name: "zones", summary: "check zone-set files; match NDJSON points against zones", run: runZones},
	{name: "rematch", summary: "recompute zone membership of stored reports after a zone-set change", run: runRematch},
	{name: "dlq", summary: "inspect or replay the dead-letter topic", run: runDLQ},
	{name: "demo", summary: "run the whole pipeline locally with an embedded broker and ClickHouse", run: runDemo},
}

// lookup is the command called name.
func lookup(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func main() {
	std := stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr}
	os.Exit(run(os.Args[1:], std))
}

func run(args []string, std stdio) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(std.err)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := lookup(args[0])
	if !ok {
		fmt.Fprintf(std.err, "trucewatch: unknown command %q\n\n", args[0])
		usage(std.err)
		return 2
	}
	// The first SIGINT/SIGTERM cancels ctx (graceful: flush, commit, exit);
	// a second one kills the process at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		stop() // restore default handling: the next signal terminates
	}()
	defer func() { stop(); <-done }()
	err := c.run(ctx, args[1:], std)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintf(std.err, "trucewatch %s: %v\n", c.name, err)
		return 1
	}
}

// errUsage means the arguments were wrong; the flag set already said why.
var errUsage = errors.New("usage")

func usage(w io.Writer) {
	fmt.Fprintln(w, "trucewatch: monitor ceasefire compliance from geotagged incident reports")
	fmt.Fprintln(w, "\nUsage: trucewatch COMMAND [flags]   (trucewatch COMMAND --help for its flags)")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nEvery flag can also be set by an environment variable: --dlq-topic is TRUCEWATCH_DLQ_TOPIC.")
}

// newFlags returns a flag set for a subcommand whose --help prints the
// summary, the usage line and every flag with its environment variable.
func newFlags(name, usageLine, summary string, std stdio) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(std.err)
	fs.Usage = func() {
		fmt.Fprintf(std.err, "%s\n\nUsage: trucewatch %s %s\n\nFlags:\n", summary, name, usageLine)
		fs.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" {
				def = fmt.Sprintf(" (default %q)", f.DefValue)
			}
			fmt.Fprintf(std.err, "  --%s\n      %s%s [env %s]\n", f.Name, f.Usage, def, envName(f.Name))
		})
	}
	return fs
}

// parseFlags parses args, then fills every flag not given on the command
// line from its TRUCEWATCH_* environment variable.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("env %s: %w", envName(f.Name), err))
			}
		}
	})
	return errors.Join(errs...)
}

func envName(flagName string) string {
	return "TRUCEWATCH_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
