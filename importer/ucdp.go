package importer

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/trucewatch/trucewatch/report"
)

// ucdpColumns are the UCDP GED columns the mapping reads.
var ucdpColumns = []string{
	"id", "date_start", "date_end", "date_prec", "where_prec", "type_of_violence",
	"side_a", "side_b", "best", "low", "high", "latitude", "longitude", "source_article",
}

// UCDPRevision turns a GED version ("19.1", "23.1", "24.0.3") into the
// revision of its reports: major*10000 + minor*100 + patch (19.1 ->
// 190100), so that every later version has a higher revision.
func UCDPRevision(version string) (uint32, error) {
	parts := strings.Split(strings.TrimPrefix(strings.TrimSpace(version), "v"), ".")
	if len(parts) < 1 || len(parts) > 3 {
		return 0, fmt.Errorf("importer: ucdp version %q: want MAJOR.MINOR[.PATCH]", version)
	}
	mul := []uint32{10000, 100, 1}
	var rev uint32
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil || n > 99 || (i == 0 && n == 0) {
			return 0, fmt.Errorf("importer: ucdp version %q: want MAJOR.MINOR[.PATCH], each 0..99", version)
		}
		rev += uint32(n) * mul[i]
	}
	return rev, nil
}

var ucdpVersionInName = regexp.MustCompile(`(?i)v(\d{1,2})[._](\d{1,2})(?:[._](\d{1,2}))?`)

// UCDPVersionFromName finds a version in a file name such as
// GEDEvent_v23_1.csv ("23.1"), or "".
func UCDPVersionFromName(name string) string {
	m := ucdpVersionInName.FindStringSubmatch(name)
	if m == nil {
		return ""
	}
	v := m[1] + "." + m[2]
	if m[3] != "" {
		v += "." + m[3]
	}
	return v
}

// ucdpTime maps date_prec (1 exact day, 2 2-6 days, 3 a week, 4 2-30
// days, 5 more than a month) to a time precision.
var ucdpTime = map[string]report.TimePrecision{
	"1": report.TimeDay, "2": report.TimeWeek, "3": report.TimeWeek, "4": report.TimeMonth, "5": report.TimeMonth,
}

// ucdpGeo maps where_prec to a geo precision. 5 (a region or linear
// feature within the country) is taken as adm1, the nearest class; 7
// (international waters or airspace) has none.
var ucdpGeo = map[string]report.GeoPrecision{
	"1": report.GeoExact, "2": report.GeoNear, "3": report.GeoAdm2, "4": report.GeoAdm1, "5": report.GeoAdm1, "6": report.GeoCountry,
}

var ucdpPlace = place{timeCol: "date_prec", timeCodes: "1-5", time: ucdpTime, geoCol: "where_prec", geoCodes: "1-6", geo: ucdpGeo}

var ucdpViolence = map[string]string{"1": "state-based", "2": "non-state", "3": "one-sided"}

func mapUCDP(r row, o *Options) (report.Report, error) {
	id := r.get("id")
	if id == "" {
		return report.Report{}, reject("ucdp: no id", "")
	}
	rep := report.Report{ID: "ucdp-" + id, PartnerID: o.PartnerID, Revision: o.Revision}
	start, err := time.Parse("2006-01-02", r.get("date_start"))
	if err != nil {
		return rep, reject("ucdp: bad date_start", "%s: %q", id, r.get("date_start"))
	}
	end, err := time.Parse("2006-01-02", r.get("date_end"))
	if err != nil || end.Before(start) {
		return rep, reject("ucdp: bad date_end", "%s: %q", id, r.get("date_end"))
	}
	rep.ObservedAt = start
	if end.After(start) {
		rep.ObservedUntil = end.Add(24*time.Hour - time.Second) // the end of date_end
	}
	if err := ucdpPlace.set(&rep, r, "ucdp", id); err != nil {
		return rep, err
	}
	tov := r.get("type_of_violence")
	kind, ok := ucdpViolence[tov]
	if !ok {
		return rep, reject("ucdp: type_of_violence not 1-3", "%s: %q", id, tov)
	}
	// UCDP records the use of armed force, not its means: every event is
	// a ground clash (the type of violence is in the description).
	rep.Category = report.GroundClash
	rep.Perpetrator = report.Actor{Name: clip(r.get("side_a"), report.MaxActorNameLen), Side: SideOf(r.get("side_a"))}
	rep.Target = report.Actor{Name: clip(r.get("side_b"), report.MaxActorNameLen), Side: SideOf(r.get("side_b"))}
	if rep.Killed, err = casualties(r, "best", "ucdp", id); err != nil {
		return rep, err
	}
	var d strings.Builder
	fmt.Fprintf(&d, "UCDP GED event %s, %s violence (type %s)", id, kind, tov)
	if v := r.get("dyad_name"); v != "" {
		fmt.Fprintf(&d, "; dyad: %s", v)
	}
	if v := r.get("where_coordinates"); v != "" {
		fmt.Fprintf(&d, "; where: %s", v)
	}
	if a1, a2 := r.get("adm_1"), r.get("adm_2"); a1 != "" || a2 != "" {
		fmt.Fprintf(&d, " (%s)", strings.Trim(a2+", "+a1, ", "))
	}
	fmt.Fprintf(&d, "; deaths best %s, low %s, high %s", r.get("best"), r.get("low"), r.get("high"))
	if r.get("deaths_a") != "" {
		fmt.Fprintf(&d, " (side a %s, side b %s, civilians %s, unknown %s)", r.get("deaths_a"), r.get("deaths_b"), r.get("deaths_civilians"), r.get("deaths_unknown"))
	}
	if v := r.get("event_clarity"); v == "2" {
		d.WriteString("; event clarity low")
	}
	if v := r.get("source_headline"); v != "" {
		fmt.Fprintf(&d, "; headline: %s", v)
	}
	rep.Description = clip(d.String(), report.MaxDescriptionLen)
	rep.Sources = splitSources(r.get("source_article"), ";")
	if len(rep.Sources) == 0 {
		rep.Sources = splitSources(r.get("source_original"), ";")
	}
	return rep, nil
}

// excluded are the groups the 30 December 2016 ceasefire does not cover
// (ISIS and al-Qaeda-linked), as UCDP and ACLED name them, lower case.
var excluded = []string{
	"is", "islamic state", "isis", "isil", "jabhat fateh al-sham", "jabhat fateh al sham",
	"jabhat al-nusra", "jabhat al nusra", "al nusra front", "hts", "hayat tahrir al-sham",
	"hayat tahrir al sham", "al-qaida", "al qaeda", "al-qaeda", "hurras al-din", "hurras al din",
	"tanzim hurras al-din",
}

// pro-government forces other than the Syrian state's own.
var government = []string{"government of syria", "ndf (syria)", "hezbollah"}

// unknownSide are parties outside the ceasefire's two sides: foreign
// states, the SDF and Kurdish forces, civilians.
var unknownSide = []string{"sdf", "civilians", "ypg", "pyd", "nsa"}

// SideOf is the side of a UCDP actor (side_a, side_b: one name or a
// comma-separated coalition): excluded_group when any member is an
// excluded group, government for the Syrian government and its militias,
// unknown for foreign governments, the SDF and civilians, else opposition.
func SideOf(name string) report.Side {
	if name == "" {
		return ""
	}
	members := strings.Split(strings.ToLower(name), ",")
	for _, m := range members {
		m = strings.TrimSpace(m)
		for _, x := range excluded {
			if m == x || strings.HasPrefix(m, x+" ") {
				return report.ExcludedGroup
			}
		}
	}
	first := strings.TrimSpace(members[0])
	for _, g := range government {
		if first == g {
			return report.Government
		}
	}
	if strings.HasPrefix(first, "government of ") {
		return report.Unknown
	}
	for _, u := range unknownSide {
		if first == u {
			return report.Unknown
		}
	}
	return report.Opposition
}

// splitSources splits a dataset's source field into at most
// report.MaxSources items of at most report.MaxSourceLen characters.
func splitSources(s, sep string) []string {
	var out []string
	for _, p := range strings.Split(s, sep) {
		p = strings.TrimSpace(strings.Trim(strings.TrimSpace(p), `"`))
		if p == "" {
			continue
		}
		if len(out) == report.MaxSources {
			break
		}
		out = append(out, clip(p, report.MaxSourceLen))
	}
	return out
}

// clip makes s printable on one line (control characters become spaces)
// and cuts it to n characters, ending in "…" when cut.
func clip(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if strings.Count(s, "")-1 <= n {
		return s
	}
	rs := []rune(s)
	return strings.TrimSpace(string(rs[:n-1])) + "…"
}
