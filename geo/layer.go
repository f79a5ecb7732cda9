package geo

import (
	"errors"
	"math"
	"slices"
	"sort"

	"github.com/paulmach/orb"
)

// A layer is a containment index over a few polygons ("shapes", each the
// even-odd union of its rings). It is a uniform grid; every cell is
//
//   - outside every shape (cells[i] == 0),
//   - fully inside exactly one shape and crossed by no edge
//     (cells[i] == shape+1), or
//   - a list of entries (cells[i] > nShapes): one per shape that has edges
//     in the cell or fully contains it. An entry with edges keeps a copy of
//     the edges that touch the closed cell and a reference point in the
//     cell whose status is known; a point of the cell is inside the shape
//     when the segment from the reference point to it crosses the shape's
//     boundary an even number of times (status kept) or odd (flipped).
//
// Vertices that lie exactly on the reference segment are counted on one
// side consistently (simulation of simplicity), and a point within
// boundaryEps of an edge is on the boundary, hence inside.
type layer struct {
	minX, minY   float64
	dx, dy       float64
	invDX, invDY float64
	nx, ny       int
	nShapes      uint32
	cells        []uint32 // during the build only; then blocks
	bnx          int      // blocks per row
	blocks       []uint32 // uniformBlock|value, or the index of 64 cells in blockCells
	blockCells   []uint32
	lists        []uint32 // list i is entries[lists[i]:lists[i+1]]
	entries      []entry
	segs         []seg
	bound        orb.Bound
}

// Cells are stored in blocks of blockSide x blockSide: a block whose cells
// all have the same value (the interior of a sub-district, the outside)
// keeps only that value, so that the block table stays small enough for
// the CPU caches.
const (
	blockShift   = 3
	blockSide    = 1 << blockShift
	uniformBlock = 1 << 31
)

// compress turns cells into blocks and drops cells.
func (l *layer) compress() {
	l.bnx = (l.nx + blockSide - 1) / blockSide
	bny := (l.ny + blockSide - 1) / blockSide
	l.blocks = make([]uint32, l.bnx*bny)
	var buf [blockSide * blockSide]uint32
	for by := 0; by < bny; by++ {
		for bx := 0; bx < l.bnx; bx++ {
			uniform := true
			for j := 0; j < blockSide; j++ {
				for i := 0; i < blockSide; i++ {
					x, y := bx*blockSide+i, by*blockSide+j
					v := uint32(0)
					if x < l.nx && y < l.ny {
						v = l.cells[y*l.nx+x]
					}
					buf[j*blockSide+i] = v
					uniform = uniform && v == buf[0]
				}
			}
			if uniform {
				l.blocks[by*l.bnx+bx] = uniformBlock | buf[0]
			} else {
				l.blocks[by*l.bnx+bx] = uint32(len(l.blockCells) / (blockSide * blockSide))
				l.blockCells = append(l.blockCells, buf[:]...)
			}
		}
	}
	l.cells = nil
}

// cell returns the value of cell (i, j), which must be in the grid.
func (l *layer) cell(i, j int) uint32 {
	b := l.blocks[(j>>blockShift)*l.bnx+i>>blockShift]
	if b&uniformBlock != 0 {
		return b &^ uniformBlock
	}
	return l.blockCells[int(b)<<(2*blockShift)|(j&(blockSide-1))<<blockShift|i&(blockSide-1)]
}

// seg is one polygon edge from a to b.
type seg struct{ ax, ay, bx, by float64 }

type entry struct {
	shape      uint32
	segStart   uint32
	segEnd     uint32 // == segStart: the cell is fully inside shape
	refIn      bool
	refX, refY float64
}

// boundaryEps (degrees, about 0.1 mm) is how close to an edge a point is on
// the boundary.
const boundaryEps = 1e-9

// cellEps (degrees) widens cells when assigning edges, so that an edge that
// touches a cell's border is kept by both cells.
const cellEps = 1e-9

// shapeEdges returns the edges of the rings, closing open rings.
func shapeEdges(rings []orb.Ring, dst []seg) []seg {
	for _, r := range rings {
		n := len(r)
		if n < 2 {
			continue
		}
		for i := 0; i+1 < n; i++ {
			dst = append(dst, seg{r[i][0], r[i][1], r[i+1][0], r[i+1][1]})
		}
		if r[0] != r[n-1] {
			dst = append(dst, seg{r[n-1][0], r[n-1][1], r[0][0], r[0][1]})
		}
	}
	return dst
}

// geometryRings returns all rings of a Polygon or MultiPolygon.
func geometryRings(g orb.Geometry) []orb.Ring {
	switch g := g.(type) {
	case orb.Polygon:
		return g
	case orb.MultiPolygon:
		var rs []orb.Ring
		for _, p := range g {
			rs = append(rs, p...)
		}
		return rs
	case orb.Ring:
		return []orb.Ring{g}
	}
	return nil
}

type record struct {
	cell  uint32
	entry entry
}

type xCross struct {
	row int32
	x   float64
}

// buildLayer indexes shapes on a grid of about cellsPerEdge cells per edge.
func buildLayer(shapes [][]orb.Ring, cellsPerEdge float64) (*layer, error) {
	b, nEdges, err := shapesBound(shapes)
	if err != nil {
		return nil, err
	}
	l := &layer{nShapes: uint32(len(shapes)), bound: b}
	l.sizeGrid(max(16, min(8<<20, cellsPerEdge*float64(nEdges))))
	lb := layerBuild{l: l, recs: make([]record, 0, nEdges/2+16)}
	l.segs = make([]seg, 0, nEdges*5/2+16)
	for s, rings := range shapes {
		lb.addShape(uint32(s), rings)
	}
	l.makeLists(lb.recs)
	return l, nil
}

// shapesBound returns the bound of every coordinate of shapes and the
// number of their positions (an upper bound on their edges).
func shapesBound(shapes [][]orb.Ring) (b orb.Bound, nEdges int, err error) {
	first := true
	for _, rings := range shapes {
		for _, r := range rings {
			for _, p := range r {
				if math.IsNaN(p[0]) || math.IsNaN(p[1]) || math.IsInf(p[0], 0) || math.IsInf(p[1], 0) {
					return b, 0, errors.New("geo: index: coordinate is not finite")
				}
				if first {
					b = orb.Bound{Min: p, Max: p}
					first = false
				} else {
					b = b.Extend(p)
				}
			}
			nEdges += len(r)
		}
	}
	if first {
		return b, 0, errors.New("geo: index: no coordinates")
	}
	return b, nEdges, nil
}

// sizeGrid lays a grid of about target cells over l.bound and allocates
// its cells.
func (l *layer) sizeGrid(target float64) {
	b := l.bound
	// Pad so that no vertex lies on the outer border of the grid.
	pad := 1e-6 + 1e-9*max(b.Max[0]-b.Min[0], b.Max[1]-b.Min[1])
	l.minX, l.minY = b.Min[0]-pad, b.Min[1]-pad
	w, h := b.Max[0]+pad-l.minX, b.Max[1]+pad-l.minY
	cs := math.Sqrt(w * h / target)
	l.nx = max(1, int(math.Ceil(w/cs)))
	l.ny = max(1, int(math.Ceil(h/cs)))
	l.nx = min(l.nx, 1<<14)
	l.ny = min(l.ny, 1<<14)
	l.dx, l.dy = w/float64(l.nx), h/float64(l.ny)
	l.invDX, l.invDY = 1/l.dx, 1/l.dy
	l.cells = make([]uint32, l.nx*l.ny)
}

// layerBuild is what the phases of buildLayer share: the records of the
// cells that become lists, and the scratch of the shape being added.
type layerBuild struct {
	l     *layer
	recs  []record  // cells that become lists: an entry with edges, or a shape fully containing the cell
	edges []seg     // the shape's edges
	keys  []uint64  // cell<<32|edge index for every cell an edge touches, sorted
	xs    []xCross  // the edges' crossings of the row centres, by row then x
	rowXs []float64 // the crossings of the current row
	ki    int       // next key to look at
	xi    int       // next crossing to look at
}

// addShape rasterizes the edges of shape s and fills the cells: cells with
// edges get a record, cells inside the shape get s (or a record when they
// already belong to another shape).
func (lb *layerBuild) addShape(s uint32, rings []orb.Ring) {
	lb.edges = shapeEdges(rings, lb.edges[:0])
	if len(lb.edges) == 0 {
		return
	}
	lb.rasterizeShape()
	r0, r1 := lb.l.ny, -1
	c0, c1 := lb.l.nx, -1
	for _, k := range lb.keys {
		cell := int(k >> 32)
		r, c := cell/lb.l.nx, cell%lb.l.nx
		r0, r1 = min(r0, r), max(r1, r)
		c0, c1 = min(c0, c), max(c1, c)
	}
	lb.ki, lb.xi = 0, 0
	for r := r0; r <= r1; r++ {
		lb.scanRow(s, r, c0, c1)
	}
}

// rasterizeShape fills keys and xs for the shape's edges, sorted.
func (lb *layerBuild) rasterizeShape() {
	l := lb.l
	lb.keys = lb.keys[:0]
	lb.xs = lb.xs[:0]
	for ei := range lb.edges {
		e := &lb.edges[ei]
		lb.keys = l.rasterize(e, uint32(ei), lb.keys)
		// Scanline crossings at the row centres, half-open in y.
		lo, hi := min(e.ay, e.by), max(e.ay, e.by)
		ra := l.rowOf(lo)
		rb := l.rowOf(hi)
		if lo == hi {
			continue
		}
		for r := ra; r <= rb; r++ {
			yc := l.minY + (float64(r)+0.5)*l.dy
			if (e.ay <= yc) != (e.by <= yc) {
				x := e.ax + (yc-e.ay)*(e.bx-e.ax)/(e.by-e.ay)
				lb.xs = append(lb.xs, xCross{int32(r), x})
			}
		}
	}
	slices.Sort(lb.keys)
	slices.SortFunc(lb.xs, func(a, b xCross) int {
		if a.row != b.row {
			return int(a.row - b.row)
		}
		switch {
		case a.x < b.x:
			return -1
		case a.x > b.x:
			return 1
		}
		return 0
	})
}

// scanRow fills the cells c0..c1 of row r for shape s, walking the keys
// and crossings in step.
func (lb *layerBuild) scanRow(s uint32, r, c0, c1 int) {
	l, keys, xs := lb.l, lb.keys, lb.xs
	lb.rowXs = lb.rowXs[:0]
	for lb.xi < len(xs) && int(xs[lb.xi].row) < r {
		lb.xi++
	}
	for lb.xi < len(xs) && int(xs[lb.xi].row) == r {
		lb.rowXs = append(lb.rowXs, xs[lb.xi].x)
		lb.xi++
	}
	yc := l.minY + (float64(r)+0.5)*l.dy
	k := 0 // crossings left of the current cell centre
	for c := c0; c <= c1; c++ {
		cell := uint32(r*l.nx + c)
		for lb.ki < len(keys) && uint32(keys[lb.ki]>>32) < cell {
			lb.ki++
		}
		if lb.ki < len(keys) && uint32(keys[lb.ki]>>32) == cell {
			start := uint32(len(l.segs))
			for lb.ki < len(keys) && uint32(keys[lb.ki]>>32) == cell {
				l.segs = append(l.segs, lb.edges[uint32(keys[lb.ki])])
				lb.ki++
			}
			en := entry{shape: s, segStart: start, segEnd: uint32(len(l.segs))}
			l.reference(&en, c, r, yc, lb.rowXs, lb.edges)
			lb.recs = append(lb.recs, record{cell, en})
			continue
		}
		xc := l.minX + (float64(c)+0.5)*l.dx
		for k < len(lb.rowXs) && lb.rowXs[k] < xc {
			k++
		}
		if k%2 == 1 {
			if l.cells[cell] == 0 {
				l.cells[cell] = s + 1
			} else {
				lb.recs = append(lb.recs, record{cell, entry{shape: s, refIn: true}})
			}
		}
	}
}

// makeLists turns the cells with records into lists of entries.
func (l *layer) makeLists(recs []record) {
	slices.SortFunc(recs, func(a, b record) int {
		if a.cell != b.cell {
			if a.cell < b.cell {
				return -1
			}
			return 1
		}
		return int(a.entry.shape) - int(b.entry.shape)
	})
	l.lists = make([]uint32, 1, len(recs)+1)
	l.entries = make([]entry, 0, len(recs)+len(recs)/8)
	for i := 0; i < len(recs); {
		cell := recs[i].cell
		if v := l.cells[cell]; v != 0 {
			l.entries = append(l.entries, entry{shape: v - 1, refIn: true})
		}
		for ; i < len(recs) && recs[i].cell == cell; i++ {
			l.entries = append(l.entries, recs[i].entry)
		}
		// Keep the entries of a cell in shape order.
		es := l.entries[l.lists[len(l.lists)-1]:]
		slices.SortStableFunc(es, func(a, b entry) int { return int(a.shape) - int(b.shape) })
		l.lists = append(l.lists, uint32(len(l.entries)))
		l.cells[cell] = l.nShapes + uint32(len(l.lists)-1)
	}
}

func (l *layer) rowOf(y float64) int {
	r := int(math.Floor((y - l.minY) * l.invDY))
	return min(max(r, 0), l.ny-1)
}

func (l *layer) colOf(x float64) int {
	c := int(math.Floor((x - l.minX) * l.invDX))
	return min(max(c, 0), l.nx-1)
}

// rasterize appends cell<<32|ei for every cell that the edge touches
// (cells widened by cellEps).
func (l *layer) rasterize(e *seg, ei uint32, keys []uint64) []uint64 {
	lo, hi := min(e.ay, e.by), max(e.ay, e.by)
	ra, rb := l.rowOf(lo-cellEps), l.rowOf(hi+cellEps)
	for r := ra; r <= rb; r++ {
		ylo := l.minY + float64(r)*l.dy - cellEps
		yhi := ylo + l.dy + 2*cellEps
		var xlo, xhi float64
		if e.ay == e.by {
			xlo, xhi = min(e.ax, e.bx), max(e.ax, e.bx)
		} else {
			t0 := (ylo - e.ay) / (e.by - e.ay)
			t1 := (yhi - e.ay) / (e.by - e.ay)
			if t0 > t1 {
				t0, t1 = t1, t0
			}
			t0, t1 = max(t0, 0), min(t1, 1)
			if t0 > t1 {
				continue
			}
			x0 := e.ax + t0*(e.bx-e.ax)
			x1 := e.ax + t1*(e.bx-e.ax)
			xlo, xhi = min(x0, x1), max(x0, x1)
		}
		ca, cb := l.colOf(xlo-cellEps), l.colOf(xhi+cellEps)
		for c := ca; c <= cb; c++ {
			keys = append(keys, uint64(r*l.nx+c)<<32|uint64(ei))
		}
	}
	return keys
}

// reference chooses en's reference point on the row centre line yc, away
// from the cell's edges, and its status from the scanline crossings rowXs.
func (l *layer) reference(en *entry, c, r int, yc float64, rowXs []float64, edges []seg) {
	x0 := l.minX + float64(c)*l.dx
	segs := l.segs[en.segStart:en.segEnd]
	best, bestD := x0+0.5*l.dx, -1.0
	for k := 0; k < 9; k++ {
		// Centre first, then spread across the cell.
		x := x0 + (0.5+float64((k+1)/2)*float64(1-2*(k%2))/9)*l.dx
		d := math.Inf(1)
		for i := range segs {
			d = min(d, segDist2Deg(&segs[i], x, yc))
		}
		if d > bestD {
			best, bestD = x, d
		}
		if d > 0.01*l.dx*l.dx {
			break
		}
	}
	if math.Sqrt(bestD) > 100*boundaryEps {
		en.refX, en.refY = best, yc
		n := sort.SearchFloat64s(rowXs, best) // crossings with x < best
		en.refIn = n%2 == 1
		return
	}
	// Degenerate (an edge along the centre line): any point of the cell
	// away from the edges, with a full ray cast.
	y0 := l.minY + float64(r)*l.dy
	for i := 1; i < 16; i++ {
		for j := 1; j < 16; j++ {
			x, y := x0+float64(i)*l.dx/16, y0+float64(j)*l.dy/16
			d := math.Inf(1)
			for k := range segs {
				d = min(d, segDist2Deg(&segs[k], x, y))
			}
			if math.Sqrt(d) > 100*boundaryEps {
				en.refX, en.refY = x, y
				en.refIn = rayCast(edges, x, y)
				return
			}
		}
	}
	// A cell so small that no point is clear of edges: keep the centre.
	en.refX, en.refY = best, yc
	en.refIn = rayCast(edges, best, yc)
}

// rayCast is the plain even-odd crossing test over all edges.
func rayCast(edges []seg, x, y float64) bool {
	in := false
	for i := range edges {
		e := &edges[i]
		if (e.ay <= y) != (e.by <= y) {
			if x < e.ax+(y-e.ay)*(e.bx-e.ax)/(e.by-e.ay) {
				in = !in
			}
		}
	}
	return in
}

// segDist2Deg is the squared distance in degree space from (x, y) to e.
func segDist2Deg(e *seg, x, y float64) float64 {
	vx, vy := e.bx-e.ax, e.by-e.ay
	wx, wy := x-e.ax, y-e.ay
	t := 0.0
	if l2 := vx*vx + vy*vy; l2 > 0 {
		t = max(0, min(1, (wx*vx+wy*vy)/l2))
	}
	dx, dy := wx-t*vx, wy-t*vy
	return dx*dx + dy*dy
}

// appendHits appends to hits every shape that contains (x, y), in shape
// order.
func (l *layer) appendHits(x, y float64, hits []uint32) []uint32 {
	fx := (x - l.minX) * l.invDX
	fy := (y - l.minY) * l.invDY
	if !(fx >= 0 && fy >= 0 && fx < float64(l.nx) && fy < float64(l.ny)) {
		return hits
	}
	v := l.cell(int(fx), int(fy))
	if v == 0 {
		return hits
	}
	if v <= l.nShapes {
		return append(hits, v-1)
	}
	li := v - l.nShapes - 1
	for i := l.lists[li]; i < l.lists[li+1]; i++ {
		e := &l.entries[i]
		if e.segStart == e.segEnd || l.inside(e, x, y) {
			hits = append(hits, e.shape)
		}
	}
	return hits
}

// contains reports whether any shape contains (x, y).
func (l *layer) contains(x, y float64) bool {
	var buf [4]uint32
	return len(l.appendHits(x, y, buf[:0])) > 0
}

// inside tests (x, y) against the edges of one entry.
func (l *layer) inside(e *entry, x, y float64) bool {
	in := e.refIn
	rx, ry := e.refX, e.refY
	qx, qy := x-rx, y-ry
	for i := e.segStart; i < e.segEnd; i++ {
		s := &l.segs[i]
		ex, ey := s.bx-s.ax, s.by-s.ay
		o2 := ex*(y-s.ay) - ey*(x-s.ax)
		if math.Abs(o2) <= boundaryEps*(math.Abs(ex)+math.Abs(ey)) &&
			x >= min(s.ax, s.bx)-boundaryEps && x <= max(s.ax, s.bx)+boundaryEps &&
			y >= min(s.ay, s.by)-boundaryEps && y <= max(s.ay, s.by)+boundaryEps {
			return true // on the boundary
		}
		sa := qx*(s.ay-ry)-qy*(s.ax-rx) > 0
		sb := qx*(s.by-ry)-qy*(s.bx-rx) > 0
		if sa == sb {
			continue
		}
		o1 := ex*(ry-s.ay) - ey*(rx-s.ax)
		if (o1 > 0) != (o2 > 0) {
			in = !in
		}
	}
	return in
}

// nearest returns the shape with an edge nearest to (x, y) within maxM
// metres, and the distance in metres. It searches rings of cells around
// the point's cell, nearest first, and stops once a ring cannot hold
// anything nearer than the best edge found.
func (l *layer) nearest(x, y, maxM float64) (shape uint32, distM float64, ok bool) {
	kx, ky := metresPerDegree(y)
	rx, ry := maxM/kx, maxM/ky
	if !(x+rx >= l.minX && y+ry >= l.minY && x-rx <= l.minX+float64(l.nx)*l.dx && y-ry <= l.minY+float64(l.ny)*l.dy) {
		return 0, 0, false
	}
	ci, cj := l.colOf(x), l.rowOf(y)
	cellM := min(l.dx*kx, l.dy*ky) // the narrowest side of a cell, in metres
	kmax := int(maxM/cellM) + 2
	// Rows and columns that the search box can reach.
	c0, c1 := l.colOf(x-rx), l.colOf(x+rx)
	r0, r1 := l.rowOf(y-ry), l.rowOf(y+ry)
	best := maxM * maxM
	bestSeg := -1
	visit := func(c, r int) {
		if c < c0 || c > c1 || r < r0 || r > r1 {
			return
		}
		v := l.cell(c, r)
		if v <= l.nShapes {
			return
		}
		li := v - l.nShapes - 1
		for i := l.lists[li]; i < l.lists[li+1]; i++ {
			e := &l.entries[i]
			for j := e.segStart; j < e.segEnd; j++ {
				if d := segDist2M(&l.segs[j], x, y, kx, ky); d < best || (d == best && bestSeg >= 0 && e.shape < shape) {
					best, bestSeg, shape = d, int(j), e.shape
				}
			}
		}
	}
	for k := 0; k <= kmax; k++ {
		if k >= 2 {
			if lb := float64(k-1) * cellM; lb*lb > best {
				break
			}
		}
		if k == 0 {
			visit(ci, cj)
			continue
		}
		if ci-k < c0 && ci+k > c1 && cj-k < r0 && cj+k > r1 {
			break // the ring is outside the search box
		}
		for c := ci - k; c <= ci+k; c++ {
			visit(c, cj-k)
			visit(c, cj+k)
		}
		for r := cj - k + 1; r <= cj+k-1; r++ {
			visit(ci-k, r)
			visit(ci+k, r)
		}
	}
	if bestSeg < 0 {
		return 0, 0, false
	}
	return shape, segDistM(&l.segs[bestSeg], x, y), true
}
