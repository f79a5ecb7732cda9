package importer

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/trucewatch/trucewatch/report"
)

// acledColumns are the ACLED columns the mapping reads.
var acledColumns = []string{
	"event_id_cnty", "event_date", "time_precision", "event_type", "sub_event_type",
	"actor1", "inter1", "actor2", "inter2", "latitude", "longitude", "geo_precision",
	"source", "notes", "fatalities", "timestamp",
}

// acledCategory maps sub_event_type to a category; "" rejects the event
// (not an incident of violence a ceasefire monitor counts).
var acledCategory = map[string]report.Category{
	// Battles
	"armed clash":                         report.GroundClash,
	"government regains territory":        report.GroundClash,
	"non-state actor overtakes territory": report.GroundClash,
	// Explosions/Remote violence
	"air/drone strike":                  report.Airstrike, // drone_strike when notes say drone
	"shelling/artillery/missile attack": report.Shelling,  // missile_strike when notes say missile
	"remote explosive/landmine/ied":     report.IED,
	"suicide bomb":                      report.IED,
	"grenade":                           report.IED,
	"chemical weapon":                   report.Other,
	// Violence against civilians
	"attack":                         report.GroundClash,
	"abduction/forced disappearance": report.Abduction,
	"sexual violence":                report.Other,
	// Riots
	"mob violence":          report.Other,
	"violent demonstration": report.Other,
	// Protests
	"excessive force against protesters": report.GroundClash,
	// Strategic developments
	"arrests":                      report.Arrest,
	"looting/property destruction": report.PropertyDestruction,
}

// acledTime maps time_precision: 1 the day, 2 the week (event_date its
// middle), 3 the month (its middle).
var acledTime = map[string]report.TimePrecision{"1": report.TimeDay, "2": report.TimeWeek, "3": report.TimeMonth}

// acledGeo maps geo_precision: 1 the town itself, 2 near it or a part of
// a region, 3 a larger region (coded to its capital), taken as adm1.
var acledGeo = map[string]report.GeoPrecision{"1": report.GeoExact, "2": report.GeoNear, "3": report.GeoAdm1}

var acledPlace = place{timeCol: "time_precision", timeCodes: "1-3", time: acledTime, geoCol: "geo_precision", geoCodes: "1-3", geo: acledGeo}

// acledInter names the numeric interaction codes of older ACLED files;
// newer ones write the names.
var acledInter = map[string]string{
	"1": "state forces", "2": "rebel group", "3": "political militia", "4": "identity militia",
	"5": "rioters", "6": "protesters", "7": "civilians", "8": "external/other forces",
}

// acledSide is the side of an ACLED actor: excluded groups by name (IS,
// HTS, al-Nusra, Hurras al-Din, al-Qaeda), Syrian state forces (and
// pro-government militias named "... Syria (2000-)"-style with "Military
// Forces of Syria" or "Police Forces of Syria") government, rebel groups
// opposition, everyone else unknown.
func acledSide(actor, inter string) report.Side {
	if actor == "" {
		return ""
	}
	a := strings.ToLower(actor)
	for _, x := range []string{"islamic state", "hayat tahrir al sham", "hts:", "jabhat al nusra", "jabhat fateh al sham", "hurras al din", "al qaeda", "al qaida"} {
		if strings.Contains(a, x) {
			return report.ExcludedGroup
		}
	}
	if n, ok := acledInter[inter]; ok {
		inter = n
	}
	inter = strings.ToLower(inter)
	switch {
	case strings.HasPrefix(a, "military forces of syria") || strings.HasPrefix(a, "police forces of syria"):
		return report.Government
	case inter == "rebel group" || strings.HasPrefix(inter, "rebel"):
		return report.Opposition
	}
	return report.Unknown
}

func mapACLED(r row, o *Options) (report.Report, error) {
	id := r.get("event_id_cnty")
	if id == "" {
		return report.Report{}, reject("acled: no event_id_cnty", "")
	}
	rep := report.Report{ID: "acled-" + id, PartnerID: o.PartnerID}
	ts, err := strconv.ParseUint(r.get("timestamp"), 10, 32)
	if err != nil || ts == 0 {
		return rep, reject("acled: bad timestamp", "%s: %q", id, r.get("timestamp"))
	}
	rep.Revision = uint32(ts)
	date := r.get("event_date")
	var at time.Time
	for _, layout := range []string{"2006-01-02", "02 January 2006", "2 January 2006", "02-January-2006"} {
		if at, err = time.Parse(layout, date); err == nil {
			break
		}
	}
	if err != nil {
		return rep, reject("acled: bad event_date", "%s: %q", id, date)
	}
	rep.ObservedAt = at
	if err := acledPlace.set(&rep, r, "acled", id); err != nil {
		return rep, err
	}
	sub := strings.ToLower(r.get("sub_event_type"))
	cat, ok := acledCategory[sub]
	if !ok {
		return rep, reject("acled: sub_event_type not an incident: "+r.get("event_type")+" / "+r.get("sub_event_type"), "%s", id)
	}
	notes := strings.ToLower(r.get("notes"))
	switch {
	case cat == report.Airstrike && strings.Contains(notes, "drone"):
		cat = report.DroneStrike
	case cat == report.Shelling && strings.Contains(notes, "missile"):
		cat = report.MissileStrike
	}
	rep.Category = cat
	rep.Perpetrator = report.Actor{Name: clip(r.get("actor1"), report.MaxActorNameLen), Side: acledSide(r.get("actor1"), r.get("inter1"))}
	rep.Target = report.Actor{Name: clip(r.get("actor2"), report.MaxActorNameLen), Side: acledSide(r.get("actor2"), r.get("inter2"))}
	if rep.Killed, err = casualties(r, "fatalities", "acled", id); err != nil {
		return rep, err
	}
	var d strings.Builder
	fmt.Fprintf(&d, "ACLED event %s: %s / %s", id, r.get("event_type"), r.get("sub_event_type"))
	if v := r.get("location"); v != "" {
		fmt.Fprintf(&d, "; location: %s", v)
		if a := strings.Trim(strings.Join([]string{r.get("admin3"), r.get("admin2"), r.get("admin1")}, ", "), ", "); a != "" {
			fmt.Fprintf(&d, " (%s)", a)
		}
	}
	if v := r.get("notes"); v != "" {
		fmt.Fprintf(&d, "; %s", v)
	}
	rep.Description = clip(d.String(), report.MaxDescriptionLen)
	rep.Sources = splitSources(r.get("source"), ";")
	return rep, nil
}
