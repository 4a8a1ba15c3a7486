package detect

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"strconv"
	"testing"

	"github.com/vigil-detect/vigil/event"
)

// TestStringSetMatchesItsMembers checks the grouped matcher against the OR of its members on
// random values and texts, for every shape, folded and cased.
func TestStringSetMatchesItsMembers(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	alpha := []string{"a", "B", "\\", "-", "é", "Д", ".", "x"}
	word := func(max int) string {
		n := r.Intn(max + 1)
		s := ""
		for i := 0; i < n; i++ {
			s += alpha[r.Intn(len(alpha))]
		}
		return s
	}
	schema := event.NewSchema()
	f := schema.Add("F")
	var ev event.Event
	skips := map[int]bool{}
	for round := 0; round < 1500; round++ {
		cased := r.Intn(2) == 0
		wrapPre, wrapSuf := r.Intn(2) == 0, r.Intn(2) == 0
		// Long members sharing an ending or a start (".exe" names) make the set key them away
		// from the end they are anchored at.
		longest, shared := []int{3, 10}[r.Intn(2)], []string{"", ".exe", "c:\\"}[r.Intn(3)]
		var members []*strMatcher
		var lits []string
		for i := 0; i < minStringSet+r.Intn(40); i++ {
			lit := word(longest)
			if shared != "" {
				lit = map[bool]string{true: shared + lit, false: lit + shared}[r.Intn(2) == 0]
			}
			members = append(members, compilePattern(literalPattern(lit).wrap(wrapPre, wrapSuf), cased))
			lits = append(lits, lit)
		}
		op := members[0].op
		same := true
		for _, m := range members {
			same = same && m.op == op
		}
		if !same || op == opAnyValue || op == opGlob {
			continue
		}
		set := newStringSet(op, cased, members)
		if op != opContains {
			skips[set.keySkip] = true
		}
		for k := 0; k < 40; k++ {
			text := word(14)
			if k%2 == 0 { // a member within some text: the matches are what is at stake
				text = map[bool]string{true: word(3), false: ""}[r.Intn(2) == 0] + lits[r.Intn(len(lits))] + map[bool]string{true: word(3), false: ""}[r.Intn(2) == 0]
			}
			quoted, _ := json.Marshal(text)
			raw := `{"F":` + string(quoted) + `}`
			if err := schema.Decode([]byte(raw), &ev, event.Limits{}); err != nil {
				continue
			}
			v := ev.First(f)
			want := false
			for _, m := range members {
				want = want || m.match(&ev, &v)
			}
			if got := set.match(&ev, &v); got != want {
				t.Fatalf("op %d cased %v members %v text %s: set %v, members %v", op, cased, set, raw, got, want)
			}
		}
	}
	if !skips[0] || !skips[4] {
		t.Errorf("the sets were keyed at %v bytes from their anchored end; want 0 and 4 among them", skips)
	}
}

// TestSubstringSetsScanned: substring sets large enough for the literal scanner, with values
// of every length (the shorter ones keep the first-byte search), against the OR of their
// members, on texts that hold some of them.
func TestSubstringSetsScanned(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	alpha := []string{"a", "b", "\\", "-", "é", " "}
	word := func(min, max int) string {
		s := ""
		for n := min + r.Intn(max-min+1); n > 0; n-- {
			s += alpha[r.Intn(len(alpha))]
		}
		return s
	}
	schema := event.NewSchema()
	f := schema.Add("F")
	var ev event.Event
	hits, misses := 0, 0
	for round := 0; round < 300; round++ {
		var members []*strMatcher
		var words []string
		for range minScannedSet + r.Intn(12) {
			w := word(1, 6)
			words = append(words, w)
			members = append(members, compilePattern(literalPattern(w).wrap(true, true), false))
		}
		set := newStringSet(opContains, false, members)
		if set.long == nil {
			continue
		}
		for range 20 {
			text := word(0, 10)
			if r.Intn(2) == 0 {
				text += words[r.Intn(len(words))] + word(0, 5)
			}
			if err := schema.Decode([]byte(`{"F":`+strconv.Quote(text)+`}`), &ev, event.Limits{}); err != nil {
				t.Fatal(err)
			}
			v := ev.First(f)
			want := false
			for _, m := range members {
				want = want || m.match(&ev, &v)
			}
			if got := set.match(&ev, &v); got != want {
				t.Fatalf("members %q text %q: set %v, members %v", words, text, got, want)
			}
			if want {
				hits++
			} else {
				misses++
			}
		}
	}
	if hits < 100 || misses < 100 {
		t.Fatalf("%d matching and %d other texts: too few of one kind to prove anything", hits, misses)
	}
}

// BenchmarkStringSetContains: a selection of 60 command-line fragments (`|contains`) against a
// 20 kB PowerShell script block that holds none of them, the common case of a long value.
func BenchmarkStringSetContains(b *testing.B) {
	var members []*strMatcher
	for i := range 60 {
		members = append(members, compilePattern(literalPattern(fmt.Sprintf("set-item%d -path", i)).wrap(true, true), false))
	}
	set := newStringSet(opContains, false, members)
	var text []byte
	for len(text) < 20000 {
		text = append(text, "$s = get-item -path $env:temp; set-content -value $data -path $s; "...)
	}
	v := event.Value{Kind: event.String, Raw: text, Lower: text}
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if set.match(nil, &v) {
			b.Fatal("matched")
		}
	}
}
