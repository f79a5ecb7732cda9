package geo

import (
	"fmt"
	"math"

	"github.com/paulmach/orb"
)

// adminCellsPerEdge sets the sub-district grid size: with 129k edges, about
// 1,700 x 1,250 cells of about 450 m.
const adminCellsPerEdge = 16

// adminIndex is the containment index of the sub-districts, plus what the
// union boundary of a set of sub-districts needs: every edge with a key
// shared by the copies of the same edge in neighbouring sub-districts
// (the OCHA layers are topologically clean: shared borders have identical
// vertices).
type adminIndex struct {
	layer      *layer
	edges      []seg   // edges of all sub-districts, by sub-district
	edgeStart  []int   // sub-district i owns edges[edgeStart[i]:edgeStart[i+1]]
	edgeKey    []int32 // dense id of each edge, equal for reversed copies
	nKeys      int
	exterior   *boundary // the border of Syria (union of all sub-districts)
	allMembers []int
	// nearEdge marks the cells within AdminTolerance of a cell with edges,
	// so that points far outside Syria skip the nearest-area search.
	nearEdge []uint64 // bitset, by cell
}

func buildAdminIndex(a *Admin) (*adminIndex, error) {
	shapes := make([][]orb.Ring, len(a.adm3))
	for i, ar := range a.adm3 {
		shapes[i] = geometryRings(ar.Geometry)
	}
	l, err := buildLayer(shapes, adminCellsPerEdge)
	if err != nil {
		return nil, fmt.Errorf("geo: admin index: %w", err)
	}
	ix := &adminIndex{layer: l, edgeStart: make([]int, 0, len(shapes)+1)}
	for _, rings := range shapes {
		ix.edgeStart = append(ix.edgeStart, len(ix.edges))
		ix.edges = shapeEdges(rings, ix.edges)
	}
	ix.edgeStart = append(ix.edgeStart, len(ix.edges))
	ids := make(map[[4]float64]int32, len(ix.edges)/2+1)
	ix.edgeKey = make([]int32, len(ix.edges))
	for i, e := range ix.edges {
		k := [4]float64{e.ax, e.ay, e.bx, e.by}
		if e.bx < e.ax || (e.bx == e.ax && e.by < e.ay) {
			k = [4]float64{e.bx, e.by, e.ax, e.ay}
		}
		id, ok := ids[k]
		if !ok {
			id = int32(len(ids))
			ids[k] = id
		}
		ix.edgeKey[i] = id
	}
	ix.nKeys = len(ids)
	ix.allMembers = make([]int, len(shapes))
	for i := range ix.allMembers {
		ix.allMembers[i] = i
	}
	ix.exterior = newBoundary(ix.unionBoundary(ix.allMembers))
	near := dilateEdgeCells(l, AdminTolerance)
	ix.nearEdge = make([]uint64, (len(near)+63)/64)
	for i, b := range near {
		if b {
			ix.nearEdge[i/64] |= 1 << (i % 64)
		}
	}
	l.compress()
	return ix, nil
}

// dilateEdgeCells marks every cell within r metres of a cell with edges,
// conservatively (a box of whole cells, sized at the grid's narrowest
// degree of longitude).
func dilateEdgeCells(l *layer, r float64) []bool {
	kx, _ := metresPerDegree(math.Max(math.Abs(l.minY), math.Abs(l.minY+float64(l.ny)*l.dy)))
	_, ky := metresPerDegree(0)
	rx := int(math.Ceil(r/(kx*l.dx))) + 1
	ry := int(math.Ceil(r/(ky*l.dy))) + 1
	rows := make([]bool, len(l.cells))
	for y := 0; y < l.ny; y++ {
		last := -1 << 30 // column of the last edge cell seen
		for x := 0; x < l.nx; x++ {
			if l.cells[y*l.nx+x] > l.nShapes {
				last = x
			}
			if x-last <= rx {
				rows[y*l.nx+x] = true
			}
		}
		last = 1 << 30
		for x := l.nx - 1; x >= 0; x-- {
			if l.cells[y*l.nx+x] > l.nShapes {
				last = x
			}
			if last-x <= rx {
				rows[y*l.nx+x] = true
			}
		}
	}
	out := make([]bool, len(l.cells))
	for x := 0; x < l.nx; x++ {
		last := -1 << 30
		for y := 0; y < l.ny; y++ {
			if rows[y*l.nx+x] {
				last = y
			}
			if y-last <= ry {
				out[y*l.nx+x] = true
			}
		}
		last = 1 << 30
		for y := l.ny - 1; y >= 0; y-- {
			if rows[y*l.nx+x] {
				last = y
			}
			if last-y <= ry {
				out[y*l.nx+x] = true
			}
		}
	}
	return out
}

// mayBeNear reports whether (x, y) may lie within AdminTolerance of a
// sub-district.
func (ix *adminIndex) mayBeNear(x, y float64) bool {
	l := ix.layer
	fx := (x - l.minX) * l.invDX
	fy := (y - l.minY) * l.invDY
	if !(fx >= 0 && fy >= 0 && fx < float64(l.nx) && fy < float64(l.ny)) {
		return true // outside the grid: let nearest decide
	}
	c := int(fy)*l.nx + int(fx)
	return ix.nearEdge[c/64]&(1<<(c%64)) != 0
}

// unionBoundary returns the edges of the boundary of the union of the given
// sub-districts: their edges less those shared by two of them.
func (ix *adminIndex) unionBoundary(members []int) []seg {
	counts := make([]uint8, ix.nKeys)
	for _, m := range members {
		for _, k := range ix.edgeKey[ix.edgeStart[m]:ix.edgeStart[m+1]] {
			counts[k]++
		}
	}
	var out []seg
	for _, m := range members {
		for i := ix.edgeStart[m]; i < ix.edgeStart[m+1]; i++ {
			if counts[ix.edgeKey[i]]%2 == 1 {
				out = append(out, ix.edges[i])
			}
		}
	}
	return out
}
