package multilit

import (
	"bytes"
	"math/rand"
	"sort"
	"testing"
	"unsafe"

	"github.com/vigil-detect/vigil/internal/race"
)

// naive lists the id of every occurrence of every literal, the reference Scan must agree with.
func naive(lits [][]byte, text []byte) []int {
	var out []int
	for id, l := range lits {
		for i := 0; i+len(l) <= len(text); i++ {
			if bytes.Equal(text[i:i+len(l)], l) {
				out = append(out, id)
			}
		}
	}
	sort.Ints(out)
	return out
}

func scan(m *Matcher, text []byte) []int {
	var out []int
	m.Scan(text, func(id int) { out = append(out, id) })
	sort.Ints(out)
	return out
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestScanKnown(t *testing.T) {
	lits := [][]byte{[]byte("cmd.exe"), []byte("\\cmd.exe"), []byte("exe"), []byte("cmd.exe"), []byte(" /c ")}
	var b Builder
	for _, l := range lits {
		b.Add(l)
	}
	m := b.Build()
	for _, text := range []string{`c:\windows\system32\cmd.exe /c whoami`, `cmd.exe`, `ex`, ``, `exeexe`} {
		if got, want := scan(m, []byte(text)), naive(lits, []byte(text)); !equal(got, want) {
			t.Errorf("%q: got %v want %v", text, got, want)
		}
	}
}

// TestScanNumericTexts: texts of numericBytes alone (GUIDs, numbers) shorter than every literal
// of such bytes are passed over, and literals of them are still found, the shortest one included.
func TestScanNumericTexts(t *testing.T) {
	lits := [][]byte{[]byte("cmd.exe"), []byte("dead-beef"), []byte("{dead-beef-0000}"), []byte("w12")}
	var b Builder
	for _, l := range lits {
		b.Add(l)
	}
	m := b.Build()
	for _, text := range []string{"dead-beef", "{dead-beef}", "dead-bee", "{dead-beef-0000}", "12345678", "0w12", "0x12", "ead-beef", "dead beef", "1:2 t+z/x"} {
		if got, want := scan(m, []byte(text)), naive(lits, []byte(text)); !equal(got, want) {
			t.Errorf("%q: got %v want %v", text, got, want)
		}
	}
	if m.numericMin != len("dead-beef") {
		t.Errorf("numericMin %d, want %d", m.numericMin, len("dead-beef"))
	}
}

func TestScanRandomAgainstNaive(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	alpha := []byte("abc\\-/ \x00\xff")
	for round := 0; round < 2000; round++ {
		var lits [][]byte
		var b Builder
		for i := 0; i < 1+r.Intn(40); i++ {
			l := make([]byte, MinLen+r.Intn(5))
			for j := range l {
				l[j] = alpha[r.Intn(len(alpha))]
			}
			lits = append(lits, l)
			b.Add(l)
		}
		m := b.Build()
		if m.Literals() != len(lits) {
			t.Fatalf("%d literals, want %d", m.Literals(), len(lits))
		}
		for id, l := range lits {
			if m.Literal(id) != string(l) {
				t.Fatalf("literal %d is %q, want %q", id, m.Literal(id), l)
			}
		}
		var text []byte // random bytes and copies of the literals
		for len(text) < 120 && r.Intn(12) > 0 {
			if r.Intn(3) == 0 {
				text = append(text, lits[r.Intn(len(lits))]...)
			} else {
				text = append(text, alpha[r.Intn(len(alpha))])
			}
		}
		want := naive(lits, text)
		if got := scan(m, text); !equal(got, want) {
			t.Fatalf("literals %q text %q: got %v want %v", lits, text, got, want)
		}
		if got := m.Any(text); got != (len(want) > 0) {
			t.Fatalf("literals %q text %q: Any %v, want %v", lits, text, got, len(want) > 0)
		}
	}
}

func TestScanAllocatesNothing(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector's instrumentation allocates")
	}
	var b Builder
	b.Add([]byte("cmd.exe"))
	m := b.Build()
	text := []byte(`c:\windows\system32\cmd.exe /c whoami`)
	n := 0
	hit := func(int) { n++ }
	if allocs := testing.AllocsPerRun(100, func() { m.Scan(text, hit) }); allocs != 0 {
		t.Fatalf("Scan allocates %v", allocs)
	}
}

// BenchmarkScan: a command line against 10,000 literals of 6 to 17 bytes, alone and with 300
// three-byte ones (the two gram lengths share one pass); Scan, and its Go loops alone.
func BenchmarkScan(b *testing.B) {
	r := rand.New(rand.NewSource(2))
	word := func(n int) []byte {
		l := make([]byte, n)
		for j := range l {
			l[j] = byte('a' + r.Intn(26))
		}
		return l
	}
	var long, mixed Builder
	for range 10000 {
		l := word(6 + r.Intn(12))
		long.Add(l)
		mixed.Add(l)
	}
	for range 300 {
		mixed.Add(word(3))
	}
	text := []byte(`"c:\windows\system32\windowspowershell\v1.0\powershell.exe" -noprofile -executionpolicy bypass -file c:\programdata\scripts\inventory.ps1 -verbose`)
	for _, c := range []struct {
		name string
		m    *Matcher
	}{{"q4", long.Build()}, {"q4+q3", mixed.Build()}} {
		b.Run(c.name, func(b *testing.B) {
			hits := 0
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				c.m.Scan(text, func(int) { hits++ })
			}
		})
		b.Run(c.name+"/go-loops", func(b *testing.B) { // without the vector filter
			hits := 0
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				c.m.scanLoops(text, func(int) { hits++ }, nil)
			}
		})
	}
}

// TestSlotSize: a slot is 32 bytes, so that none straddles two cache lines.
func TestSlotSize(t *testing.T) {
	if n := unsafe.Sizeof(slot{}); n != 32 {
		t.Fatalf("a slot is %d bytes, want 32", n)
	}
}

// TestBitmapCoversMask: the scan loops read bitmap words unchecked, trusting that every bit
// index a mask lets through is inside the bitmap.
func TestBitmapCoversMask(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for _, n := range []int{0, 1, 2, 7, 100, 5000, 20000} {
		var b Builder
		for range n {
			l := make([]byte, 3+r.Intn(6))
			for j := range l {
				l[j] = byte(r.Intn(256))
			}
			b.Add(l)
		}
		m := b.Build()
		for _, tb := range []*table{&m.q4, &m.q3} {
			if len(tb.bitmap)*64 != int(tb.mask)+1 {
				t.Errorf("%d literals, q%d: %d bitmap words for mask %#x", n, tb.q, len(tb.bitmap), tb.mask)
			}
		}
	}
}

// allNumeric tests eight bytes per branch; it must agree with a byte-by-byte check wherever the
// first non-numeric byte falls.
func TestAllNumeric(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	for round := 0; round < 20000; round++ {
		text := make([]byte, r.Intn(40))
		for i := range text {
			text[i] = "0123456789abcdef-:.{}xtz+/ "[r.Intn(27)]
		}
		if len(text) > 0 && r.Intn(2) == 0 {
			text[r.Intn(len(text))] = "gqZ\\\x00\xff"[r.Intn(6)]
		}
		want := true
		for _, c := range text {
			want = want && numericBytes[c]
		}
		if got := allNumeric(text); got != want {
			t.Fatalf("allNumeric(%q) = %v, want %v", text, got, want)
		}
	}
}

// TestAnyFindsTheOnlyLiteral: Any stops at the first literal found, so it must still look
// everywhere until then: one literal placed at each offset of a text of up to 300 bytes (several
// vector blocks) is found, and a text without one is not.
func TestAnyFindsTheOnlyLiteral(t *testing.T) {
	var b Builder
	b.Add([]byte("abc"))
	b.Add([]byte("wxyz1"))
	m := b.Build()
	for n := 0; n <= 300; n++ {
		text := bytes.Repeat([]byte{'.'}, n)
		if m.Any(text) {
			t.Fatalf("%d bytes of filler: Any true", n)
		}
		for _, lit := range []string{"abc", "wxyz1"} {
			for at := 0; at+len(lit) <= n; at += 1 + at/16 {
				copy(text, bytes.Repeat([]byte{'.'}, n))
				copy(text[at:], lit)
				if !m.Any(text) {
					t.Fatalf("%q at %d of %d bytes: Any false", lit, at, n)
				}
			}
		}
	}
}
