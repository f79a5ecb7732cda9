package geo

import (
	"math"
	"slices"

	"github.com/paulmach/orb"
)

// EarthRadius is the mean Earth radius in metres used for distances.
const EarthRadius = 6371008.8

const degToRad = math.Pi / 180

// metresPerDegree returns the length in metres of one degree of longitude
// and of latitude at latitude lat.
func metresPerDegree(lat float64) (kx, ky float64) {
	ky = EarthRadius * degToRad
	return ky * math.Cos(lat*degToRad), ky
}

// Haversine returns the great-circle distance in metres between a and b.
func Haversine(a, b orb.Point) float64 {
	lat1, lat2 := a[1]*degToRad, b[1]*degToRad
	dlat := lat2 - lat1
	dlon := (b[0] - a[0]) * degToRad
	h := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(lat1)*math.Cos(lat2)*math.Sin(dlon/2)*math.Sin(dlon/2)
	return 2 * EarthRadius * math.Asin(min(1, math.Sqrt(h)))
}

// segDist2M is the squared distance in metres from (x, y) to e in the
// equirectangular projection centred on (x, y).
func segDist2M(e *seg, x, y, kx, ky float64) float64 {
	ax, ay := (e.ax-x)*kx, (e.ay-y)*ky
	vx, vy := (e.bx-e.ax)*kx, (e.by-e.ay)*ky
	t := 0.0
	if l2 := vx*vx + vy*vy; l2 > 0 {
		t = max(0, min(1, -(ax*vx+ay*vy)/l2))
	}
	dx, dy := ax+t*vx, ay+t*vy
	return dx*dx + dy*dy
}

// segDistM is the distance in metres from (x, y) to the nearest point of e,
// the point found in the projection centred on (x, y) and the distance
// measured by haversine.
func segDistM(e *seg, x, y float64) float64 {
	kx, ky := metresPerDegree(y)
	ax, ay := (e.ax-x)*kx, (e.ay-y)*ky
	vx, vy := (e.bx-e.ax)*kx, (e.by-e.ay)*ky
	t := 0.0
	if l2 := vx*vx + vy*vy; l2 > 0 {
		t = max(0, min(1, -(ax*vx+ay*vy)/l2))
	}
	n := orb.Point{e.ax + t*(e.bx-e.ax), e.ay + t*(e.by-e.ay)}
	return Haversine(orb.Point{x, y}, n)
}

// boundary is a bounding-volume hierarchy over the edges of a zone's
// boundary, for distances. The edges are sorted along a Morton (Z-order)
// curve of their midpoints, so that runs of leafSize edges are compact;
// each level above bounds runs of fanout nodes of the level below.
type boundary struct {
	segs   []seg
	levels [][]orb.Bound // levels[0] bounds leaves; the last level has <= fanout nodes
}

const (
	leafSize = 8
	fanout   = 8
)

func newBoundary(segs []seg) *boundary {
	b := &boundary{segs: segs}
	if len(segs) == 0 {
		return b
	}
	bb := orb.Bound{Min: orb.Point{segs[0].ax, segs[0].ay}, Max: orb.Point{segs[0].ax, segs[0].ay}}
	for _, s := range segs {
		bb = bb.Extend(orb.Point{s.ax, s.ay}).Extend(orb.Point{s.bx, s.by})
	}
	w := max(bb.Max[0]-bb.Min[0], 1e-12)
	h := max(bb.Max[1]-bb.Min[1], 1e-12)
	codes := make([]uint64, len(segs))
	for i, s := range segs {
		x := uint32(((s.ax+s.bx)/2 - bb.Min[0]) / w * 65535)
		y := uint32(((s.ay+s.by)/2 - bb.Min[1]) / h * 65535)
		codes[i] = uint64(morton(x, y))<<32 | uint64(i)
	}
	slices.Sort(codes)
	sorted := make([]seg, len(segs))
	for i, c := range codes {
		sorted[i] = segs[uint32(c)]
	}
	b.segs = sorted
	var leaves []orb.Bound
	for i := 0; i < len(sorted); i += leafSize {
		j := min(i+leafSize, len(sorted))
		lb := orb.Bound{Min: orb.Point{sorted[i].ax, sorted[i].ay}, Max: orb.Point{sorted[i].ax, sorted[i].ay}}
		for _, s := range sorted[i:j] {
			lb = lb.Extend(orb.Point{s.ax, s.ay}).Extend(orb.Point{s.bx, s.by})
		}
		leaves = append(leaves, lb)
	}
	b.levels = append(b.levels, leaves)
	for cur := leaves; len(cur) > fanout; {
		var up []orb.Bound
		for i := 0; i < len(cur); i += fanout {
			j := min(i+fanout, len(cur))
			ub := cur[i]
			for _, c := range cur[i+1 : j] {
				ub = ub.Union(c)
			}
			up = append(up, ub)
		}
		b.levels = append(b.levels, up)
		cur = up
	}
	return b
}

// morton interleaves the bits of x and y (16 bits each).
func morton(x, y uint32) uint32 {
	spread := func(v uint32) uint32 {
		v &= 0xffff
		v = (v | v<<8) & 0x00ff00ff
		v = (v | v<<4) & 0x0f0f0f0f
		v = (v | v<<2) & 0x33333333
		v = (v | v<<1) & 0x55555555
		return v
	}
	return spread(x) | spread(y)<<1
}

// boundDist2M is the squared projected distance in metres from (x, y) to bb.
func boundDist2M(bb *orb.Bound, x, y, kx, ky float64) float64 {
	dx := max(0, bb.Min[0]-x, x-bb.Max[0]) * kx
	dy := max(0, bb.Min[1]-y, y-bb.Max[1]) * ky
	return dx*dx + dy*dy
}

// nearest returns the distance in metres from (x, y) to the boundary when
// it is at most limitM (ok false otherwise). With any set, it stops at the
// first edge within limitM and returns that edge's distance.
func (b *boundary) nearest(x, y, limitM float64, any bool) (distM float64, ok bool) {
	if b == nil || len(b.segs) == 0 {
		return 0, false
	}
	kx, ky := metresPerDegree(y)
	best := limitM * limitM
	if math.IsInf(limitM, 1) {
		best = math.Inf(1)
	}
	bestSeg := -1
	type node struct{ level, idx int32 }
	var stack [8 * fanout]node
	sp := 0
	top := len(b.levels) - 1
	for i := len(b.levels[top]) - 1; i >= 0; i-- {
		stack[sp] = node{int32(top), int32(i)}
		sp++
	}
	for sp > 0 {
		sp--
		n := stack[sp]
		if boundDist2M(&b.levels[n.level][n.idx], x, y, kx, ky) > best {
			continue
		}
		if n.level == 0 {
			for i := int(n.idx) * leafSize; i < min(int(n.idx+1)*leafSize, len(b.segs)); i++ {
				if d := segDist2M(&b.segs[i], x, y, kx, ky); d <= best {
					best, bestSeg = d, i
					if any {
						return segDistM(&b.segs[i], x, y), true
					}
				}
			}
			continue
		}
		// Push the children farthest first, so that the nearest is
		// searched first and tightens best early.
		lo := int(n.idx) * fanout
		hi := min(lo+fanout, len(b.levels[n.level-1]))
		var ds [fanout]float64
		var cs [fanout]int32
		k := 0
		for c := lo; c < hi; c++ {
			d := boundDist2M(&b.levels[n.level-1][c], x, y, kx, ky)
			if d > best {
				continue
			}
			j := k
			for ; j > 0 && ds[j-1] < d; j-- {
				ds[j], cs[j] = ds[j-1], cs[j-1]
			}
			ds[j], cs[j] = d, int32(c)
			k++
		}
		for j := 0; j < k; j++ {
			stack[sp] = node{n.level - 1, cs[j]}
			sp++
		}
	}
	if bestSeg < 0 {
		return 0, false
	}
	return segDistM(&b.segs[bestSeg], x, y), true
}
