// Package read is the vocabulary of storage's read API: what a reader
// (package serve) asks storage for and what it gets back, and the tile
// key arithmetic, without the ClickHouse driver. A reader declares the
// interface of the storage.Store methods it uses in these types, so that
// it neither imports the driver nor writes SQL.
package read

import (
	"errors"
	"time"
)

// Errors of the read methods. ErrBusy and ErrUnavailable wrap the driver's
// error, so that a reader tells them with errors.Is and no driver.
var (
	// ErrNoData is returned by Store.Extent when no report is stored.
	ErrNoData = errors.New("storage: no data")
	// ErrBusy: no connection to ClickHouse was free in time; the same
	// query may succeed later.
	ErrBusy = errors.New("storage: busy")
	// ErrUnavailable: ClickHouse could not be reached (a network error,
	// not an answer).
	ErrUnavailable = errors.New("storage: database unavailable")
)

// Filter selects reports. The zero value of each field selects all.
type Filter struct {
	// From and To bound observed_at, [From, To), to the second.
	From, To   time.Time
	Categories []string
	Sides      []string // perpetrator sides
	Violations []uint8  // violation classes (NotViolation, DefiniteViolation, PossibleViolation)
	Precisions []string // geo precisions (Precisions)
	Zones      []string // reports inside one of these zones (not only possibly)
	Partners   []string
}

// NeedsRaw reports whether f can only be answered from the raw reports
// table: the tile aggregate holds only category and violation.
func (f *Filter) NeedsRaw() bool {
	return len(f.Sides) > 0 || len(f.Zones) > 0 || len(f.Partners) > 0
}

// CellQuery asks for the counts of the cells (tiles at zoom Zoom) inside
// Area.
type CellQuery struct {
	Filter
	Area       Tile
	Zoom       uint32 // cell zoom, Area.Z <= Zoom <= TileZoom
	ByCategory bool   // one Cell per cell and category
	// ByPrecision: one Cell per cell and precision, with nothing counted
	// as Coarse (the reader places them). Otherwise the cells count the
	// reports placed at zoom Area.Z and the others as Coarse.
	ByPrecision bool
	// Raw reads the raw reports table; otherwise the tile aggregate,
	// which needs From and To at UTC midnights and no filter NeedsRaw.
	Raw bool
	// OneThread runs the query on one ClickHouse thread: cheaper to start
	// for a small key range when many are asked for at once.
	OneThread bool
}

// Counts are signed sums over current reports.
//
// Every measure means the same in zones, admin areas and tiles: Reports,
// Killed and Injured count the reports placed there (see PlacedAt);
// Violations the definite candidate violations among them,
// PossibleViolations the possible ones; Coarse the reports whose point
// lies there but whose precision is too coarse for the level shown (not
// in the other counts).
type Counts struct {
	Reports, Killed, Injured, Violations int64
	PossibleViolations, Coarse           int64
}

// Add adds o's counts to c.
func (c *Counts) Add(o Counts) {
	c.Reports += o.Reports
	c.Killed += o.Killed
	c.Injured += o.Injured
	c.Violations += o.Violations
	c.PossibleViolations += o.PossibleViolations
	c.Coarse += o.Coarse
}

// Cell is the counts of one cell (and category, with ByCategory).
type Cell struct {
	Key       uint64 // quadkey at the query's Zoom
	Category  string // with ByCategory only
	Precision string // with ByPrecision only
	Counts
}

// Point is the counts of one stored report revision at its coordinates
// (Store.TilePoints); Reports is 0 for a revision replaced since.
type Point struct {
	Lon, Lat  float64
	Category  string
	Precision string
	Counts
}

// Totals are an area's counts over a window. Possible counts the reports
// whose uncertainty circle only crosses a zone (zones only); the other
// counts leave those out, and so a zone's PossibleViolations are the
// candidate violations among its Possible reports.
type Totals struct {
	Counts
	Possible int64
}

// HourTotals are a zone's totals in one hour.
type HourTotals struct {
	Hour time.Time // UTC
	Totals
}

// Box bounds coordinates, inclusive.
type Box struct {
	MinLon, MinLat, MaxLon, MaxLat float64
}

// Cursor is the keyset position of a report in (ObservedAt, PartnerID,
// ReportID) order: ReportQuery.After returns the reports after it.
type Cursor struct {
	ObservedAt          int64 // Unix seconds
	PartnerID, ReportID string
}

// ReportQuery asks for the current revision of the reports matching
// Filter (and Box), in (observed_at, partner_id, report_id) order.
type ReportQuery struct {
	Filter
	Box   *Box    // nil = everywhere
	After *Cursor // nil = from the first
	Limit int     // at most this many
}

// Report is the current revision of a stored report.
type Report struct {
	PartnerID, ReportID              string
	Revision                         uint32
	ObservedAt                       int64 // Unix seconds
	Lat, Lon                         float64
	AccuracyM                        float32
	Category                         string
	PerpetratorName, PerpetratorSide string
	TargetName, TargetSide           string
	Killed, Injured                  uint32
	Zones, PossibleZones             []string
	Adm1, Adm2, Adm3                 string
	Violation                        bool
	ViolationReason, Description     string
	ObservedUntil                    int64 // Unix seconds, 0 = none
	TimePrecision, GeoPrecision      string
	Sources                          []string
	ZoneSet                          string    // the zone-set version the zones were matched against
	AdmApprox                        bool      // adm1..3 from the nearest area, not one containing the point
	ReceivedAt                       int64     // Unix seconds
	Withdrawn                        bool      // a withdrawal (History only: current reports never are)
	IncidentOf                       ReportKey // the report it says it reports the same event as; zero for none
}
