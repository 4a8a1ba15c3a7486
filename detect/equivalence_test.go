package detect

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-detect/vigil/bench/gen"
	"github.com/vigil-detect/vigil/rules"
)

// corpusRules loads the SigmaHQ detection corpus (skipping without ../shared).
func corpusRules(t testing.TB) []*rules.Rule {
	t.Helper()
	dir := shared(t, "sigmahq")
	set := rules.Load(filepath.Join(dir, "rules"), filepath.Join(dir, "rules-threat-hunting"), filepath.Join(dir, "rules-emerging-threats"))
	if len(set.Errors) > 0 {
		t.Fatalf("corpus: %v", set.Errors[0])
	}
	return set.Rules
}

// regressionEvents returns the events of the SigmaHQ regression set, "_eval" stripped.
func regressionEvents(t testing.TB) [][]byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(shared(t, "sigmahq-regression"), "events", "*.ndjson"))
	var out [][]byte
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<22)
		for sc.Scan() {
			if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
				out = append(out, stripEval(append([]byte(nil), l...)))
			}
		}
		fh.Close()
	}
	return out
}

// generatedEvents returns n events of the generated Windows stream, attack story included.
func generatedEvents(n int) [][]byte {
	g := gen.New(gen.Options{Seed: 11, Rate: 500, AttackAt: time.Second})
	out := make([][]byte, n)
	for i := range out {
		out[i] = g.Next(nil)
	}
	return out
}

// TestOptimisationsChangeNothing compiles the whole SigmaHQ corpus twice, with every optimisation
// (candidate index, shared routes, grouped values, regex shortcuts) and without, and requires
// identical matches on the real regression events and on generated traffic.
func TestOptimisationsChangeNothing(t *testing.T) {
	rs := corpusRules(t)
	fast := Compile(rs, Options{})
	slow := Compile(rs, Options{Reference: true})
	if len(fast.Rules) != len(slow.Rules) {
		t.Fatalf("rule counts differ: %d vs %d", len(fast.Rules), len(slow.Rules))
	}
	events := append(regressionEvents(t), generatedEvents(3000)...)
	events = append(events, literalSoup(fast, events, 1500)...)
	mf, ms := fast.NewMatcher(), slow.NewMatcher()
	matched := 0
	for _, ev := range events {
		a, errA := mf.Match(ev)
		a = slices.Clone(a)
		b, errB := ms.Match(ev)
		if (errA == nil) != (errB == nil) {
			t.Fatalf("decode differs: %v vs %v", errA, errB)
		}
		if !slices.Equal(a, b) {
			t.Fatalf("event %.200s\noptimised matches %v\nreference matches %v", ev, names(fast, a), names(slow, b))
		}
		matched += len(a)
	}
	if matched == 0 {
		t.Fatal("no matches at all: the comparison proves nothing")
	}
	t.Logf("%d events, %d matches, identical with and without optimisations", len(events), matched)
}

func names(e *Engine, idx []int) []string {
	var out []string
	for _, i := range idx {
		out = append(out, filepath.Base(e.Rules[i].Path))
	}
	return out
}

// literalSoup rewrites events so that their indexed fields hold random mixes of the literals rules
// look for: this makes many rules candidates and exercises the paths where the index and the
// full evaluation could disagree.
func literalSoup(e *Engine, base [][]byte, n int) [][]byte {
	r := rand.New(rand.NewSource(5))
	byField := map[string][]string{}
	for _, fi := range e.index.fields {
		if fi.field < 0 {
			continue
		}
		name := e.Schema.Name(fi.field)
		if fi.lits != nil {
			for id := 0; id < fi.lits.Literals(); id++ {
				byField[name] = append(byField[name], fi.lits.Literal(id))
			}
		}
		for _, ba := range fi.bytes {
			if ba.b < 0x80 { // a lone byte of a UTF-8 sequence would not survive JSON encoding
				byField[name] = append(byField[name], string(ba.b)+string(ba.b))
			}
		}
	}
	// Integer atoms (EventID: 4624), each written the ways numEqual accepts and some it does not.
	numbers := map[string][]int64{}
	for _, fc := range e.index.checks {
		for n := range fc.numbers {
			numbers[e.Schema.Name(fc.field)] = append(numbers[e.Schema.Name(fc.field)], n)
		}
	}
	numFields := slices.Sorted(maps.Keys(numbers))
	for _, f := range numFields {
		slices.Sort(numbers[f])
	}
	fields := make([]string, 0, len(byField))
	for f := range byField {
		fields = append(fields, f)
	}
	slices.Sort(fields)
	var out [][]byte
	for i := 0; i < n; i++ {
		var m map[string]any
		if json.Unmarshal(base[r.Intn(len(base))], &m) != nil {
			continue
		}
		for k := 0; k < 1+r.Intn(4); k++ {
			f := fields[r.Intn(len(fields))]
			lits := byField[f]
			v := ""
			for j := 0; j < 1+r.Intn(5); j++ {
				l := lits[r.Intn(len(lits))]
				if r.Intn(3) == 0 {
					l = strings.ToUpper(l)
				}
				v += []string{"", " ", "\\", "/", "x"}[r.Intn(5)] + l
			}
			m[f] = v
		}
		if len(numFields) > 0 && r.Intn(2) == 0 {
			f := numFields[r.Intn(len(numFields))]
			n := numbers[f][r.Intn(len(numbers[f]))] + int64(r.Intn(3)-1)
			m[f] = []any{n, strconv.FormatInt(n, 10), float64(n), fmt.Sprintf("0x%x", n), fmt.Sprintf("0%d", n), json.Number(fmt.Sprintf("%de0", n))}[r.Intn(6)]
		}
		b, _ := json.Marshal(m)
		out = append(out, b)
	}
	return out
}

// Integer atoms (EventID: 28) let the index skip rules for other ids; every spelling numeric
// equality accepts must still make the rule a candidate.
func TestIntegerAtomsKeepEveryNumericSpelling(t *testing.T) {
	src := ruleWithLogsource("{product: test}", "  sel: {EventID: 28}\n  condition: sel") + "---\n" +
		strings.Replace(ruleWithLogsource("{product: test}", "  sel: {EventID: 0x1c}\n  condition: sel"), "0001", "0002", 1)
	for _, reference := range []bool{false, true} {
		e := compileRouted(t, src, Options{NoRouting: true, Reference: reference})
		m := e.NewMatcher()
		for _, c := range []struct {
			event string
			want  int
		}{
			{`{"EventID":28}`, 2}, {`{"EventID":"28"}`, 2}, {`{"EventID":28.0}`, 2}, {`{"EventID":2.8e1}`, 2},
			{`{"EventID":[4,28]}`, 2}, {`{"EventID":"0x1c"}`, 1}, {`{"EventID":"0x1C"}`, 1},
			{`{"EventID":29}`, 0}, {`{"EventID":"028"}`, 0}, {`{"EventID":-28}`, 0}, {`{"Other":28}`, 0},
		} {
			got, err := m.Match([]byte(c.event))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != c.want {
				t.Errorf("reference %v, %s: %d rules matched, want %d", reference, c.event, len(got), c.want)
			}
		}
	}
}

// The value cache replays what the index found in a recurring value: over a stream whose values
// recur (and whose distinct values overflow the cache's slots and arena), with every event seen
// twice in a row besides, matches are the same with it and without it. Narrowed indexes number
// their literals differently, so each has caches of its own: the matchers narrow at once.
func TestValueCacheChangesNothing(t *testing.T) {
	e := Compile(corpusRules(t), Options{})
	narrowAtOnce(e)
	events := append(generatedEvents(6000), regressionEvents(t)...)
	events = append(events, literalSoup(e, events, 1000)...)
	cached, plain := e.NewMatcher(), e.NewMatcher()
	plain.CacheValues(false)
	for pass := 0; pass < 2; pass++ {
		for _, ev := range events {
			b, _ := plain.Match(ev)
			for range 2 { // the second time, every cached value of the event is found
				a, _ := cached.Match(ev)
				if !slices.Equal(a, b) {
					t.Fatalf("event %.200s\nwith the cache %v\nwithout %v", ev, names(e, a), names(e, b))
				}
			}
		}
	}
	lookups, hits := cached.ValueCacheStats()
	if hits == 0 || hits == lookups {
		t.Fatalf("the cache was not exercised: %d hits of %d lookups", hits, lookups)
	}
	if l, _ := plain.ValueCacheStats(); l != 0 {
		t.Fatalf("CacheValues(false) still looked up %d values", l)
	}
	t.Logf("%d events twice, %d of %d lookups found", len(events), hits, lookups)
}

// Byte atoms (literals too short to search for) are replayed from the cache too.
func TestValueCacheKeepsByteAtoms(t *testing.T) {
	src := ruleWithLogsource("{product: test}", "  sel: {CommandLine|contains: '^^'}\n  condition: sel") + "---\n" +
		strings.Replace(ruleWithLogsource("{product: test}", "  sel: {CommandLine|contains|all: ['ab', 'cd']}\n  condition: sel"), "0001", "0002", 1)
	e := compileRouted(t, src, Options{NoRouting: true})
	m := e.NewMatcher()
	for i := range 3 {
		got, err := m.Match([]byte(`{"CommandLine":"cmd /c p^^o^^w^^e^^r^^s^^h^^e^^l^^l ab cd"}`))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 {
			t.Fatalf("pass %d: %d rules matched, want 2", i, len(got))
		}
	}
	if _, hits := m.ValueCacheStats(); hits != 2 {
		t.Fatalf("%d cache hits, want 2", hits)
	}
}
