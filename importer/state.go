package importer

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// State is what an import sent: report id -> revision and content hash.
type State map[string]Entry

// Entry is one report of a State.
type Entry struct {
	Revision uint32
	Hash     uint64
}

// ReadState reads a state written by WriteTo: one "id<TAB>revision<TAB>hash"
// line per report.
func ReadState(r io.Reader) (State, error) {
	s := State{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 3 {
			return nil, fmt.Errorf("importer: state line %d: want 3 fields", n)
		}
		rev, err1 := strconv.ParseUint(f[1], 10, 32)
		h, err2 := strconv.ParseUint(f[2], 16, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("importer: state line %d: bad number", n)
		}
		s[f[0]] = Entry{Revision: uint32(rev), Hash: h}
	}
	return s, sc.Err()
}

// WriteTo writes s sorted by id.
func (s State) WriteTo(w io.Writer) (int64, error) {
	ids := make([]string, 0, len(s))
	for id := range s {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	bw := bufio.NewWriter(w)
	var n int64
	for _, id := range ids {
		k, _ := fmt.Fprintf(bw, "%s\t%d\t%x\n", id, s[id].Revision, s[id].Hash)
		n += int64(k)
	}
	return n, bw.Flush()
}
