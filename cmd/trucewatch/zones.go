package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"time"

	"github.com/paulmach/orb"
	"github.com/trucewatch/trucewatch/geo"
	"github.com/trucewatch/trucewatch/report"
	"github.com/trucewatch/trucewatch/violation"
)

const zonesUsage = `Usage:
  trucewatch zones check FILE...
      validate zone-set files (see geo/ZONES.md) and print a summary
  trucewatch zones match [--zones FILE,...] [--at TIME] [--accuracy M] < points.ndjson
      match NDJSON points {"lon":..,"lat":..,"observed_at":..} read on stdin;
      write one NDJSON match per line`

func runZones(ctx context.Context, args []string, std stdio) error {
	if len(args) == 0 {
		fmt.Fprintln(std.err, zonesUsage)
		return errUsage
	}
	switch args[0] {
	case "check":
		return runZonesCheck(ctx, args[1:], std)
	case "match":
		return runZonesMatch(ctx, args[1:], std)
	case "-h", "--help", "help":
		fmt.Fprintln(std.err, zonesUsage)
		return nil
	}
	fmt.Fprintf(std.err, "trucewatch zones: unknown subcommand %q\n\n%s\n", args[0], zonesUsage)
	return errUsage
}

func runZonesCheck(_ context.Context, args []string, std stdio) error {
	fs := newFlags("zones check", "FILE...", "Validate zone-set files and print a summary.", std)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errUsage
	}
	admin, err := geo.LoadAdmin()
	if err != nil {
		return err
	}
	var sets []*geo.ZoneSet
	bad := 0
	for _, path := range fs.Args() {
		zs, err := loadZoneFile(path, admin)
		if err != nil {
			bad++
			var verr *geo.ValidationError
			if errors.As(err, &verr) {
				fmt.Fprintf(std.out, "%s: INVALID, %d problem(s)\n", path, len(verr.Problems))
				for _, p := range verr.Problems {
					fmt.Fprintf(std.out, "  zone %s: %s\n", p.Zone, p.Problem)
				}
			} else {
				fmt.Fprintf(std.out, "%s: INVALID: %v\n", path, err)
			}
			continue
		}
		sets = append(sets, zs)
		fmt.Fprintf(std.out, "%s: ok, set %q, version %s, %d zone(s)\n", path, zs.Name, zs.Version, len(zs.Zones))
		printZoneSummary(std, geo.Summarize(zs, admin))
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d file(s) invalid", bad, fs.NArg())
	}
	if len(sets) > 1 {
		// The sets must also work together (unique ids).
		if _, err := geo.NewMatcher(admin, sets...); err != nil {
			return err
		}
	}
	return nil
}

// printZoneSummary prints one line a zone: id, kind, validity and area.
func printZoneSummary(std stdio, zones []geo.ZoneSummary) {
	for _, z := range zones {
		until := "open"
		if !z.ValidTo.IsZero() {
			until = z.ValidTo.Format(time.RFC3339)
		}
		var area string
		if z.PCodes > 0 {
			area = fmt.Sprintf("%d pcode(s) = %d sub-district(s)", z.PCodes, z.SubDistricts)
		} else {
			b := z.Bound
			area = fmt.Sprintf("inline %s, %d ring(s), bbox %.4f,%.4f %.4f,%.4f",
				z.GeometryType, z.Rings, b.Min[0], b.Min[1], b.Max[0], b.Max[1])
		}
		fmt.Fprintf(std.out, "  %-20s %-14s %s .. %s  %s\n", z.ID, z.Kind, z.ValidFrom.Format(time.RFC3339), until, area)
	}
}

func loadZoneFile(path string, admin *geo.Admin) (*geo.ZoneSet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return geo.LoadZoneSet(f, admin)
}

// zonePoint is one input line of zones match. Only lon and lat are needed.
type zonePoint struct {
	ID           string          `json:"id,omitempty"`
	Lon          *float64        `json:"lon"`
	Lat          *float64        `json:"lat"`
	ObservedAt   string          `json:"observed_at,omitempty"`
	AccuracyM    float64         `json:"accuracy_m,omitempty"`
	GeoPrecision string          `json:"geo_precision,omitempty"`
	Category     string          `json:"category,omitempty"`
	Perpetrator  json.RawMessage `json:"perpetrator,omitempty"` // {"name","side"} or a name
}

type zoneMatchOut struct {
	Line            int           `json:"line"`
	ID              string        `json:"id,omitempty"`
	Lon             float64       `json:"lon"`
	Lat             float64       `json:"lat"`
	At              string        `json:"at,omitempty"`
	AccuracyM       float64       `json:"accuracy_m,omitempty"`
	ZoneSet         string        `json:"zone_set"`
	Adm1            string        `json:"adm1"`
	Adm2            string        `json:"adm2"`
	Adm3            string        `json:"adm3"`
	AdmApprox       bool          `json:"adm_approx"`
	AdmDistM        *float64      `json:"adm_dist_m,omitempty"`
	Zones           []zoneHitOut  `json:"zones"`
	Nearest         []zoneNearOut `json:"nearest"`
	Violation       bool          `json:"violation"`
	ViolationReason string        `json:"violation_reason"`
}

// zoneMatchError is the output line for an input line that could not be
// matched.
type zoneMatchError struct {
	Line  int    `json:"line"`
	Error string `json:"error"`
}

type zoneHitOut struct {
	ID       string  `json:"id"`
	Kind     string  `json:"kind"`
	Set      string  `json:"set"`
	Possible bool    `json:"possible"`
	DepthM   float64 `json:"depth_m"`
}

type zoneNearOut struct {
	ID        string  `json:"id"`
	Kind      string  `json:"kind"`
	DistanceM float64 `json:"distance_m"`
}

func runZonesMatch(ctx context.Context, args []string, std stdio) error {
	fs := newFlags("zones match", "[--zones FILE,...] [--at TIME] < points.ndjson",
		"Match NDJSON points read on stdin against admin areas and zones; write one NDJSON match per line.", std)
	zones := fs.String("zones", "", "zone-set GeoJSON file(s), comma-separated (default: the shipped zone sets)")
	atFlag := fs.String("at", "", "match time (RFC 3339 or date) for points without observed_at; with --force-at, for all points")
	forceAt := fs.Bool("force-at", false, "use --at for every point, ignoring observed_at")
	accuracy := fs.Float64("accuracy", 0, "location uncertainty in metres for points without accuracy_m or geo_precision")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	var at time.Time
	if *atFlag != "" {
		var err error
		if at, err = report.ParseTime(*atFlag); err != nil {
			return fmt.Errorf("--at: %w", err)
		}
	}
	m, err := zoneFilesMatcher(splitList(*zones))
	if err != nil {
		return err
	}
	rules := violation.DefaultRules()

	in := bufio.NewScanner(std.in)
	in.Buffer(make([]byte, 64<<10), 4<<20)
	out := bufio.NewWriter(std.out)
	defer out.Flush()
	enc := json.NewEncoder(out)
	var (
		dst  geo.Match
		line int
		bad  int
	)
	for in.Scan() {
		if err := ctx.Err(); err != nil {
			return err
		}
		line++
		raw := bytes.TrimSpace(in.Bytes())
		if len(raw) == 0 {
			continue
		}
		o := zoneMatchOut{Line: line}
		var res any = &o
		if err := matchLine(raw, m, rules, at, *forceAt, *accuracy, &dst, &o); err != nil {
			bad++
			res = zoneMatchError{Line: line, Error: err.Error()}
		}
		if err := enc.Encode(res); err != nil {
			return err
		}
	}
	if err := in.Err(); err != nil {
		return fmt.Errorf("read stdin: %w", err)
	}
	if bad > 0 {
		out.Flush()
		return fmt.Errorf("%d of %d line(s) could not be matched", bad, line)
	}
	return nil
}

// zoneFilesMatcher is the matcher of the zone-set files (the shipped sets
// when there are none); an error names the file.
func zoneFilesMatcher(files []string) (*geo.Matcher, error) {
	admin, err := geo.LoadAdmin()
	if err != nil {
		return nil, err
	}
	var sets []*geo.ZoneSet
	if len(files) > 0 {
		for _, path := range files {
			zs, err := loadZoneFile(path, admin)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			sets = append(sets, zs)
		}
	} else if sets, err = geo.ShippedZoneSets(admin); err != nil {
		return nil, err
	}
	return geo.NewMatcher(admin, sets...)
}

func matchLine(raw []byte, m *geo.Matcher, rules violation.Rules, at time.Time, forceAt bool, accuracy float64, dst *geo.Match, o *zoneMatchOut) error {
	var p zonePoint
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	if p.Lon == nil || p.Lat == nil {
		return errors.New("lon and lat are required")
	}
	lon, lat := *p.Lon, *p.Lat
	if !(lon >= -180 && lon <= 180 && lat >= -90 && lat <= 90) {
		return fmt.Errorf("lon %v, lat %v: not a longitude/latitude", lon, lat)
	}
	t := at
	if p.ObservedAt != "" && !forceAt {
		var err error
		if t, err = report.ParseTime(p.ObservedAt); err != nil {
			return fmt.Errorf("observed_at: %w", err)
		}
	}
	rep := report.Report{
		ObservedAt:   t,
		Lat:          lat,
		Lon:          lon,
		AccuracyM:    p.AccuracyM,
		GeoPrecision: report.GeoPrecision(p.GeoPrecision),
		Category:     report.Category(p.Category),
	}
	if len(p.Perpetrator) > 0 {
		var name string
		if err := json.Unmarshal(p.Perpetrator, &name); err == nil {
			rep.Perpetrator.Name = name
		} else if err := json.Unmarshal(p.Perpetrator, &rep.Perpetrator); err != nil {
			return fmt.Errorf("perpetrator: want a name or {\"name\",\"side\"}: %w", err)
		}
	}
	acc := rep.UncertaintyM()
	if acc == 0 {
		acc = accuracy
	}
	m.MatchDistances(orb.Point{lon, lat}, t, acc, dst)
	*o = zoneMatchOut{
		Line: o.Line, ID: p.ID, Lon: lon, Lat: lat, AccuracyM: acc,
		ZoneSet: dst.ZoneSet, Adm1: dst.Adm1, Adm2: dst.Adm2, Adm3: dst.Adm3, AdmApprox: dst.AdmApprox,
		Zones: []zoneHitOut{}, Nearest: []zoneNearOut{},
	}
	if !t.IsZero() {
		o.At = t.UTC().Format(time.RFC3339)
	}
	if dst.AdmApprox {
		d := round1(dst.AdmDistM)
		o.AdmDistM = &d
	}
	for _, h := range dst.Zones {
		o.Zones = append(o.Zones, zoneHitOut{ID: h.ID, Kind: h.Kind, Set: h.Set, Possible: h.Possible, DepthM: round1(h.DepthM)})
	}
	sort.SliceStable(o.Zones, func(i, j int) bool { return o.Zones[i].ID < o.Zones[j].ID })
	for _, n := range dst.Nearest {
		o.Nearest = append(o.Nearest, zoneNearOut{ID: n.ID, Kind: n.Kind, DistanceM: round1(n.DistanceM)})
	}
	o.Violation, o.ViolationReason = rules.Classify(&rep, dst)
	return nil
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }
