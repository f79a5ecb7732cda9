package geo

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/paulmach/orb"
)

// The OCHA COD-AB boundaries of Syria (CC BY-IGO 3.0), see data/SOURCES.md,
// in the compact form described in admincodec.go.
//
//go:embed data/admin.bin
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
	raw, err := dataFS.ReadFile("data/admin.bin")
	if err != nil {
		return nil, fmt.Errorf("geo: load admin: %w", err)
	}
	levels, err := decodeAdmin(raw)
	if err != nil {
		return nil, err
	}
	return newAdmin(levels, raw)
}

// newAdmin checks the areas and indexes them; data identifies the version.
func newAdmin(levels [3][]*Area, data []byte) (*Admin, error) {
	a := &Admin{byPCode: map[string]*Area{}, adm1: levels[0], adm2: levels[1], adm3: levels[2]}
	for li, areas := range levels {
		level := li + 1
		for i, ar := range areas {
			if ar.Geometry == nil {
				return nil, fmt.Errorf("geo: load admin: level %d area %d: no geometry", level, i)
			}
			ar.Bound = ar.Geometry.Bound()
			if ar.PCode == "" || ar.Adm1 == "" || !strings.HasPrefix(ar.PCode, ar.Adm1) ||
				(level == 3 && !strings.HasPrefix(ar.PCode, ar.Adm2)) {
				return nil, fmt.Errorf("geo: load admin: level %d area %d: bad pcodes %q/%q/%q", level, i, ar.PCode, ar.Adm2, ar.Adm1)
			}
			if _, dup := a.byPCode[ar.PCode]; dup {
				return nil, fmt.Errorf("geo: load admin: duplicate pcode %s", ar.PCode)
			}
			if i > 0 && areas[i-1].PCode > ar.PCode {
				return nil, fmt.Errorf("geo: load admin: level %d not sorted by pcode", level)
			}
			a.byPCode[ar.PCode] = ar
		}
	}
	if len(a.adm3) == 0 {
		return nil, errors.New("geo: load admin: no sub-districts")
	}
	sum := sha256.Sum256(data)
	a.version = "adm:" + hex.EncodeToString(sum[:])[:12]
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
