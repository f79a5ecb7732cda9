package incident

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/trucewatch/trucewatch/storage/read"
)

// fmtDigest is Digest as it was first written: FNV-1a of fmt's %v.
func fmtDigest(inc *read.Incident) uint64 {
	c := *inc
	c.Digest = 0
	h := fnv.New64a()
	fmt.Fprintf(h, "%v", c)
	return h.Sum64()
}

// Digest is fmt's %v hashed, field by field: for random values of every
// field of read.Incident (a field added there and not to Digest fails),
// special floats and nil and empty slices included.
func TestDigestIsFmt(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	floats := []float64{0, -0.0, 1, -1.5, 33.123456789012345, 1e21, 1e-7, 123456789, math.Inf(1), math.Inf(-1), math.NaN(), math.MaxFloat64, math.SmallestNonzeroFloat64}
	str := func() string { return []string{"", "a", "ru-obs", "x y", "é{}[]", "0"}[rng.IntN(6)] }
	var fill func(v reflect.Value)
	fill = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.String:
			v.SetString(str())
		case reflect.Int64:
			v.SetInt(rng.Int64() - rng.Int64())
		case reflect.Uint64, reflect.Uint32, reflect.Uint8:
			v.SetUint(rng.Uint64() >> rng.IntN(64))
		case reflect.Float64, reflect.Float32:
			f := floats[rng.IntN(len(floats))]
			if rng.IntN(2) == 0 {
				f = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(30)-15))
			}
			v.SetFloat(f)
		case reflect.Bool:
			v.SetBool(rng.IntN(2) == 0)
		case reflect.Slice:
			switch n := rng.IntN(4); n {
			case 0: // nil
			default:
				s := reflect.MakeSlice(v.Type(), n-1, n-1)
				for i := range s.Len() {
					fill(s.Index(i))
				}
				v.Set(s)
			}
		case reflect.Struct:
			for i := range v.NumField() {
				fill(v.Field(i))
			}
		default:
			t.Fatalf("read.Incident has a field of kind %s: teach Digest and this test", v.Kind())
		}
	}
	for range 20_000 {
		var inc read.Incident
		fill(reflect.ValueOf(&inc).Elem())
		if got, want := Digest(&inc), fmtDigest(&inc); got != want {
			t.Fatalf("Digest %x, fmt's %x, of %+v", got, want, inc)
		}
	}
}
