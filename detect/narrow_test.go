package detect

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// narrowAtOnce makes e's matchers use a narrowed index from the first event of each route set,
// built on the matching goroutine.
func narrowAtOnce(e *Engine) { e.index.narrow.after, e.index.narrow.sync = 1, true }

// neverNarrow makes e's matchers use the full index only.
func neverNarrow(e *Engine) { e.index.narrow.after = math.MaxInt }

// narrowedLiterals returns how many literals the full index and the built narrowed ones search
// for, summed over fields, and how many sets were built.
func narrowedLiterals(e *Engine) (full, narrowest, built int) {
	count := func(fs []fieldIndex) (n int) {
		for _, f := range fs {
			if f.lits != nil {
				n += f.lits.Literals()
			}
		}
		return n
	}
	full, narrowest = count(e.index.fields), count(e.index.fields)
	for _, s := range e.index.narrow.sets {
		if f := s.fields.Load(); f != nil {
			built++
			narrowest = min(narrowest, count(*f))
		}
	}
	return full, narrowest, built
}

// A narrowed index keeps only its route set's literals, and finds what the full one finds for
// those routes: over the corpus and the regression events, matches are the same from the first
// event on, and the sets built search for far fewer literals.
func TestNarrowedIndexesChangeNothing(t *testing.T) {
	e := Compile(corpusRules(t), Options{})
	events := append(regressionEvents(t), generatedEvents(2000)...)
	events = append(events, literalSoup(e, events, 500)...)
	neverNarrow(e)
	var want [][]int
	m := e.NewMatcher()
	for _, ev := range events {
		got, _ := m.Match(ev)
		want = append(want, slices.Clone(got))
	}
	if _, _, built := narrowedLiterals(e); built != 0 {
		t.Fatalf("%d sets narrowed with narrowing off", built)
	}
	narrowAtOnce(e)
	m = e.NewMatcher()
	for i, ev := range events {
		got, _ := m.Match(ev)
		if !slices.Equal(got, want[i]) {
			t.Fatalf("event %.200s\nnarrowed %v\nfull %v", ev, names(e, got), names(e, want[i]))
		}
	}
	full, narrowest, built := narrowedLiterals(e)
	if built < 3 || narrowest*2 > full {
		t.Fatalf("%d route sets narrowed, the narrowest to %d literals of %d: narrowing did not happen", built, narrowest, full)
	}
	t.Logf("%d route sets narrowed; the narrowest searches %d literals of the full index's %d", built, narrowest, full)
}

// Narrowed indexes are built in the background by default; until one is ready, and for route
// sets beyond the limit, events use the full index.
func TestNarrowingInTheBackground(t *testing.T) {
	e := Compile(corpusRules(t), Options{})
	events := regressionEvents(t)
	neverNarrow(e)
	e.index.narrow.max = 2
	ref := e.NewMatcher()
	var want [][]int
	for _, ev := range events {
		got, _ := ref.Match(ev)
		want = append(want, slices.Clone(got))
	}
	e.index.narrow.after = 2
	m := e.NewMatcher()
	deadline := time.Now().Add(10 * time.Second)
	for pass := 0; pass < 1000; pass++ {
		for i, ev := range events {
			got, _ := m.Match(ev)
			if !slices.Equal(got, want[i]) {
				t.Fatalf("pass %d, event %.200s\nnarrowed %v\nfull %v", pass, ev, names(e, got), names(e, want[i]))
			}
		}
		if _, _, built := narrowedLiterals(e); built == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if _, _, built := narrowedLiterals(e); built != 2 {
		t.Fatalf("%d route sets narrowed, want the limit, 2", built)
	}
	if n := len(e.index.narrow.sets); n != 2 {
		t.Fatalf("%d route sets kept, want 2", n)
	}
	// Once built, the narrowed indexes serve their sets; the others keep the full index.
	for i, ev := range events {
		got, _ := m.Match(ev)
		if !slices.Equal(got, want[i]) {
			t.Fatalf("event %.200s\nnarrowed %v\nfull %v", ev, names(e, got), names(e, want[i]))
		}
	}
}

// Byte atoms (literals too short to search for) are narrowed too: those of the event's routes
// stay, those of other routes go.
func TestNarrowedIndexKeepsItsByteAtoms(t *testing.T) {
	rule := func(id, logsource, detection string) string {
		return strings.Replace(ruleWithLogsource(logsource, detection), "0001", id, 1) + "---\n"
	}
	src := rule("0001", "{category: process_creation, product: windows}", "  sel: {CommandLine|contains: '^^'}\n  condition: sel") +
		rule("0002", "{category: process_creation, product: windows}", "  sel: {CommandLine|contains|all: ['ab', 'cd']}\n  condition: sel") +
		rule("0003", "{category: file_event, product: windows}", "  sel: {Image|contains: '~~'}\n  condition: sel") +
		rule("0004", "{category: file_event, product: windows}", "  sel: {CommandLine|contains: 'ef'}\n  condition: sel")
	e := compileRouted(t, strings.TrimSuffix(src, "---\n"), Options{})
	narrowAtOnce(e)
	m := e.NewMatcher()
	const process = `{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Image":"c:\\~~\\x.exe","CommandLine":"p^^o ab cd ef"}`
	got, err := m.Match([]byte(process))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != 0 || got[1] != 1 {
		t.Fatalf("matched rules %v, want [0 1]", got)
	}
	_, _, built := narrowedLiterals(e)
	if built != 1 {
		t.Fatalf("%d route sets narrowed, want 1", built)
	}
	for _, s := range e.index.narrow.sets {
		for _, f := range *s.fields.Load() {
			for _, ba := range f.bytes {
				if ba.b != '^' && ba.b != 'a' && ba.b != 'b' && ba.b != 'c' && ba.b != 'd' {
					t.Errorf("narrowed index for process creations keeps byte atom %q", ba.b)
				}
			}
		}
	}
}

// A stream of more kinds of event than a Matcher remembers, interleaved, still gets each kind
// narrowed: the counts of a kind the Matcher forgets are kept with the kind.
func TestNarrowingManyKindsInterleaved(t *testing.T) {
	e := Compile(corpusRules(t), Options{})
	e.index.narrow.after, e.index.narrow.sync = 3*maxRecentSets, true
	m := e.NewMatcher()
	kinds := map[string]bool{}
	for round := 0; round < 3*maxRecentSets; round++ {
		for id := 1; id <= 29; id++ {
			ev := fmt.Sprintf(`{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":%d,"Image":"c:\\x\\y.exe"}`, id)
			if _, err := m.Match([]byte(ev)); err != nil {
				t.Fatal(err)
			}
			if round == 0 {
				kinds[string(narrowingKey(nil, m.routeOn))] = true
			}
		}
	}
	if len(kinds) <= maxRecentSets {
		t.Fatalf("only %d kinds of event: the test needs more than a Matcher remembers (%d)", len(kinds), maxRecentSets)
	}
	if _, _, built := narrowedLiterals(e); built != len(kinds) {
		t.Fatalf("%d of %d kinds narrowed", built, len(kinds))
	}
}
