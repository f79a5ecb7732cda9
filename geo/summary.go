package geo

import (
	"strings"
	"time"

	"github.com/paulmach/orb"
)

// ZoneSummary is what a zone amounts to at a glance: when it is in force
// and the area it covers, as admin codes or as an inline geometry.
type ZoneSummary struct {
	ID        string
	Kind      string
	ValidFrom time.Time
	ValidTo   time.Time // zero: open-ended

	// A zone made of admin areas: how many pcodes it lists and how many
	// sub-districts (adm3 areas) they cover.
	PCodes       int
	SubDistricts int

	// A zone with an inline geometry (PCodes 0): its GeoJSON type, its
	// rings (outer rings and holes of every polygon) and its bounding box.
	GeometryType string
	Rings        int
	Bound        orb.Bound
}

// Summarize summarises each zone of zs, in the set's order. a holds the
// admin areas the zones' pcodes refer to.
func Summarize(zs *ZoneSet, a *Admin) []ZoneSummary {
	out := make([]ZoneSummary, len(zs.Zones))
	for i := range zs.Zones {
		out[i] = summarizeZone(&zs.Zones[i], a)
	}
	return out
}

func summarizeZone(z *Zone, a *Admin) ZoneSummary {
	s := ZoneSummary{ID: z.ID, Kind: z.Kind, ValidFrom: z.ValidFrom, ValidTo: z.ValidTo}
	if len(z.PCodes) > 0 {
		s.PCodes = len(z.PCodes)
		for _, ar := range a.Areas(3) {
			if hasPrefix(ar.PCode, z.PCodes) {
				s.SubDistricts++
			}
		}
		return s
	}
	switch g := z.Geometry.(type) {
	case orb.Polygon:
		s.Rings = len(g)
	case orb.MultiPolygon:
		for _, p := range g {
			s.Rings += len(p)
		}
	}
	if z.Geometry != nil {
		s.GeometryType, s.Bound = z.Geometry.GeoJSONType(), z.Geometry.Bound()
	}
	return s
}

// hasPrefix reports whether pcode starts with one of prefixes.
func hasPrefix(pcode string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(pcode, p) {
			return true
		}
	}
	return false
}
