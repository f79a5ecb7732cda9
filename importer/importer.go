// Package importer turns the rows of a conflict-event dataset (UCDP GED,
// ACLED) into schema-v1 reports: one file per dataset mapping, a CSV
// reader that also takes gzip, and a Source that kafka/publish.Stream
// sends. Every row becomes a report or a rejection with its reason; none
// is dropped silently. docs/import.md documents both mappings.
package importer

import (
	"bufio"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/trucewatch/trucewatch/kafka/publish"
	"github.com/trucewatch/trucewatch/report"
)

// ErrDataset is returned for an unknown dataset name.
var ErrDataset = errors.New("importer: unknown dataset (ucdp, acled, csv)")

// Datasets lists the dataset names New accepts.
var Datasets = []string{"ucdp", "acled", "csv"}

// Options configure an Importer. The zero value of every field but
// Dataset works.
type Options struct {
	// Dataset is "ucdp" or "acled".
	Dataset string
	// PartnerID of the reports; default the dataset name.
	PartnerID string
	// Revision of UCDP reports (see UCDPRevision); 0 means unknown, which
	// New refuses for UCDP. ACLED takes each row's timestamp.
	Revision uint32
	// Prior is what an earlier import sent (report id -> revision and
	// content hash), nil when unknown. With it, reports whose content did
	// not change are not sent again (unchanged) and changed ones are
	// counted as revised.
	Prior State
	// Mapping is how a csv dataset's columns become reports (ReadMapping).
	// Its reports' revision is Revision (default 1) unless the mapping
	// names a revision column.
	Mapping *Mapping
	// KeepMissing: a report of Prior that the file no longer holds is left
	// as it is. By default it is withdrawn (the dataset deleted the event).
	KeepMissing bool
	// Now bounds observed_at when validating (report.Decode); default
	// time.Now.
	Now time.Time
}

// mapper maps one CSV row to a report.
type mapper func(r row, o *Options) (report.Report, error)

// Importer reads one dataset file.
type Importer struct {
	o      Options
	m      mapper
	csv    *csv.Reader
	head   map[string]int
	seen   map[string]bool
	next   State    // what this import sent or found unchanged
	gone   []string // Prior's reports the file does not hold, to withdraw
	ended  bool
	stats  Stats
	line   atomic.Int64
	closer io.Closer
}

// Stats counts what an import did with the rows of its file.
type Stats struct {
	Read      int            // data rows read
	New       int            // reports sent that Prior did not hold (all of them without Prior)
	Revised   int            // reports sent whose content changed since Prior
	Unchanged int            // reports not sent: same content as in Prior
	Withdrawn int            // withdrawals sent: Prior's reports the file no longer holds
	Rejected  int            // rows that became no report
	Reasons   map[string]int // rejected rows by reason
	Examples  map[string]string
}

// Reject is the reason a row became no report.
type Reject struct {
	Reason string // stable, short, the key of the summary
	Detail string // the value that caused it
}

func (e *Reject) Error() string {
	if e.Detail == "" {
		return e.Reason
	}
	return e.Reason + ": " + e.Detail
}

func reject(reason, format string, args ...any) error {
	return &Reject{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// New reads the header of a dataset file (CSV, gzip detected by its magic
// bytes) and returns an importer of its rows.
func New(r io.Reader, o Options) (*Importer, error) {
	var m mapper
	var required []string
	switch o.Dataset {
	case "ucdp":
		m, required = mapUCDP, ucdpColumns
		if o.Revision == 0 {
			return nil, errors.New("importer: ucdp needs the dataset version (--version, e.g. 19.1)")
		}
	case "acled":
		m, required = mapACLED, acledColumns
	case "csv":
		if o.Mapping == nil {
			return nil, errors.New("importer: csv needs a mapping (--map FILE)")
		}
		m, required = o.Mapping.mapCSV, o.Mapping.columns()
		if o.PartnerID == "" {
			o.PartnerID = o.Mapping.Name
		}
	default:
		return nil, fmt.Errorf("%w: %q", ErrDataset, o.Dataset)
	}
	if o.PartnerID == "" {
		o.PartnerID = o.Dataset
	}
	br := bufio.NewReaderSize(r, 1<<16)
	im := &Importer{o: o, m: m, seen: map[string]bool{}, next: State{}}
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("importer: gzip: %w", err)
		}
		im.closer = zr
		im.csv = csv.NewReader(zr)
	} else {
		im.csv = csv.NewReader(br)
	}
	im.csv.FieldsPerRecord = -1
	im.csv.Comment = '#' // a fixture says what it is; no dataset row starts with #
	im.csv.ReuseRecord = true
	header, err := im.csv.Read()
	if err != nil {
		return nil, fmt.Errorf("importer: header: %w", err)
	}
	im.head = map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		im.head[strings.ToLower(h)] = i
	}
	var missing []string
	for _, c := range required {
		if _, ok := im.head[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("importer: not a %s file: no column %s", o.Dataset, strings.Join(missing, ", "))
	}
	im.stats.Reasons = map[string]int{}
	im.stats.Examples = map[string]string{}
	return im, nil
}

// Close releases the gzip reader, if any (not the reader given to New).
func (im *Importer) Close() error {
	if im.closer != nil {
		return im.closer.Close()
	}
	return nil
}

// place is how a dataset codes where and when an event was: the column
// of each precision code, its table, and the codes' range as a rejection
// names it; the coordinates are in latitude and longitude.
type place struct {
	timeCol, timeCodes string
	time               map[string]report.TimePrecision
	geoCol, geoCodes   string
	geo                map[string]report.GeoPrecision
}

// set sets rep's precisions and coordinates from r, or rejects event id
// with a reason that starts with the dataset's name ds.
func (p place) set(rep *report.Report, r row, ds, id string) error {
	var ok bool
	if rep.TimePrecision, ok = p.time[r.get(p.timeCol)]; !ok {
		return reject(ds+": "+p.timeCol+" not "+p.timeCodes, "%s: %q", id, r.get(p.timeCol))
	}
	if rep.GeoPrecision, ok = p.geo[r.get(p.geoCol)]; !ok {
		return reject(ds+": "+p.geoCol+" not "+p.geoCodes, "%s: %q", id, r.get(p.geoCol))
	}
	var err error
	if rep.Lat, err = strconv.ParseFloat(r.get("latitude"), 64); err != nil {
		return reject(ds+": bad latitude", "%s: %q", id, r.get("latitude"))
	}
	if rep.Lon, err = strconv.ParseFloat(r.get("longitude"), 64); err != nil {
		return reject(ds+": bad longitude", "%s: %q", id, r.get("longitude"))
	}
	return nil
}

// casualties is the count in column col of r, or a rejection of event id
// (with a reason that starts with the dataset's name ds) when it is not a
// count or above the schema's limit.
func casualties(r row, col, ds, id string) (uint32, error) {
	n, err := strconv.ParseUint(r.get(col), 10, 32)
	if err != nil {
		return 0, reject(ds+": bad "+col, "%s: %q", id, r.get(col))
	}
	if n > report.MaxCasualties {
		return 0, reject(ds+": "+col+" above the schema's limit", "%s: %d", id, n)
	}
	return uint32(n), nil
}

// row is one CSV record with its header.
type row struct {
	head map[string]int
	rec  []string
}

// get is the trimmed value of column name ("" when absent).
func (r row) get(name string) string {
	if i, ok := r.head[name]; ok && i < len(r.rec) {
		return strings.TrimSpace(r.rec[i])
	}
	return ""
}

// Next returns the next report to send, counting rejected and unchanged
// rows on the way; ok is false at the end of the file. The error is a
// read error, not a bad row.
func (im *Importer) Next() (rep report.Report, ok bool, err error) {
	for {
		if im.ended {
			return im.withdrawal()
		}
		rec, err := im.csv.Read()
		if err == io.EOF {
			im.ended = true
			im.gone = im.missing()
			continue
		}
		im.stats.Read++
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return report.Report{}, false, fmt.Errorf("importer: read: %w", err)
			}
			im.line.Store(int64(pe.StartLine))
			im.rejected(&Reject{Reason: "csv: " + pe.Err.Error(), Detail: pe.Error()}, pe.StartLine)
			continue
		}
		line, _ := im.csv.FieldPos(0)
		im.line.Store(int64(line))
		r, err := im.m(row{im.head, rec}, &im.o)
		if err == nil {
			r, err = validate(r, im.o.Now)
		}
		if err == nil && im.seen[r.ID] {
			err = reject("duplicate id", "%s", r.ID)
		}
		if err != nil {
			im.rejected(err, line)
			continue
		}
		im.seen[r.ID] = true
		h := contentHash(r)
		prior, known := im.o.Prior[r.ID]
		switch {
		case !known:
			im.stats.New++
		case prior.Hash == h && h != withdrawnHash:
			im.stats.Unchanged++
			im.next[r.ID] = prior
			continue
		case r.Revision <= prior.Revision:
			im.rejected(reject("changed without a newer revision", "%s revision %d, sent before as %d", r.ID, r.Revision, prior.Revision), line)
			continue
		default:
			im.stats.Revised++
		}
		im.next[r.ID] = Entry{Revision: r.Revision, Hash: h}
		return r, true, nil
	}
}

func (im *Importer) rejected(err error, line int) {
	var rj *Reject
	if !errors.As(err, &rj) {
		rj = &Reject{Reason: "invalid report", Detail: err.Error()}
	}
	im.stats.Rejected++
	im.stats.Reasons[rj.Reason]++
	if _, ok := im.stats.Examples[rj.Reason]; !ok {
		im.stats.Examples[rj.Reason] = fmt.Sprintf("line %d: %s", line, rj.Detail)
	}
}

// validate runs the report through the decoder ingest uses, so that what
// would be dead-lettered is rejected here with its reason instead.
func validate(r report.Report, now time.Time) (report.Report, error) {
	if now.IsZero() {
		now = time.Now()
	}
	b, err := json.Marshal(r)
	if err != nil {
		return r, err
	}
	d, err := report.Decode(b, now)
	if err != nil {
		var es report.Errors
		if errors.As(err, &es) && len(es) > 0 {
			return r, &Reject{Reason: "invalid report: " + es[0].Field + ": " + es[0].Rule, Detail: r.ID + ": " + err.Error()}
		}
		return r, &Reject{Reason: "invalid report", Detail: r.ID + ": " + err.Error()}
	}
	return d, nil
}

// contentHash identifies a report's content, revision aside.
func contentHash(r report.Report) uint64 {
	r.Revision = 0
	b, _ := json.Marshal(r)
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}

// Stats returns the counts so far (the maps are the importer's).
func (im *Importer) Stats() Stats { return im.stats }

// Line is the line of the file last read; safe to call from another
// goroutine (for progress).
func (im *Importer) Line() int { return int(im.line.Load()) }

// withdrawnHash marks a withdrawn report in a State (no content hashes to
// it: contentHash of any report is another value with overwhelming odds).
const withdrawnHash = 0

// missing lists, sorted, the reports of Prior that the file does not hold
// and that are not withdrawn already.
func (im *Importer) missing() []string {
	if im.o.KeepMissing {
		return nil
	}
	var out []string
	for id, e := range im.o.Prior {
		if !im.seen[id] && e.Hash != withdrawnHash {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// withdrawal returns the next withdrawal to send: a revision above the
// last one sent (the file's version for UCDP), ok false when none is left.
func (im *Importer) withdrawal() (report.Report, bool, error) {
	if len(im.gone) == 0 {
		return report.Report{}, false, nil
	}
	id := im.gone[0]
	im.gone = im.gone[1:]
	rev := max(im.o.Revision, im.o.Prior[id].Revision+1)
	im.stats.Withdrawn++
	im.next[id] = Entry{Revision: rev, Hash: withdrawnHash}
	return report.Report{ID: id, PartnerID: im.o.PartnerID, Revision: rev, Withdrawn: true,
		Description: "withdrawn: no longer in the " + im.o.Dataset + " dataset"}, true, nil
}

// State returns what a later import should take as Prior: every report of
// this file that was sent or found unchanged. Save it only once the
// brokers acknowledged everything sent.
func (im *Importer) State() State {
	out := State{}
	for id, e := range im.o.Prior {
		out[id] = e
	}
	for id, e := range im.next {
		out[id] = e
	}
	return out
}

// Source is a publish.Source of the reports, keyed by report id.
func (im *Importer) Source() publish.Source {
	return func() (publish.Message, bool, error) {
		r, ok, err := im.Next()
		if !ok || err != nil {
			return publish.Message{}, false, err
		}
		b, err := json.Marshal(r)
		if err != nil {
			return publish.Message{}, false, err
		}
		return publish.Message{Key: []byte(r.ID), Value: b}, true, nil
	}
}

// Summary writes the counts, one per line, and the rejection reasons with
// an example each.
func (s Stats) Summary(w io.Writer, sent int) {
	fmt.Fprintf(w, "read       %d rows\n", s.Read)
	fmt.Fprintf(w, "sent       %d reports (%d new, %d revised, %d withdrawn)\n", sent, s.New, s.Revised, s.Withdrawn)
	fmt.Fprintf(w, "unchanged  %d (not sent again)\n", s.Unchanged)
	if s.Withdrawn > 0 {
		fmt.Fprintf(w, "withdrawn  %d (in the state, no longer in the file)\n", s.Withdrawn)
	}
	fmt.Fprintf(w, "rejected   %d\n", s.Rejected)
	reasons := make([]string, 0, len(s.Reasons))
	for k := range s.Reasons {
		reasons = append(reasons, k)
	}
	sort.Slice(reasons, func(i, j int) bool {
		if s.Reasons[reasons[i]] != s.Reasons[reasons[j]] {
			return s.Reasons[reasons[i]] > s.Reasons[reasons[j]]
		}
		return reasons[i] < reasons[j]
	})
	for _, k := range reasons {
		fmt.Fprintf(w, "  %6d  %s (e.g. %s)\n", s.Reasons[k], k, s.Examples[k])
	}
}
