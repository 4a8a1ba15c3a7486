package detect

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vigil-detect/vigil/internal/race"
	"github.com/vigil-detect/vigil/rules"
)

// Every value matcher evaluates without allocating: the hot path must stay allocation-free
// whatever the rule uses. One rule per matcher, without the index, so that all are evaluated.
func TestValueMatchersAllocateNothing(t *testing.T) {
	items := []string{
		"{EventID: 4688, Big: 18446744073709551615, F: 1.5}",
		"{N|gt: 10, M|lte: 9007199254740993}",
		"{CommandLine|windash|contains: ['-a -b -c -d -e', ' -enc ']}",
		"{CommandLine|base64offset|contains: 'IEX'}",
		"{IP|cidr: ['10.0.0.0/8', 'fe80::/10']}",
		"{A|fieldref|contains: B}",
		"{User|neq: [SYSTEM, x]}",
		"{CommandLine|re|i: 'p.w+ershell'}",
		"{Missing: null}",
		"{IP|exists: true}",
		"{T|hour|gte: 3}",
		"['mimikatz']",
		"{CommandLine|contains|all: ['a', 'b']}",
		"{CommandLine: 'po?er*'}",
		"{CommandLine|contains: [aa, bb, cc, dd, mimi]}",
		"{Image|endswith: [x.exe, y.exe, z.exe, zz.exe]}",
		"{User: [a, b, c, d, bob]}",
		"{CommandLine|re: '\\s[a-f0-9]{16}'}",
	}
	var docs []string
	for i, it := range items {
		docs = append(docs, fmt.Sprintf("title: r%d\nid: r%d\nlogsource: {product: test}\ndetection:\n  sel: %s\n  condition: sel\n", i, i, it))
	}
	set := &rules.Set{}
	set.Add("alloc.yml", []byte(strings.Join(docs, "---\n")))
	for _, reference := range []bool{true, false} {
		e := Compile(set.Rules, Options{NoRouting: true, Reference: reference})
		if len(e.Errors) > 0 || len(e.Rules) != len(items) {
			t.Fatal(e.Errors)
		}
		checkNoAllocations(t, e.NewMatcher())
	}
}

func checkNoAllocations(t *testing.T, m *Matcher) {
	if race.Enabled {
		t.Skip("the race detector's instrumentation allocates")
	}
	t.Helper()
	for _, raw := range []string{
		`{"EventID":1,"Big":18446744073709551614,"F":1.25,"N":"9","M":9007199254740994,"CommandLine":"powershell /a -b –c —d ―e","IP":"192.168.1.1","A":"abc","B":"x","User":"SYSTEM","T":"2024-01-01T01:00:00Z"}`,
		`{"EventID":"4688","CommandLine":"SUVYIChOZXctT2JqZWN0","IP":"fe80::1","A":"xabcx","B":"abc","User":"bob","T":1700000000,"Msg":"run mimikatz"}`,
	} {
		b := []byte(raw)
		if _, err := m.Match(b); err != nil {
			t.Fatal(err)
		}
		if a := testing.AllocsPerRun(100, func() { _, _ = m.Match(b) }); a != 0 {
			t.Errorf("%s: %v allocations per event", raw, a)
		}
	}
}
