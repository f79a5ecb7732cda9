package geo

import (
	"math"

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
	return 2 * EarthRadius * math.Asin(math.Min(1, math.Sqrt(h)))
}

// segDist2M is the squared distance in metres from (x, y) to e in the
// equirectangular projection centred on (x, y).
func segDist2M(e *seg, x, y, kx, ky float64) float64 {
	ax, ay := (e.ax-x)*kx, (e.ay-y)*ky
	vx, vy := (e.bx-e.ax)*kx, (e.by-e.ay)*ky
	t := 0.0
	if l2 := vx*vx + vy*vy; l2 > 0 {
		t = math.Max(0, math.Min(1, -(ax*vx+ay*vy)/l2))
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
		t = math.Max(0, math.Min(1, -(ax*vx+ay*vy)/l2))
	}
	n := orb.Point{e.ax + t*(e.bx-e.ax), e.ay + t*(e.by-e.ay)}
	return Haversine(orb.Point{x, y}, n)
}

// boundary is a bounding-volume hierarchy over the edges of a zone's
// boundary, for distances: runs of chunkSize consecutive edges (consecutive
// edges of a ring are close to each other) under groups of chunkSize runs.
type boundary struct {
	segs   []seg
	chunks []orb.Bound
	groups []orb.Bound
}

const chunkSize = 16

func newBoundary(segs []seg) *boundary {
	b := &boundary{segs: segs}
	for i := 0; i < len(segs); i += chunkSize {
		j := min(i+chunkSize, len(segs))
		bb := orb.Bound{Min: orb.Point{segs[i].ax, segs[i].ay}, Max: orb.Point{segs[i].ax, segs[i].ay}}
		for _, s := range segs[i:j] {
			bb = bb.Extend(orb.Point{s.ax, s.ay}).Extend(orb.Point{s.bx, s.by})
		}
		b.chunks = append(b.chunks, bb)
	}
	for i := 0; i < len(b.chunks); i += chunkSize {
		j := min(i+chunkSize, len(b.chunks))
		bb := b.chunks[i]
		for _, c := range b.chunks[i+1 : j] {
			bb = bb.Union(c)
		}
		b.groups = append(b.groups, bb)
	}
	return b
}

// boundDist2M is the squared projected distance in metres from (x, y) to bb.
func boundDist2M(bb *orb.Bound, x, y, kx, ky float64) float64 {
	dx := math.Max(0, math.Max(bb.Min[0]-x, x-bb.Max[0])) * kx
	dy := math.Max(0, math.Max(bb.Min[1]-y, y-bb.Max[1])) * ky
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
	var bestSeg *seg
	for g := range b.groups {
		if boundDist2M(&b.groups[g], x, y, kx, ky) > best {
			continue
		}
		for c := g * chunkSize; c < min((g+1)*chunkSize, len(b.chunks)); c++ {
			if boundDist2M(&b.chunks[c], x, y, kx, ky) > best {
				continue
			}
			for i := c * chunkSize; i < min((c+1)*chunkSize, len(b.segs)); i++ {
				if d := segDist2M(&b.segs[i], x, y, kx, ky); d <= best {
					best, bestSeg = d, &b.segs[i]
					if any {
						return segDistM(bestSeg, x, y), true
					}
				}
			}
		}
	}
	if bestSeg == nil {
		return 0, false
	}
	return segDistM(bestSeg, x, y), true
}
