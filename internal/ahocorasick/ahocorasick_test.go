package ahocorasick

import (
	"bytes"
	"math/rand"
	"sort"
	"testing"
)

// naive lists (id, end) for every occurrence, the reference Scan must agree with.
func naive(patterns [][]byte, text []byte) []int {
	var out []int
	for end := 1; end <= len(text); end++ {
		for id, p := range patterns {
			if len(p) > 0 && end >= len(p) && bytes.Equal(text[end-len(p):end], p) {
				out = append(out, id)
			}
		}
	}
	return out
}

func scanAll(a *Automaton, text []byte) []int {
	var out []int
	a.Scan(text, func(id int) { out = append(out, id) })
	return out
}

func sameMultiset(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = append([]int(nil), a...), append([]int(nil), b...)
	sort.Ints(a)
	sort.Ints(b)
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestScanKnown(t *testing.T) {
	pats := [][]byte{[]byte("he"), []byte("she"), []byte("his"), []byte("hers"), []byte("he"), []byte(""), []byte("e")}
	var b Builder
	for _, p := range pats {
		b.Add(p)
	}
	a := b.Build()
	text := []byte("ushers and his hers")
	if got, want := scanAll(a, text), naive(pats, text); !sameMultiset(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
}

func TestScanRandomAgainstNaive(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	alpha := []byte("abc\\-/ \x00\xff")
	for round := 0; round < 300; round++ {
		var pats [][]byte
		var b Builder
		for i := 0; i < 1+r.Intn(20); i++ {
			p := make([]byte, r.Intn(5))
			for j := range p {
				p[j] = alpha[r.Intn(len(alpha))]
			}
			pats = append(pats, p)
			b.Add(p)
		}
		a := b.Build()
		text := make([]byte, r.Intn(60))
		for j := range text {
			text[j] = alpha[r.Intn(len(alpha))]
		}
		if got, want := scanAll(a, text), naive(pats, text); !sameMultiset(got, want) {
			t.Fatalf("patterns %q text %q: got %v want %v", pats, text, got, want)
		}
	}
}

func TestAllByteValues(t *testing.T) {
	var b Builder
	var all []byte
	for c := 0; c < 256; c++ {
		all = append(all, byte(c))
	}
	b.Add(all)
	b.Add([]byte{255, 0})
	a := b.Build()
	if a.Classes() != 256 {
		t.Fatalf("classes %d", a.Classes())
	}
	text := append(append([]byte{}, all...), 0)
	if got := scanAll(a, text); !sameMultiset(got, []int{0, 1}) {
		t.Fatalf("got %v", got)
	}
}

func TestScanAllocatesNothing(t *testing.T) {
	var b Builder
	b.Add([]byte("cmd.exe"))
	a := b.Build()
	text := []byte(`c:\windows\system32\cmd.exe /c whoami`)
	n := 0
	hit := func(int) { n++ }
	if allocs := testing.AllocsPerRun(100, func() { a.Scan(text, hit) }); allocs != 0 {
		t.Fatalf("Scan allocates %v", allocs)
	}
}

func BenchmarkScan(b *testing.B) {
	r := rand.New(rand.NewSource(2))
	var bld Builder
	for i := 0; i < 2000; i++ {
		p := make([]byte, 6+r.Intn(12))
		for j := range p {
			p[j] = byte('a' + r.Intn(26))
		}
		bld.Add(p)
	}
	a := bld.Build()
	text := []byte(`"c:\windows\system32\windowspowershell\v1.0\powershell.exe" -noprofile -executionpolicy bypass -file c:\programdata\scripts\inventory.ps1 -verbose`)
	hits := 0
	b.SetBytes(int64(len(text)))
	b.ReportMetric(float64(a.States()), "states")
	for b.Loop() {
		a.Scan(text, func(int) { hits++ })
	}
}
