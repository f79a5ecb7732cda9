package incident

import "math"

// The index finds the reports that may be linked to one: a grid per level
// (a report sits at the first level l whose size DistanceM·4^l is at
// least its radius; the level's cells are twice that size, so that a
// search of one size around a point reads at most 2×2 cells), per
// category and per four hours (UTC) of its widened window. Reports that
// may not be fused are not indexed.

const (
	metresPerDegree = 111_000 // a little under the true 111,319 m: the cells searched cover the radius
	bucketSeconds   = 4 * 3600
)

// cell is a cell's key: level, category, four-hour bucket and grid x, y
// packed into 64 bits (a map of them hashes a word). Far-apart values
// can share a key (x wraps every 2^18 cells, the bucket every 239
// years): the cell then holds both, which only adds candidates, as the
// caller checks the rule on every one.
type cell uint64

func cellOf(level int8, cat, bucket, x, y int32) cell {
	const b18, b19 = 1<<18 - 1, 1<<19 - 1
	return cell(uint64(level)&7<<61 | uint64(cat)&63<<55 | uint64(bucket)&b19<<36 | uint64(x)&b18<<18 | uint64(y)&b18)
}

// levelOf is the level of a report of radius r.
func (s *Set) levelOf(r float64) int8 {
	var l int8
	for int(l) < len(s.sizes)-1 && s.sizes[l] < r {
		l++
	}
	return l
}

// levelSizes are DistanceM·4^l up to the first at least maxRadius.
func levelSizes(distanceM, maxRadius float64) []float64 {
	sizes := []float64{distanceM}
	for sizes[len(sizes)-1] < maxRadius {
		sizes = append(sizes, distanceM*math.Pow(4, float64(len(sizes))))
	}
	return sizes
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
	l := it.level
	side := 2 * s.sizes[l] / metresPerDegree
	x, y := cellIndex(it.r.Lon, side), cellIndex(it.r.Lat, side)
	b0, b1 := buckets(it)
	for b := b0; b <= b1; b++ {
		fn(cellOf(l, it.cat, b, x, y))
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
	it.level, it.cat = s.levelOf(it.radius), s.cat(it.r.Category)
	s.levels[it.level]++
	s.cellsOf(it, func(c cell) { s.cells[c] = append(s.cells[c], it) })
}

func (s *Set) unindex(it *item) {
	if !it.fuse {
		return
	}
	s.levels[it.level]--
	s.cellsOf(it, func(c cell) {
		list := s.cells[c]
		for i, o := range list {
			if o == it {
				list[i] = list[len(list)-1]
				list[len(list)-1] = nil
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
// (a superset: the caller checks the rule), possibly more than once. it
// must be indexed.
func (s *Set) neighbours(it *item, fn func(*item)) {
	if !it.fuse {
		return
	}
	b0, b1 := buckets(it)
	for l := range s.levels {
		if s.levels[l] == 0 {
			continue
		}
		size := s.sizes[l]
		// A report at level l has a radius of at most size.
		reach := max(it.radius, size) / metresPerDegree
		side := 2 * size / metresPerDegree
		lat0, lat1 := it.r.Lat-reach, it.r.Lat+reach
		cos := max(math.Cos(math.Min(math.Max(math.Abs(lat0), math.Abs(lat1)), 89.9)*math.Pi/180), 0.001)
		lonReach := 1.01 * reach / cos
		x0, x1 := cellIndex(it.r.Lon-lonReach, side), cellIndex(it.r.Lon+lonReach, side)
		y0, y1 := cellIndex(lat0, side), cellIndex(lat1, side)
		for b := b0; b <= b1; b++ {
			for y := y0; y <= y1; y++ {
				for x := x0; x <= x1; x++ {
					for _, n := range s.cells[cellOf(int8(l), it.cat, b, x, y)] {
						fn(n)
					}
				}
			}
		}
	}
}
