package read

import "slices"

// Precisions are the geo precisions of schema v1, finest first, as the
// aggregates store them (a report without one is "exact").
var Precisions = []string{"exact", "near", "adm3", "adm2", "adm1", "country"}

// PrecisionIndex is p's index in Precisions ("" is exact), -1 if unknown.
func PrecisionIndex(p string) int {
	if p == "" {
		return 0
	}
	return slices.Index(Precisions, p)
}

// AdminLevel is the finest admin level at which a report of precision p
// counts: its point is a place (exact, near) or stands for a sub-district
// (adm3): 3; for a district: 2; for a governorate: 1; for the country: 0,
// no admin level. At a finer level the report is counted apart as too
// coarse, in the area its point falls in.
func AdminLevel(p string) int {
	switch p {
	case "adm2":
		return 2
	case "adm1":
		return 1
	case "country":
		return 0
	}
	return 3
}

// MaxZoom is the finest map zoom at which a report of precision p counts:
// the last zoom whose tiles are at least as wide, at the equator, as the
// diameter of the precision's uncertainty circle (report.GeoPrecision's
// UncertaintyM: near 25 km -> 9, adm3 15 km -> 10, adm2 40 km -> 8, adm1
// 80 km -> 7, country 400 km -> 5). Exact reports count at every zoom.
// In a finer tile the report is counted apart as too coarse.
func MaxZoom(p string) uint32 {
	switch p {
	case "near":
		return 9
	case "adm3":
		return 10
	case "adm2":
		return 8
	case "adm1":
		return 7
	case "country":
		return 5
	}
	return 32
}

// PlacedAt returns the precisions that count at admin level (when level >
// 0) or map zoom z: the others are too coarse there.
func PlacedAt(level int, z uint32) []string {
	var out []string
	for _, p := range Precisions {
		if (level > 0 && AdminLevel(p) >= level) || (level == 0 && MaxZoom(p) >= z) {
			out = append(out, p)
		}
	}
	return out
}

// Violation classes, as the aggregates store them.
const (
	NotViolation      uint8 = 0
	DefiniteViolation uint8 = 1 // in a protected zone
	PossibleViolation uint8 = 2 // the uncertainty circle only crosses a protected zone
)

// LevelRadiusM is the largest uncertainty radius (metres) at which an
// incident counts at admin level 1..3: the radius of the coarsest geo
// precision AdminLevel places there (adm3: near's 25 km; adm2 40 km;
// adm1 80 km). Incidents keep a radius, not a precision class.
func LevelRadiusM(level int) float64 {
	switch level {
	case 1:
		return 80_000
	case 2:
		return 40_000
	}
	return 25_000
}
