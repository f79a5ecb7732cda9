package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/trucewatch/trucewatch/importer"
	"github.com/trucewatch/trucewatch/kafka/publish"
	"github.com/trucewatch/trucewatch/report"
)

// importFlags are the flags of import.
type importFlags struct {
	kafka            kafkaFlags
	rate             float64
	dry              bool
	version, partner string
	state            string
	keepMissing      bool
	mapping          string
	revision         uint
}

func (f *importFlags) register(fs *flag.FlagSet) {
	f.kafka.register(fs, defaultBrokers, false)
	fs.Float64Var(&f.rate, "rate", 0, "reports per second (0: as fast as the broker takes them)")
	fs.BoolVar(&f.dry, "dry-run", false, "map and validate only, send nothing, print the summary")
	fs.StringVar(&f.version, "version", "", "UCDP GED version of the file (e.g. 19.1, 23.1): the reports' revision; default from a file name like GEDEvent_v23_1.csv")
	fs.StringVar(&f.partner, "partner", "", "partner_id of the reports (default the dataset name)")
	fs.StringVar(&f.state, "state", "", "file recording what earlier imports sent: unchanged events are not sent again, changed ones are counted as revised, and those no longer in the file are withdrawn; updated after a complete import")
	fs.StringVar(&f.mapping, "map", "", "csv only: the JSON mapping of the file's columns to report fields (docs/import.md)")
	fs.UintVar(&f.revision, "revision", 0, "csv only: the reports' revision when the mapping names no revision column (default 1); raise it for a corrected file")
	fs.BoolVar(&f.keepMissing, "keep-missing", false, "with --state: do not withdraw the reports of events no longer in the file (for a file that holds part of the dataset)")
}

func runImport(ctx context.Context, args []string, std stdio) error {
	fs := newFlags("import", "ucdp|acled|csv FILE [flags]",
		"Read a UCDP GED or ACLED CSV file, or any CSV file with --map (gzip too), and send its events\nto the reports topic as schema-v1 reports, keyed by report id (ucdp-ID, acled-EVENT_ID_CNTY,\nNAME-ID). Rows the mapping cannot express are rejected with their reason in the summary;\ndocs/import.md has the mappings.", std)
	var f importFlags
	f.register(fs)
	dataset, file, err := importArgs(fs, args, std)
	if err != nil {
		return err
	}
	o, err := f.options(dataset, file)
	if err != nil {
		return err
	}
	in, size, closeIn, err := openInput(file, std)
	if err != nil {
		return err
	}
	defer closeIn()
	cr := &countingReader{r: in}
	im, err := importer.New(cr, o)
	if err != nil {
		return err
	}
	defer im.Close()
	prog := startProgress(std.err, cr, size, im)
	start := time.Now()
	sent, err := f.send(ctx, im)
	prog.stop()
	if f.dry {
		fmt.Fprintf(std.out, "dry run of %s %s (nothing sent; \"sent\" is what would be):\n", dataset, file)
	} else {
		fmt.Fprintf(std.out, "imported %s %s to %s in %s:\n", dataset, file, f.kafka.topic, time.Since(start).Round(time.Millisecond))
	}
	im.Stats().Summary(std.out, sent)
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return errors.New("interrupted: the state file was not updated")
	}
	if f.state != "" && !f.dry {
		return writeState(f.state, im)
	}
	return nil
}

// importArgs parses "DATASET FILE" with flags before or after FILE.
func importArgs(fs *flag.FlagSet, args []string, std stdio) (dataset, file string, err error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if err := parseFlags(fs, args); err != nil {
			return "", "", err
		}
		fs.Usage()
		return "", "", errUsage
	}
	dataset = args[0]
	if !slices.Contains(importer.Datasets, dataset) {
		fmt.Fprintf(std.err, "import: unknown dataset %q (%s)\n", dataset, strings.Join(importer.Datasets, ", "))
		return "", "", errUsage
	}
	if err := parseFlags(fs, args[1:]); err != nil {
		return "", "", err
	}
	rest := fs.Args()
	if len(rest) > 1 { // flags after FILE
		if err := parseFlags(fs, rest[1:]); err != nil {
			return "", "", err
		}
		if fs.NArg() > 0 {
			fmt.Fprintf(std.err, "import: one FILE only, got %q\n", append(rest[:1], fs.Args()...))
			return "", "", errUsage
		}
	}
	if len(rest) == 0 {
		fmt.Fprintln(std.err, "import: FILE missing (- for stdin)")
		return "", "", errUsage
	}
	return dataset, rest[0], nil
}

// options are the importer's options: the revision of a UCDP file from
// --version or its name, and what earlier imports sent (--state).
func (f *importFlags) options(dataset, file string) (importer.Options, error) {
	o := importer.Options{Dataset: dataset, PartnerID: f.partner, KeepMissing: f.keepMissing}
	if dataset == "ucdp" {
		v := f.version
		if v == "" {
			v = importer.UCDPVersionFromName(filepath.Base(file))
		}
		if v == "" {
			return o, errors.New("the UCDP version is not in the file name: give --version (e.g. --version 19.1)")
		}
		rev, err := importer.UCDPRevision(v)
		if err != nil {
			return o, err
		}
		o.Revision = rev
	} else if f.version != "" {
		return o, errors.New("--version is for ucdp (ACLED's revision is each row's timestamp)")
	}
	if (dataset == "csv") != (f.mapping != "") {
		return o, errors.New("--map FILE goes with csv, and csv needs it")
	}
	if f.revision > 0 && dataset != "csv" {
		return o, errors.New("--revision is for csv")
	}
	if f.mapping != "" {
		mf, err := os.Open(f.mapping)
		if err != nil {
			return o, err
		}
		o.Mapping, err = importer.ReadMapping(mf)
		mf.Close()
		if err != nil {
			return o, fmt.Errorf("%s: %w", f.mapping, err)
		}
		o.Revision = uint32(min(f.revision, report.MaxRevision))
	}
	if f.state == "" {
		return o, nil
	}
	st, err := os.Open(f.state)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return o, nil
	case err != nil:
		return o, err
	}
	defer st.Close()
	o.Prior, err = importer.ReadState(st)
	return o, err
}

// openInput opens FILE, or stdin for "-", and says its size (0 unknown).
func openInput(file string, std stdio) (io.Reader, int64, func(), error) {
	if isStdin(file) {
		return std.in, 0, func() {}, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, 0, nil, err
	}
	var size int64
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	return f, size, func() { f.Close() }, nil
}

// send publishes the import's reports, or with --dry-run only maps and
// counts them.
func (f *importFlags) send(ctx context.Context, im *importer.Importer) (int, error) {
	if !f.dry {
		_, transport, err := f.kafka.clients()
		if err != nil {
			return 0, err
		}
		pub := publish.New(publish.Options{Brokers: f.kafka.brokerList(), Topic: f.kafka.topic, Transport: transport})
		defer pub.Close()
		return publish.Stream(ctx, pub, im.Source(), f.rate)
	}
	src, sent := im.Source(), 0
	for ctx.Err() == nil {
		_, ok, err := src()
		if err != nil || !ok {
			return sent, err
		}
		sent++
	}
	return sent, nil
}

// writeState replaces the state file with what this import sent.
func writeState(path string, im *importer.Importer) error {
	var b bytes.Buffer
	if _, err := im.State().WriteTo(&b); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// countingReader counts the bytes read, for the progress bar.
type countingReader struct {
	r  io.Reader
	mu sync.Mutex
	n  int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.mu.Lock()
	c.n += int64(n)
	c.mu.Unlock()
	return n, err
}

func (c *countingReader) count() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// progress prints how far the import is on stderr: one line redrawn
// with \r on a terminal, else a plain line every 5 s.
type progress struct {
	w    io.Writer
	tty  bool
	done chan struct{}
	wg   sync.WaitGroup
	line func() string
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func startProgress(w io.Writer, cr *countingReader, size int64, im *importer.Importer) *progress {
	p := &progress{w: w, tty: isTerminal(w), done: make(chan struct{})}
	p.line = func() string {
		line := im.Line()
		if size <= 0 {
			return fmt.Sprintf("line %d, %d MB read", line, cr.count()>>20)
		}
		frac := min(1, float64(cr.count())/float64(size))
		const width = 30
		bar := strings.Repeat("#", int(frac*width)) + strings.Repeat(".", width-int(frac*width))
		return fmt.Sprintf("[%s] %3.0f%% line %d", bar, frac*100, line)
	}
	every := 5 * time.Second
	if p.tty {
		every = 200 * time.Millisecond
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-t.C:
				if p.tty {
					fmt.Fprintf(p.w, "\r%s", p.line())
				} else {
					fmt.Fprintln(p.w, p.line())
				}
			}
		}
	}()
	return p
}

func (p *progress) stop() {
	if p == nil {
		return
	}
	close(p.done)
	p.wg.Wait()
	if p.tty {
		fmt.Fprintf(p.w, "\r%s\n", p.line())
	}
}
