package incident

import "math"

// The index finds the reports that may be linked to one: a grid per level
// (cells of DistanceM·4^level metres; a report sits at the first level
// whose cell is at least its radius), per category and per four hours
// (UTC) of its widened window. Reports that may not be fused are not
// indexed.

const (
	metresPerDegree = 111_000 // a little under the true 111,319 m: the cells searched cover the radius
	bucketSeconds   = 4 * 3600
)

type cell struct {
	level  int8
	x, y   int32
	bucket int32 // of bucketSeconds
	cat    int32 // Set.cats
}

func (s *Set) cellSize(level int8) float64 {
	return s.rule.DistanceM * math.Pow(4, float64(level))
}

func (s *Set) levelOf(it *item) int8 {
	var l int8
	for s.cellSize(l) < it.radius {
		l++
	}
	return l
}

func (s *Set) topLevel() int8 {
	return s.levelOf(&item{radius: s.rule.MaxUncertaintyM})
}

func cellIndex(deg, sizeDeg float64) int32 { return int32(math.Floor(deg / sizeDeg)) }

func buckets(it *item) (int32, int32) {
	return int32(floorDiv(it.lo, bucketSeconds)), int32(floorDiv(it.hi, bucketSeconds))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func (s *Set) cellsOf(it *item, fn func(cell)) {
	l := s.levelOf(it)
	size := s.cellSize(l) / metresPerDegree
	x, y := cellIndex(it.r.Lon, size), cellIndex(it.r.Lat, size)
	b0, b1 := buckets(it)
	for b := b0; b <= b1; b++ {
		fn(cell{level: l, x: x, y: y, bucket: b, cat: s.cat(it.r.Category)})
	}
}

// cat is the number of category c in the cells' keys.
func (s *Set) cat(c string) int32 {
	n, ok := s.cats[c]
	if !ok {
		n = int32(len(s.cats))
		s.cats[c] = n
	}
	return n
}

func (s *Set) index(it *item) {
	if !it.fuse {
		return
	}
	s.levels[s.levelOf(it)]++
	s.cellsOf(it, func(c cell) { s.cells[c] = append(s.cells[c], it) })
}

func (s *Set) unindex(it *item) {
	if !it.fuse {
		return
	}
	s.levels[s.levelOf(it)]--
	s.cellsOf(it, func(c cell) {
		list := s.cells[c]
		for i, o := range list {
			if o == it {
				list[i] = list[len(list)-1]
				list = list[:len(list)-1]
				break
			}
		}
		if len(list) == 0 {
			delete(s.cells, c)
		} else {
			s.cells[c] = list
		}
	})
}

// neighbours calls fn with every indexed report that may be linked to it
// (a superset: the caller checks the rule), possibly more than once.
func (s *Set) neighbours(it *item, fn func(*item)) {
	if !it.fuse {
		return
	}
	b0, b1 := buckets(it)
	cat := s.cat(it.r.Category)
	for l := int8(0); l <= s.topLevel(); l++ {
		if s.levels[l] == 0 {
			continue
		}
		size := s.cellSize(l)
		// A report at level l has a radius of at most size.
		reach := max(it.radius, size) / metresPerDegree
		sizeDeg := size / metresPerDegree
		lat0, lat1 := it.r.Lat-reach, it.r.Lat+reach
		cos := max(math.Cos(math.Min(math.Max(math.Abs(lat0), math.Abs(lat1)), 89.9)*math.Pi/180), 0.001)
		lonReach := 1.01 * reach / cos
		x0, x1 := cellIndex(it.r.Lon-lonReach, sizeDeg), cellIndex(it.r.Lon+lonReach, sizeDeg)
		y0, y1 := cellIndex(lat0, sizeDeg), cellIndex(lat1, sizeDeg)
		for b := b0; b <= b1; b++ {
			for y := y0; y <= y1; y++ {
				for x := x0; x <= x1; x++ {
					for _, n := range s.cells[cell{level: l, x: x, y: y, bucket: b, cat: cat}] {
						fn(n)
					}
				}
			}
		}
	}
}
