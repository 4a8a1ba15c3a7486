package correlate

import (
	"encoding/binary"
	"hash/fnv"
	"slices"
	"testing"

	"github.com/vigil-detect/vigil/alert"
)

func TestAlertIDRoundTrip(t *testing.T) {
	for _, s := range []string{alert.ID([]byte("x")), "00ff10AB" + "cdef0123456789abcdef0123456789ab"[:24]} {
		if got := parseAlertID(s).String(); got != toLower(s) {
			t.Errorf("%s -> %s", s, got)
		}
	}
}

func toLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

func TestHasherIsFNV128a(t *testing.T) {
	for _, in := range []string{"", "a", "198.51.100.23\x00Administrator", string(make([]byte, 300))} {
		h := newHasher()
		h.write([]byte(in))
		ref := fnv.New128a()
		ref.Write([]byte(in))
		sum := ref.Sum(nil)
		if binary.BigEndian.Uint64(sum[:8]) != h.hi || binary.BigEndian.Uint64(sum[8:]) != h.lo {
			t.Errorf("%q: %x, want %x", in, []uint64{h.hi, h.lo}, sum)
		}
	}
}

func TestGroupValuesRoundTrip(t *testing.T) {
	vals := []string{"", "a", string(make([]byte, 200)), "x\x00y"}
	if got := decodeGroup(groupValues(nil, vals)); !slices.Equal(got, vals) {
		t.Errorf("%q", got)
	}
}

func TestPercentile(t *testing.T) {
	v := []float64{1, 2, 3, 4}
	for p, want := range map[float64]float64{0: 1, 50: 2.5, 100: 4, 90: 3.7} {
		if got := percentile(v, p); got < want-1e-9 || got > want+1e-9 {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
}
