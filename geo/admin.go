package geo

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
)

// The OCHA COD-AB boundaries of Syria (CC BY-IGO 3.0), see data/SOURCES.md.
//
//go:embed data/syria-adm1.geojson data/syria-adm2.geojson data/syria-adm3.geojson
var dataFS embed.FS

// AdminTolerance is how far (metres) a point outside every sub-district may
// lie from the nearest one and still get its admin codes, with AdmApprox.
const AdminTolerance = 5000.0

// Area is one administrative area.
type Area struct {
	Level    int    // 1 governorate, 2 district, 3 sub-district
	PCode    string // SY07, SY0703, SY070302
	Name     string // English name
	NameAR   string // Arabic name
	Adm1     string // pcode of the governorate (own pcode at level 1)
	Adm2     string // pcode of the district (empty at level 1)
	Geometry orb.Geometry
	Bound    orb.Bound
}

// Admin holds the administrative areas of Syria. It is immutable and safe
// for concurrent use.
type Admin struct {
	adm1, adm2, adm3 []*Area // sorted by pcode
	byPCode          map[string]*Area
	version          string

	// The adm3 grid is built once per Admin and shared by every Matcher.
	idxOnce sync.Once
	idx     *adminIndex
	idxErr  error
}

var (
	loadOnce  sync.Once
	loadAdmin *Admin
	loadErr   error
)

// LoadAdmin returns the embedded OCHA boundaries. They are parsed once per
// process; every call returns the same *Admin.
func LoadAdmin() (*Admin, error) {
	loadOnce.Do(func() { loadAdmin, loadErr = parseAdmin() })
	return loadAdmin, loadErr
}

func parseAdmin() (*Admin, error) {
	a := &Admin{byPCode: map[string]*Area{}}
	h := sha256.New()
	for level := 1; level <= 3; level++ {
		name := fmt.Sprintf("data/syria-adm%d.geojson", level)
		raw, err := dataFS.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("geo: load admin: %w", err)
		}
		h.Write(raw)
		fc, err := geojson.UnmarshalFeatureCollection(raw)
		if err != nil {
			return nil, fmt.Errorf("geo: load admin %s: %w", name, err)
		}
		areas := make([]*Area, 0, len(fc.Features))
		for i, f := range fc.Features {
			ar := &Area{
				Level:  level,
				PCode:  f.Properties.MustString(fmt.Sprintf("adm%d_pcode", level), ""),
				Name:   f.Properties.MustString(fmt.Sprintf("adm%d_name", level), ""),
				NameAR: f.Properties.MustString(fmt.Sprintf("adm%d_name1", level), ""),
				Adm1:   f.Properties.MustString("adm1_pcode", ""),
			}
			if level == 3 {
				ar.Adm2 = f.Properties.MustString("adm2_pcode", "")
			}
			switch g := f.Geometry.(type) {
			case orb.Polygon, orb.MultiPolygon:
				ar.Geometry = g
				ar.Bound = g.Bound()
			default:
				return nil, fmt.Errorf("geo: load admin %s: feature %d: geometry %T is not a polygon", name, i, f.Geometry)
			}
			if ar.PCode == "" || ar.Adm1 == "" || !strings.HasPrefix(ar.PCode, ar.Adm1) ||
				(level == 3 && !strings.HasPrefix(ar.PCode, ar.Adm2)) {
				return nil, fmt.Errorf("geo: load admin %s: feature %d: bad pcodes %q/%q/%q", name, i, ar.PCode, ar.Adm2, ar.Adm1)
			}
			if _, dup := a.byPCode[ar.PCode]; dup {
				return nil, fmt.Errorf("geo: load admin %s: duplicate pcode %s", name, ar.PCode)
			}
			a.byPCode[ar.PCode] = ar
			areas = append(areas, ar)
		}
		sort.Slice(areas, func(i, j int) bool { return areas[i].PCode < areas[j].PCode })
		switch level {
		case 1:
			a.adm1 = areas
		case 2:
			a.adm2 = areas
		case 3:
			a.adm3 = areas
		}
	}
	if len(a.adm3) == 0 {
		return nil, errors.New("geo: load admin: no sub-districts")
	}
	a.version = "adm:" + hex.EncodeToString(h.Sum(nil))[:12]
	return a, nil
}

// Areas returns the areas of one level (1, 2 or 3), sorted by pcode. The
// slice is shared: do not modify it.
func (a *Admin) Areas(level int) []*Area {
	switch level {
	case 1:
		return a.adm1
	case 2:
		return a.adm2
	case 3:
		return a.adm3
	}
	return nil
}

// Area returns the area with the given pcode, of any level.
func (a *Admin) Area(pcode string) (*Area, bool) {
	ar, ok := a.byPCode[pcode]
	return ar, ok
}

// Version identifies the boundary data (a hash of the embedded files).
func (a *Admin) Version() string { return a.version }

// SubDistricts returns the indexes (into Areas(3)) of the sub-districts
// whose pcode starts with prefix; "SY" selects all of them. ok is false when
// prefix names no area.
func (a *Admin) subDistricts(prefix string) (idx []int, ok bool) {
	if prefix != "SY" {
		if _, known := a.byPCode[prefix]; !known {
			return nil, false
		}
	}
	for i, ar := range a.adm3 {
		if strings.HasPrefix(ar.PCode, prefix) {
			idx = append(idx, i)
		}
	}
	return idx, len(idx) > 0
}

// index returns the shared containment index of the sub-districts,
// building it on first use.
func (a *Admin) index() (*adminIndex, error) {
	a.idxOnce.Do(func() { a.idx, a.idxErr = buildAdminIndex(a) })
	return a.idx, a.idxErr
}
