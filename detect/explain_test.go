package detect

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vigil-detect/vigil/rules"
)

func explainOf(t *testing.T, e *Engine, topic, ev string) *Explanation {
	t.Helper()
	m := e.NewMatcher()
	if _, err := m.MatchTopic(topic, []byte(ev)); err != nil {
		t.Fatal(err)
	}
	return e.Explain(0, &m.Event, topic)
}

func TestExplain(t *testing.T) {
	set := &rules.Set{}
	set.Add("r.yml", []byte(ruleWithLogsource("{category: process_creation, product: windows}", `  selection:
    Image|endswith: ['\powershell.exe', '\pwsh.exe']
    CommandLine|windash|contains: ' -enc '
  filter_user:
    User|neq: SYSTEM
  filter_parent:
    ParentImage: null
  condition: selection and filter_user and not filter_parent`)))
	set.Add("f.yml", []byte("title: trusted\nid: f1\nlogsource: {product: windows}\nfilter:\n  rules: any\n  s: {CommandLine|contains: trusted}\n  condition: s\n"))
	e := Compile(set.Rules, Options{Filters: set.Filters})
	if len(e.Errors) > 0 {
		t.Fatal(e.Errors)
	}
	ev := `{"Channel":"Security","EventID":4688,"NewProcessName":"C:\\Windows\\pwsh.exe","CommandLine":"pwsh /enc AAAA","User":"bob","ParentProcessName":"C:\\x.exe"}`
	x := explainOf(t, e, "", ev)
	if !x.Matched || x.Route != "security_process_creation" || x.Condition[0] != "selection and filter_user and not filter_parent" {
		t.Fatalf("explanation %+v", x)
	}
	want := []struct {
		search  string
		matched bool
	}{{"selection", true}, {"filter_user", true}, {"filter_parent", false}, {"filter f1: s", false}}
	if len(x.Searches) != len(want) {
		t.Fatalf("searches %+v", x.Searches)
	}
	for i, w := range want {
		if x.Searches[i].Name != w.search || x.Searches[i].Matched != w.matched {
			t.Errorf("search %d: %+v, want %v", i, x.Searches[i], w)
		}
	}
	sel := x.Searches[0]
	if len(sel.Items) != 2 || sel.Items[0].Item != "Image|endswith" || len(sel.Items[0].Matches) != 1 {
		t.Fatalf("selection items %+v", sel.Items)
	}
	if m := sel.Items[0].Matches[0]; m.Field != "NewProcessName" || m.Value != `C:\Windows\pwsh.exe` || m.Rule != `*\pwsh.exe` {
		t.Errorf("image match %+v", m)
	}
	if m := sel.Items[1].Matches[0]; m.Field != "CommandLine" || m.Rule != `* /enc *` {
		t.Errorf("windash variant %+v", m)
	}
	if m := x.Searches[1].Items[0].Values; len(m) != 1 || m[0].Value != "bob" || m[0].Rule != "none of: SYSTEM" {
		t.Errorf("neq item %+v", m)
	}
	if len(x.Filters) != 1 || x.Filters[0].Name != "f1" || x.Filters[0].Excluded {
		t.Errorf("filters %+v", x.Filters)
	}
	if _, err := json.Marshal(x); err != nil {
		t.Fatal(err)
	}

	// Why not: the filter rule excluded it.
	x = explainOf(t, e, "", strings.Replace(ev, "AAAA", "trusted", 1))
	if x.Matched || len(x.Filters) != 1 || !x.Filters[0].Excluded {
		t.Errorf("filtered: %+v", x)
	}
	// Why not: the selection failed, item by item.
	x = explainOf(t, e, "", strings.Replace(ev, "/enc", "/nop", 1))
	if x.Matched || x.Searches[0].Matched || !x.Searches[0].Items[0].Matched || x.Searches[0].Items[1].Matched {
		t.Errorf("selection: %+v", x.Searches[0])
	}
	// Why not: another logsource.
	x = explainOf(t, e, "", `{"Channel":"System","EventID":7045}`)
	if x.Matched || !strings.Contains(x.Note, "not of the rule's logsource") {
		t.Errorf("logsource: %+v", x)
	}
}

func TestExplainKeywords(t *testing.T) {
	e := compileOne(t, ruleYAML("  kw: [mimikatz]\n  condition: kw"), Options{})
	x := explainOf(t, e, "", `{"a":{"b":"run mimikatz"}}`)
	if !x.Matched || len(x.Searches) != 1 || x.Searches[0].Items[0].Matches[0].Value != "run mimikatz" {
		t.Fatalf("%+v", x)
	}
}
