package main

import (
	"bytes"
	"context"
	"errors"
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
)

func runImport(ctx context.Context, args []string, std stdio) error {
	fs := newFlags("import", "ucdp|acled FILE [flags]",
		"Read a UCDP GED or ACLED CSV file (gzip too) and send its events to the reports topic as\nschema-v1 reports, keyed by report id (ucdp-ID, acled-EVENT_ID_CNTY). Rows the mapping\ncannot express are rejected with their reason in the summary; docs/import.md has both mappings.", std)
	var kf kafkaFlags
	kf.register(fs, defaultBrokers, false)
	rate := fs.Float64("rate", 0, "reports per second (0: as fast as the broker takes them)")
	dry := fs.Bool("dry-run", false, "map and validate only, send nothing, print the summary")
	version := fs.String("version", "", "UCDP GED version of the file (e.g. 19.1, 23.1): the reports' revision; default from a file name like GEDEvent_v23_1.csv")
	partner := fs.String("partner", "", "partner_id of the reports (default the dataset name)")
	statePath := fs.String("state", "", "file recording what earlier imports sent: unchanged events are not sent again and changed ones are counted as revised; updated after a complete import")
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		fs.Usage()
		return errUsage
	}
	dataset := args[0]
	if !slices.Contains(importer.Datasets, dataset) {
		fmt.Fprintf(std.err, "import: unknown dataset %q (%s)\n", dataset, strings.Join(importer.Datasets, ", "))
		return errUsage
	}
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) > 1 { // flags after FILE
		if err := parseFlags(fs, rest[1:]); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			fmt.Fprintf(std.err, "import: one FILE only, got %q\n", append(rest[:1], fs.Args()...))
			return errUsage
		}
	}
	if len(rest) == 0 {
		fmt.Fprintln(std.err, "import: FILE missing (- for stdin)")
		return errUsage
	}
	file := rest[0]
	o := importer.Options{Dataset: dataset, PartnerID: *partner}
	if dataset == "ucdp" {
		v := *version
		if v == "" {
			v = importer.UCDPVersionFromName(filepath.Base(file))
		}
		if v == "" {
			return errors.New("the UCDP version is not in the file name: give --version (e.g. --version 19.1)")
		}
		rev, err := importer.UCDPRevision(v)
		if err != nil {
			return err
		}
		o.Revision = rev
	} else if *version != "" {
		return errors.New("--version is for ucdp (ACLED's revision is each row's timestamp)")
	}
	if *statePath != "" {
		f, err := os.Open(*statePath)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return err
		default:
			o.Prior, err = importer.ReadState(f)
			f.Close()
			if err != nil {
				return err
			}
		}
	}

	in := io.Reader(std.in)
	var size int64
	if !isStdin(file) {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil {
			size = fi.Size()
		}
		in = f
	}
	cr := &countingReader{r: in}
	im, err := importer.New(cr, o)
	if err != nil {
		return err
	}
	defer im.Close()

	prog := startProgress(std.err, cr, size, im)
	var sent int
	start := time.Now()
	if *dry {
		src := im.Source()
		for {
			_, ok, err2 := src()
			if err2 != nil {
				err = err2
				break
			}
			if !ok || ctx.Err() != nil {
				break
			}
			sent++
		}
	} else {
		_, transport, terr := kf.clients()
		if terr != nil {
			prog.stop()
			return terr
		}
		pub := publish.New(publish.Options{Brokers: kf.brokerList(), Topic: kf.topic, Transport: transport})
		defer pub.Close()
		sent, err = publish.Stream(ctx, pub, im.Source(), *rate)
	}
	prog.stop()
	st := im.Stats()
	if *dry {
		fmt.Fprintf(std.out, "dry run of %s %s (nothing sent; \"sent\" is what would be):\n", dataset, file)
	} else {
		fmt.Fprintf(std.out, "imported %s %s to %s in %s:\n", dataset, file, kf.topic, time.Since(start).Round(time.Millisecond))
	}
	st.Summary(std.out, sent)
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return errors.New("interrupted: the state file was not updated")
	}
	if *statePath != "" && !*dry {
		var b bytes.Buffer
		if _, err := im.State().WriteTo(&b); err != nil {
			return err
		}
		tmp := *statePath + ".tmp"
		if err := os.WriteFile(tmp, b.Bytes(), 0o644); err != nil {
			return err
		}
		return os.Rename(tmp, *statePath)
	}
	return nil
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
