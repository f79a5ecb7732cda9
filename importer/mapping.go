package importer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trucewatch/trucewatch/report"
)

// Mapping says how the columns of another dataset's CSV file become
// schema-v1 reports (trucewatch import csv --map FILE, docs/import.md).
type Mapping struct {
	// Name prefixes the report ids (NAME-<id column>) and is the default
	// partner id.
	Name string `json:"name"`
	// Columns names, for each report field, the CSV column it is read
	// from: id (required), revision, observed_at, observed_until,
	// time_precision, lat, lon, accuracy_m, geo_precision, category,
	// perpetrator.name, perpetrator.side, target.name, target.side,
	// killed, injured, description, sources, incident_of.partner_id,
	// incident_of.id (a link to another report of the same event: without
	// a partner, one of this dataset's, NAME-<id> as the report ids).
	Columns map[string]string `json:"columns"`
	// Constants gives fields a fixed value instead of a column.
	Constants map[string]string `json:"constants"`
	// Values translates a column's values for a field ("Air strike" ->
	// airstrike); a value not listed is taken as it is.
	Values map[string]map[string]string `json:"values"`
	// DateLayout is the Go layout of observed_at and observed_until
	// ("02/01/2006"); default RFC 3339 or a date (2006-01-02).
	DateLayout string `json:"date_layout"`
	// SourcesSeparator splits the sources column (default ";").
	SourcesSeparator string `json:"sources_separator"`
}

// mappingFields are the report fields a Mapping can set.
var mappingFields = []string{"id", "revision", "observed_at", "observed_until", "time_precision",
	"lat", "lon", "accuracy_m", "geo_precision", "category", "perpetrator.name", "perpetrator.side",
	"target.name", "target.side", "killed", "injured", "description", "sources",
	"incident_of.partner_id", "incident_of.id"}

// MaxMappingBytes bounds a mapping file.
const MaxMappingBytes = 1 << 20

// ReadMapping reads and checks a JSON mapping; errors name the field.
func ReadMapping(r io.Reader) (*Mapping, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxMappingBytes+1))
	if err != nil {
		return nil, fmt.Errorf("importer: mapping: %w", err)
	}
	if len(b) > MaxMappingBytes {
		return nil, fmt.Errorf("importer: mapping: larger than %d bytes", MaxMappingBytes)
	}
	var m Mapping
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("importer: mapping: %w", err)
	}
	return &m, m.check()
}

func (m *Mapping) check() error {
	var errs []error
	if m.Name == "" || !report.ValidPartnerID(m.Name) {
		errs = append(errs, fmt.Errorf("name: %q must match %s", m.Name, report.PartnerIDPattern))
	}
	if m.Columns["id"] == "" {
		errs = append(errs, errors.New("columns.id: required (the column of the dataset's event id)"))
	}
	for _, set := range []struct {
		what string
		keys []string
	}{{"columns", slices.Sorted(maps.Keys(m.Columns))}, {"constants", slices.Sorted(maps.Keys(m.Constants))}, {"values", slices.Sorted(maps.Keys(m.Values))}} {
		for _, f := range set.keys {
			if !slices.Contains(mappingFields, f) {
				errs = append(errs, fmt.Errorf("%s.%s: not a report field (%s)", set.what, f, strings.Join(mappingFields, ", ")))
			}
		}
	}
	for f := range m.Constants {
		if _, ok := m.Columns[f]; ok {
			errs = append(errs, fmt.Errorf("constants.%s: also in columns", f))
		}
	}
	for _, f := range []string{"observed_at", "lat", "lon", "category"} {
		if m.Columns[f] == "" && m.Constants[f] == "" {
			errs = append(errs, fmt.Errorf("columns.%s: required (or a constant)", f))
		}
	}
	if m.SourcesSeparator == "" {
		m.SourcesSeparator = ";"
	}
	return errors.Join(errs...)
}

// columns are the CSV columns the mapping reads.
func (m *Mapping) columns() []string {
	var out []string
	for _, c := range m.Columns {
		out = append(out, strings.ToLower(c))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// value is field's value in r: the constant, or the column's (translated).
func (m *Mapping) value(r row, field string) string {
	if c, ok := m.Constants[field]; ok {
		return c
	}
	col, ok := m.Columns[field]
	if !ok {
		return ""
	}
	v := r.get(strings.ToLower(col))
	if t, ok := m.Values[field][v]; ok {
		return t
	}
	return v
}

// mapCSV maps a row by the mapping. Values are checked by report.Decode
// afterwards (validate), so a bad one is rejected with the field's rule.
func (m *Mapping) mapCSV(r row, o *Options) (report.Report, error) {
	id := m.value(r, "id")
	if id == "" {
		return report.Report{}, reject(m.Name+": no id", "")
	}
	rep := report.Report{ID: m.Name + "-" + id, PartnerID: o.PartnerID, Revision: max(o.Revision, 1),
		TimePrecision: report.TimePrecision(m.value(r, "time_precision")), GeoPrecision: report.GeoPrecision(m.value(r, "geo_precision")),
		Category:    report.Category(m.value(r, "category")),
		Perpetrator: report.Actor{Name: clip(m.value(r, "perpetrator.name"), report.MaxActorNameLen), Side: report.Side(m.value(r, "perpetrator.side"))},
		Target:      report.Actor{Name: clip(m.value(r, "target.name"), report.MaxActorNameLen), Side: report.Side(m.value(r, "target.side"))},
		Description: clip(m.value(r, "description"), report.MaxDescriptionLen),
		Sources:     splitSources(m.value(r, "sources"), m.SourcesSeparator)}
	if to := m.value(r, "incident_of.id"); to != "" {
		rep.IncidentOf = report.Key{PartnerID: m.value(r, "incident_of.partner_id"), ID: to}
		if rep.IncidentOf.PartnerID == "" { // another event row of this dataset
			rep.IncidentOf = report.Key{PartnerID: o.PartnerID, ID: m.Name + "-" + to}
		}
	}
	var err error
	if rep.ObservedAt, err = m.time(r, "observed_at", id); err != nil {
		return rep, err
	}
	if rep.ObservedUntil, err = m.time(r, "observed_until", id); err != nil {
		return rep, err
	}
	for _, f := range []struct {
		name string
		dst  *float64
	}{{"lat", &rep.Lat}, {"lon", &rep.Lon}, {"accuracy_m", &rep.AccuracyM}} {
		if v := m.value(r, f.name); v != "" {
			if *f.dst, err = strconv.ParseFloat(v, 64); err != nil {
				return rep, reject(m.Name+": bad "+f.name, "%s: %q", id, v)
			}
		}
	}
	for _, f := range []struct {
		name string
		dst  *uint32
	}{{"killed", &rep.Killed}, {"injured", &rep.Injured}, {"revision", &rep.Revision}} {
		if v := m.value(r, f.name); v != "" {
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return rep, reject(m.Name+": bad "+f.name, "%s: %q", id, v)
			}
			*f.dst = uint32(n)
		}
	}
	return rep, nil
}

// time reads a time field: the mapping's layout, else RFC 3339 or a date.
func (m *Mapping) time(r row, field, id string) (time.Time, error) {
	v := m.value(r, field)
	if v == "" {
		return time.Time{}, nil
	}
	var t time.Time
	var err error
	if m.DateLayout != "" {
		t, err = time.Parse(m.DateLayout, v)
	} else {
		t, err = report.ParseTime(v)
	}
	if err != nil {
		return t, reject(m.Name+": bad "+field, "%s: %q", id, v)
	}
	return t.UTC(), nil
}
