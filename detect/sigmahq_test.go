package detect

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/vigil-detect/vigil/rules"
)

// shared is the directory of the pinned SigmaHQ corpus and regression set; users' clones do not
// have it, so the tests that need it skip.
func shared(t testing.TB, sub string) string {
	t.Helper()
	dir := filepath.Join("..", "..", "shared", sub)
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("%s not found: the SigmaHQ corpus lives beside the repository in ../shared", dir)
	}
	return dir
}

type regressionCase struct {
	RuleFile   string `json:"rule_file"`
	EventsFile string `json:"events_file"`
	MinMatches int    `json:"min_matches"`
	Title      string `json:"title"`
}

// stripEval removes the regression set's reserved "_eval" key from an event line.
func stripEval(line []byte) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(line, &m) != nil {
		return line
	}
	delete(m, "_eval")
	out, _ := json.Marshal(m)
	return out
}

// TestSigmaHQRegression runs each of the 96 SigmaHQ regression rules on its real Sysmon events,
// with the built-in logsource routing, and applies SigmaHQ's pass rule (at least min_matches).
func TestSigmaHQRegression(t *testing.T) {
	dir := shared(t, "sigmahq-regression")
	data, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases map[string]regressionCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 0, len(cases))
	for id := range cases {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	pass := 0
	for _, id := range ids {
		c := cases[id]
		set := rules.Load(filepath.Join(dir, c.RuleFile))
		if len(set.Errors) > 0 {
			t.Errorf("%s: %v", id, set.Errors)
			continue
		}
		e := Compile(set.Rules, Options{})
		if len(e.Errors) > 0 {
			t.Errorf("%s: %v", id, e.Errors)
			continue
		}
		f, err := os.Open(filepath.Join(dir, c.EventsFile))
		if err != nil {
			t.Fatal(err)
		}
		m := e.NewMatcher()
		n := 0
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<22)
		for sc.Scan() {
			line := bytes.TrimSpace(sc.Bytes())
			if len(line) == 0 {
				continue
			}
			got, err := m.Match(stripEval(line))
			if err != nil {
				t.Errorf("%s: event: %v", id, err)
				continue
			}
			for _, r := range got {
				if e.Rules[r].ID == id {
					n++
				}
			}
		}
		f.Close()
		if n >= c.MinMatches {
			pass++
		} else {
			t.Errorf("%s (%s): %d matches, want at least %d", id, c.RuleFile, n, c.MinMatches)
		}
	}
	t.Logf("%d/%d SigmaHQ regression rules pass", pass, len(ids))
}
