// Package synth generates synthetic field-partner reports shaped like the
// real conflict after the 30 December 2016 ceasefire: incidents cluster in
// the Damascus suburbs, Idlib, Aleppo, Daraa, northern Homs and Hama, with
// a realistic mix of categories and perpetrators, some of them groups the
// truce excludes. Deterministic for a seed, so tests can recompute what
// was sent.
package synth

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/trucewatch/trucewatch/report"
)

// hotspot is a cluster of incidents: centre, spread in degrees, weight.
type hotspot struct {
	name     string
	lon, lat float64
	sigma    float64
	weight   float64
}

// Weights follow the distribution of UCDP GED events in 2017 (Rif
// Dimashq/Damascus, Idlib, Aleppo and Hama lead; Daraa and Homs follow).
var hotspots = []hotspot{
	{"Eastern Ghouta", 36.40, 33.55, 0.05, 16},
	{"Darayya/Western Ghouta", 36.22, 33.45, 0.06, 5},
	{"Damascus (Jobar)", 36.33, 33.53, 0.02, 4},
	{"Wadi Barada", 36.07, 33.65, 0.04, 3},
	{"Idlib", 36.63, 35.93, 0.18, 16},
	{"Aleppo", 37.15, 36.20, 0.10, 12},
	{"Western Aleppo countryside", 36.85, 36.15, 0.10, 5},
	{"Daraa", 36.10, 32.62, 0.07, 9},
	{"Quneitra", 35.82, 33.10, 0.06, 2},
	{"Northern Homs (Rastan, Talbiseh)", 36.72, 34.88, 0.05, 6},
	{"Northern Hama", 36.65, 35.35, 0.10, 8},
	{"Deir ez-Zor", 40.14, 35.33, 0.15, 6},
	{"Raqqa", 39.01, 35.95, 0.12, 5},
	{"Palmyra", 38.27, 34.56, 0.15, 3},
}

var categories = []struct {
	c report.Category
	w float64
}{
	{report.Shelling, 34}, {report.Airstrike, 21}, {report.GroundClash, 17}, {report.SniperFire, 6},
	{report.IED, 4}, {report.MissileStrike, 3}, {report.DroneStrike, 2}, {report.Siege, 2},
	{report.Arrest, 4}, {report.Abduction, 2}, {report.PropertyDestruction, 2}, {report.Other, 3},
}

var actors = []struct {
	a report.Actor
	w float64
}{
	{report.Actor{Name: "Syrian Arab Army", Side: report.Government}, 30},
	{report.Actor{Name: "Russian Air Force", Side: report.Government}, 10},
	{report.Actor{Name: "National Defence Forces", Side: report.Government}, 5},
	{report.Actor{Name: "Jaysh al-Islam", Side: report.Opposition}, 8},
	{report.Actor{Name: "Faylaq al-Rahman", Side: report.Opposition}, 5},
	{report.Actor{Name: "Ahrar al-Sham", Side: report.Opposition}, 7},
	{report.Actor{Name: "Free Syrian Army", Side: report.Opposition}, 8},
	{report.Actor{Name: "Hayat Tahrir al-Sham", Side: report.ExcludedGroup}, 9},
	{report.Actor{Name: "Islamic State", Side: report.ExcludedGroup}, 8},
	{report.Actor{Name: "", Side: report.Unknown}, 10},
}

var partners = []string{"sn4hr", "sohr-field", "whitehelmets-idlib", "vdc-ghouta", "daraa24", "aleppo-media-centre"}

// Options shape a feed. The zero value gives reports observed over 2017.
type Options struct {
	Seed uint64
	// From and To bound observed_at; default 2016-12-30 .. 2017-12-31.
	From, To time.Time
	// Malformed is the fraction (0..1) of messages that are invalid on
	// purpose: broken JSON, coordinates out of range, unknown categories,
	// missing ids, dates in the future.
	Malformed float64
	// IDPrefix makes ids unique across runs (default "syn").
	IDPrefix string
	// Repeats is the fraction of messages that deliver one of the last
	// recentReports valid reports again, as it was; Corrections the
	// fraction that send a higher revision of one of them. Both 0 (the
	// default) leave the feed as it always was.
	Repeats, Corrections float64
	// Duplicates is the fraction of messages that report one of the
	// recent events again from another partner (Duplicate): one incident,
	// several reports.
	Duplicates float64
}

// recentReports is how many of the latest reports repeats and corrections
// pick from.
const recentReports = 10_000

// Feed generates messages. It is not safe for concurrent use.
type Feed struct {
	o      Options
	rng    *rand.Rand
	n      int
	hotCum []float64
	catCum []float64
	actCum []float64
	recent []report.Report // ring of the latest valid reports
}

// New returns a feed.
func New(o Options) *Feed {
	if o.From.IsZero() {
		o.From = time.Date(2016, 12, 30, 0, 0, 0, 0, time.UTC)
	}
	if o.To.IsZero() || !o.To.After(o.From) {
		o.To = o.From.Add(366 * 24 * time.Hour)
	}
	if o.IDPrefix == "" {
		o.IDPrefix = "syn"
	}
	f := &Feed{o: o, rng: rand.New(rand.NewPCG(o.Seed, 0x7275636577617463))}
	for _, h := range hotspots {
		f.hotCum = appendCum(f.hotCum, h.weight)
	}
	for _, c := range categories {
		f.catCum = appendCum(f.catCum, c.w)
	}
	for _, a := range actors {
		f.actCum = appendCum(f.actCum, a.w)
	}
	return f
}

func appendCum(cum []float64, w float64) []float64 {
	if len(cum) > 0 {
		w += cum[len(cum)-1]
	}
	return append(cum, w)
}

func (f *Feed) pick(cum []float64) int {
	x := f.rng.Float64() * cum[len(cum)-1]
	for i, c := range cum {
		if x < c {
			return i
		}
	}
	return len(cum) - 1
}

// Message is one generated Kafka message.
type Message struct {
	Key   []byte
	Value []byte
	// Report is the report that Value encodes; nil for a malformed message.
	Report *report.Report
	// Malformed says why the message is invalid, "" when it is valid.
	Malformed string
}

// Next returns the next message.
func (f *Feed) Next() Message {
	if f.o.Repeats > 0 || f.o.Corrections > 0 || f.o.Duplicates > 0 {
		if m, ok := f.again(); ok {
			return m
		}
	}
	r := f.Report()
	if f.o.Malformed > 0 && f.rng.Float64() < f.o.Malformed {
		return f.malformed(r)
	}
	if f.o.Repeats > 0 || f.o.Corrections > 0 || f.o.Duplicates > 0 {
		f.remember(r)
	}
	b, _ := json.Marshal(r)
	return Message{Key: []byte(r.ID), Value: b, Report: &r}
}

// again is, at the rates of the options, a repeated delivery or a
// correction of a recent report.
func (f *Feed) again() (Message, bool) {
	if len(f.recent) == 0 {
		return Message{}, false
	}
	x := f.rng.Float64()
	i := f.rng.IntN(len(f.recent))
	switch {
	case x < f.o.Repeats:
		return Encode(f.recent[i]), true
	case x < f.o.Repeats+f.o.Corrections:
		f.recent[i] = f.Revise(f.recent[i])
		return Encode(f.recent[i]), true
	case x < f.o.Repeats+f.o.Corrections+f.o.Duplicates:
		return Encode(f.Duplicate(f.recent[i])), true
	}
	return Message{}, false
}

func (f *Feed) remember(r report.Report) {
	if len(f.recent) < recentReports {
		f.recent = append(f.recent, r)
		return
	}
	f.recent[f.n%recentReports] = r
}

// Report returns the next valid report (it also advances the feed).
func (f *Feed) Report() report.Report {
	f.n++
	h := hotspots[f.pick(f.hotCum)]
	lon := h.lon + f.rng.NormFloat64()*h.sigma
	lat := h.lat + f.rng.NormFloat64()*h.sigma*0.8
	cat := categories[f.pick(f.catCum)].c
	perp := actors[f.pick(f.actCum)].a
	span := f.o.To.Sub(f.o.From)
	at := f.o.From.Add(time.Duration(f.rng.Int64N(int64(span)))).Truncate(time.Second)
	r := report.Report{
		ID:          fmt.Sprintf("%s-%d-%08d", f.o.IDPrefix, f.o.Seed, f.n),
		PartnerID:   partners[f.rng.IntN(len(partners))],
		Revision:    1,
		ObservedAt:  at,
		Lat:         round6(lat),
		Lon:         round6(lon),
		AccuracyM:   float64([]int{50, 100, 250, 500, 1000, 5000}[f.rng.IntN(6)]),
		Category:    cat,
		Perpetrator: perp,
		Description: fmt.Sprintf("%s reported near %s", cat, h.name),
	}
	if cat.Hostile() {
		r.Killed = uint32(poisson(f.rng, 0.8))
		r.Injured = uint32(poisson(f.rng, 2.0))
	}
	if f.rng.IntN(4) == 0 {
		r.Target = report.Actor{Name: "civilians", Side: report.Unknown}
	}
	if f.rng.IntN(3) == 0 {
		r.Sources = []string{"witness", "local council"}
	}
	return r
}

// Revise returns r corrected: a higher revision with changed casualties.
func (f *Feed) Revise(r report.Report) report.Report {
	r.Revision++
	r.Killed += uint32(f.rng.IntN(3))
	r.Injured += uint32(f.rng.IntN(5))
	r.Description += " (corrected)"
	return r
}

// Duplicate returns another partner's report of the event r reports: a
// new id, the point moved by up to about 700 m, the time by up to 40
// minutes, casualties off by one, at times another perpetrator side.
func (f *Feed) Duplicate(r report.Report) report.Report {
	f.n++
	p := partners[f.rng.IntN(len(partners)-1)]
	if p == r.PartnerID {
		p = partners[len(partners)-1]
	}
	r.ID = fmt.Sprintf("%s-%d-%08d", f.o.IDPrefix, f.o.Seed, f.n)
	r.PartnerID, r.Revision = p, 1
	r.Lat = round6(r.Lat + (f.rng.Float64()-0.5)*0.009)
	r.Lon = round6(r.Lon + (f.rng.Float64()-0.5)*0.011)
	r.ObservedAt = r.ObservedAt.Add(time.Duration(f.rng.IntN(4800)-2400) * time.Second)
	if r.Killed > 0 || f.rng.IntN(2) == 0 {
		r.Killed = uint32(max(0, int(r.Killed)+f.rng.IntN(3)-1))
	}
	if f.rng.IntN(8) == 0 {
		r.Perpetrator = actors[f.pick(f.actCum)].a
	}
	r.Description += " (as " + p + " reports it)"
	return r
}

// Encode returns the Kafka message for r.
func Encode(r report.Report) Message {
	b, _ := json.Marshal(r)
	return Message{Key: []byte(r.ID), Value: b, Report: &r}
}

func (f *Feed) malformed(r report.Report) Message {
	b, _ := json.Marshal(r)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	var why string
	switch f.rng.IntN(6) {
	case 0:
		return Message{Key: []byte(r.ID), Value: b[:len(b)/2], Malformed: "json"}
	case 1:
		m["lat"], why = 91.5, "lat"
	case 2:
		m["category"], why = "picnic", "category"
	case 3:
		delete(m, "id")
		why = "id"
	case 4:
		m["observed_at"], why = "2099-01-01T00:00:00Z", "observed_at"
	case 5:
		m["killed"], why = -3, "killed"
	}
	b, _ = json.Marshal(m)
	return Message{Key: []byte(r.ID), Value: b, Malformed: why}
}

func round6(x float64) float64 { return math.Round(x*1e6) / 1e6 }

func poisson(rng *rand.Rand, mean float64) int {
	l, k, p := math.Exp(-mean), 0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}
