package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/simplify"

	"github.com/trucewatch/trucewatch/geo"
)

// engineZone is one shipped zone as ClickHouse polygons.
type engineZone struct {
	ID        string
	ValidFrom time.Time
	ValidTo   time.Time
	Polygons  []orb.Polygon // outer ring then holes, as pointInPolygon takes them
}

// polygonStats sums what the engine's query carries.
type polygonStats struct {
	Zones, Polygons, Points, FullPoints int
	Threshold                           float64
}

// engineZones returns the shipped zone sets (geo.ShippedZoneSets) as plain
// polygons. A zone's area is the union of the sub-districts under its
// pcodes; the polygon of a governorate (or of every governorate, for
// "SY") is the union of its sub-districts in the OCHA data, so it is used
// instead of the sub-districts themselves: the same area with far fewer
// points. threshold > 0 simplifies every ring with Douglas-Peucker
// (degrees); rings that degenerate are dropped.
func engineZones(threshold float64) ([]engineZone, polygonStats, error) {
	st := polygonStats{Threshold: threshold}
	admin, err := geo.LoadAdmin()
	if err != nil {
		return nil, st, err
	}
	sets, err := geo.ShippedZoneSets(admin)
	if err != nil {
		return nil, st, err
	}
	var out []engineZone
	for _, s := range sets {
		for _, z := range s.Zones {
			ez := engineZone{ID: z.ID, ValidFrom: z.ValidFrom, ValidTo: z.ValidTo}
			var geoms []orb.Geometry
			if z.Geometry != nil {
				geoms = append(geoms, z.Geometry)
			}
			for _, pc := range z.PCodes {
				if pc == "SY" {
					for _, ar := range admin.Areas(1) {
						geoms = append(geoms, ar.Geometry)
					}
					continue
				}
				ar, ok := admin.Area(pc)
				if !ok {
					return nil, st, fmt.Errorf("zone %s: unknown pcode %s", z.ID, pc)
				}
				geoms = append(geoms, ar.Geometry)
			}
			for _, g := range geoms {
				for _, p := range polygons(g) {
					for _, r := range p {
						st.FullPoints += len(r)
					}
					if threshold > 0 {
						p = simplify.DouglasPeucker(threshold).Polygon(p.Clone())
					}
					var q orb.Polygon
					for i, r := range p {
						if len(r) < 4 {
							if i == 0 {
								break // the outer ring vanished: so does the polygon
							}
							continue
						}
						q = append(q, r)
						st.Points += len(r)
					}
					if len(q) > 0 {
						ez.Polygons = append(ez.Polygons, q)
					}
				}
			}
			st.Zones++
			st.Polygons += len(ez.Polygons)
			out = append(out, ez)
		}
	}
	return out, st, nil
}

func polygons(g orb.Geometry) []orb.Polygon {
	switch g := g.(type) {
	case orb.Polygon:
		return []orb.Polygon{g}
	case orb.MultiPolygon:
		return g
	}
	return nil
}

// zoneExpr is the ClickHouse expression that is true when (lon, lat) at
// time t (a DateTime expression) lies in the zone.
func zoneExpr(z engineZone, lon, lat, t string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "(%s >= toDateTime('%s')", t, z.ValidFrom.UTC().Format(time.DateTime))
	if !z.ValidTo.IsZero() {
		fmt.Fprintf(&b, " AND %s < toDateTime('%s')", t, z.ValidTo.UTC().Format(time.DateTime))
	}
	b.WriteString(" AND (")
	for i, p := range z.Polygons {
		if i > 0 {
			b.WriteString(" OR ")
		}
		fmt.Fprintf(&b, "pointInPolygon((%s, %s)", lon, lat)
		for _, r := range p {
			b.WriteString(", [")
			for j, pt := range r {
				if j > 0 {
					b.WriteByte(',')
				}
				b.WriteByte('(')
				b.WriteString(strconv.FormatFloat(pt[0], 'f', -1, 64))
				b.WriteByte(',')
				b.WriteString(strconv.FormatFloat(pt[1], 'f', -1, 64))
				b.WriteByte(')')
			}
			b.WriteByte(']')
		}
		b.WriteByte(')')
	}
	b.WriteString("))")
	return b.String()
}
