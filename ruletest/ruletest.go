// Package ruletest runs rule test cases: events a rule must match and events it must not.
//
// A test file sits beside the rules it tests, named NAME.test.yml (or .test.yaml); rule loading
// skips such files. Each YAML document of it tests one rule:
//
//	rule: 5c8e6d1a-...            # id, name or title; optional when NAME.yml (or .yaml) beside
//	                              # the test file holds exactly one rule
//	tests:
//	  - name: whoami run by an administrator
//	    match: true               # the rule must match (false: must not)
//	    event:                    # the event, as a YAML mapping (or a string holding JSON)
//	      Channel: Microsoft-Windows-Sysmon/Operational
//	      EventID: 1
//	      Image: C:\Windows\System32\whoami.exe
//	  - name: recorded samples
//	    match: true
//	    events_file: samples/whoami.ndjson   # NDJSON, relative to the test file: each line a case
//	    topic: sysmon             # optional: the Kafka topic the events come from (routing)
//
// Cases run against an engine compiled with the same options as the agent's (routing, field
// mappings, placeholders, filters), so they test the rule as it will run.
package ruletest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/vigil-detect/vigil/detect"
	"github.com/vigil-detect/vigil/rules"
)

// Case is one event and the expected outcome for one rule.
type Case struct {
	File  string
	Line  int
	Rule  string // the reference as written ("" when taken from the sibling rule file)
	Name  string
	Match bool
	Topic string
	Event []byte // JSON

	sibling string // the rule file to take the rule from when Rule is ""
}

// Result is a case's outcome.
type Result struct {
	Case
	Pass    bool
	Matched bool
	RuleID  string
	Err     error               // the case could not run (unknown rule, bad event)
	Explain *detect.Explanation // why the rule matched or not
}

// Report is the outcome of a run.
type Report struct {
	Results  []Result
	Errors   []error // test files that could not be read
	Failures int     // failed or errored cases, plus file errors
}

// Load reads test files: the paths given (files or directories, searched for NAME.test.yml).
func Load(paths ...string) ([]Case, []error) {
	var cases []Case
	var errs []error
	for _, p := range paths {
		files, err := testFiles(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, f := range files {
			c, err := loadFile(f)
			cases = append(cases, c...)
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	return cases, errs
}

// IsTestFile reports whether p names a test file.
func IsTestFile(p string) bool { return rules.IsTestFile(p) }

func testFiles(root string) ([]string, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		if !IsTestFile(root) {
			return nil, nil
		}
		return []string{root}, nil
	}
	var out []string
	err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != root && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if !d.IsDir() && IsTestFile(p) {
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

// Sibling returns the rule file beside a test file (NAME.test.yml → NAME.yml or NAME.yaml), or
// "" when there is none.
func Sibling(testFile string) string {
	base := testFile
	for _, suf := range []string{".test.yml", ".test.yaml", ".TEST.YML", ".TEST.YAML"} {
		base = strings.TrimSuffix(base, suf)
	}
	for _, ext := range []string{".yml", ".yaml"} {
		if _, err := os.Stat(base + ext); err == nil {
			return base + ext
		}
	}
	return ""
}

func loadFile(path string) ([]Case, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []Case
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc struct {
			Rule  string      `yaml:"rule"`
			Tests []yaml.Node `yaml:"tests"`
		}
		var node yaml.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, rules.Errorf(path, 0, "%v", strings.TrimPrefix(err.Error(), "yaml: "))
		}
		if err := checkKeys(&node, "rule", "tests"); err != nil {
			return out, rules.Errorf(path, node.Line, "%v", err)
		}
		// Decoded from the node itself, so the test cases keep their lines.
		if err := node.Decode(&doc); err != nil {
			return out, rules.Errorf(path, node.Line, "%v", strings.TrimPrefix(err.Error(), "yaml: "))
		}
		if len(doc.Tests) == 0 {
			return out, rules.Errorf(path, node.Line, "no tests")
		}
		sib := ""
		if doc.Rule == "" {
			if sib = Sibling(path); sib == "" {
				return out, rules.Errorf(path, node.Line, "no rule: name one (rule: id, name or title) or put the test file beside its rule file")
			}
		}
		for i := range doc.Tests {
			cs, err := parseCase(path, &doc.Tests[i], doc.Rule, sib)
			if err != nil {
				return out, err
			}
			out = append(out, cs...)
		}
	}
}

// checkKeys rejects keys of a document other than the allowed ones.
func checkKeys(n *yaml.Node, allowed ...string) error {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return errors.New("a test document is a mapping with rule and tests")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		ok := false
		for _, a := range allowed {
			ok = ok || k.Value == a
		}
		if !ok {
			return fmt.Errorf("line %d: field %s not found (a test document holds %s)", k.Line, k.Value, strings.Join(allowed, " and "))
		}
	}
	return nil
}

func parseCase(path string, n *yaml.Node, rule, sib string) ([]Case, error) {
	var tc struct {
		Name       string    `yaml:"name"`
		Match      *bool     `yaml:"match"`
		Topic      string    `yaml:"topic"`
		Event      yaml.Node `yaml:"event"`
		EventsFile string    `yaml:"events_file"`
	}
	if err := rules.DecodeNodeStrict(n, &tc); err != nil {
		return nil, rules.Errorf(path, n.Line, "test: %v", err)
	}
	if tc.Match == nil {
		return nil, rules.Errorf(path, n.Line, "test %q: say match: true or match: false", tc.Name)
	}
	base := Case{File: path, Line: n.Line, Rule: rule, Name: tc.Name, Match: *tc.Match, Topic: tc.Topic, sibling: sib}
	switch {
	case tc.Event.Kind != 0 && tc.EventsFile != "":
		return nil, rules.Errorf(path, n.Line, "test %q: give event or events_file, not both", tc.Name)
	case tc.Event.Kind != 0:
		ev, err := eventJSON(&tc.Event)
		if err != nil {
			return nil, rules.Errorf(path, n.Line, "test %q: event: %v", tc.Name, err)
		}
		base.Event = ev
		return []Case{base}, nil
	case tc.EventsFile != "":
		return eventsFile(path, base, tc.EventsFile)
	}
	return nil, rules.Errorf(path, n.Line, "test %q: give an event or an events_file", tc.Name)
}

func eventsFile(path string, base Case, name string) ([]Case, error) {
	file := name
	if !filepath.IsAbs(file) {
		file = filepath.Join(filepath.Dir(path), name)
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, rules.Errorf(path, base.Line, "test %q: %v", base.Name, err)
	}
	defer f.Close()
	var out []Case
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	line := 0
	for sc.Scan() {
		line++
		ev := bytes.TrimSpace(sc.Bytes())
		if len(ev) == 0 {
			continue
		}
		if !json.Valid(ev) {
			return nil, rules.Errorf(file, line, "not a JSON event")
		}
		c := base
		c.Name = fmt.Sprintf("%s (%s:%d)", base.Name, name, line)
		c.Event = append([]byte(nil), ev...)
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		return nil, rules.Errorf(file, line, "%v", err)
	}
	if len(out) == 0 {
		return nil, rules.Errorf(path, base.Line, "test %q: %s holds no events", base.Name, name)
	}
	return out, nil
}

// eventJSON turns a YAML event into JSON, keeping numbers exactly as written (a YAML string
// value is taken as the JSON text of the event).
func eventJSON(n *yaml.Node) ([]byte, error) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		b := []byte(n.Value)
		if !json.Valid(b) {
			return nil, errors.New("a string event must hold JSON")
		}
		return b, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, errors.New("an event is a mapping (or a string holding JSON)")
	}
	var buf bytes.Buffer
	if err := writeJSON(&buf, n); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeJSON(b *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.AliasNode:
		return writeJSON(b, n.Alias)
	case yaml.MappingNode:
		b.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			k, _ := json.Marshal(n.Content[i].Value)
			b.Write(k)
			b.WriteByte(':')
			if err := writeJSON(b, n.Content[i+1]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeJSON(b, c); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			b.WriteString("null")
		case "!!bool":
			if strings.EqualFold(n.Value, "true") {
				b.WriteString("true")
			} else {
				b.WriteString("false")
			}
		case "!!int":
			var v big.Int
			if _, ok := v.SetString(strings.TrimPrefix(n.Value, "+"), 0); !ok {
				return fmt.Errorf("line %d: bad integer %q", n.Line, n.Value)
			}
			b.WriteString(v.String())
		case "!!float":
			f, err := strconv.ParseFloat(n.Value, 64)
			switch {
			case json.Valid([]byte(n.Value)):
				b.WriteString(n.Value)
			case err == nil && !math.IsInf(f, 0) && !math.IsNaN(f):
				b.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
			default:
				s, _ := json.Marshal(n.Value) // .inf, .nan and the like stay text
				b.Write(s)
			}
		default:
			s, _ := json.Marshal(n.Value)
			b.Write(s)
		}
	default:
		return fmt.Errorf("line %d: unsupported YAML node", n.Line)
	}
	return nil
}

// Run evaluates every case against eng.
func Run(eng *detect.Engine, cases []Case, fileErrs []error) *Report {
	rep := &Report{Errors: fileErrs, Failures: len(fileErrs)}
	m := eng.NewMatcher()
	for _, c := range cases {
		res := Result{Case: c}
		ri, err := findRule(eng, c)
		if err != nil {
			res.Err = err
		} else {
			res.RuleID = eng.Rules[ri].ID
			got, err := m.MatchTopic(c.Topic, c.Event)
			if err != nil {
				res.Err = fmt.Errorf("event: %v", err)
			} else {
				for _, g := range got {
					res.Matched = res.Matched || g == ri
				}
				res.Pass = res.Matched == c.Match
				res.Explain = eng.Explain(ri, &m.Event, c.Topic)
			}
		}
		if !res.Pass {
			rep.Failures++
		}
		rep.Results = append(rep.Results, res)
	}
	return rep
}

// findRule resolves a case's rule: by id, name or title, or the only rule of its sibling file.
func findRule(eng *detect.Engine, c Case) (int, error) {
	var found []int
	for i, r := range eng.Rules {
		switch {
		case c.Rule == "" && sameFile(r.Path, c.sibling):
			found = append(found, i)
		case c.Rule != "" && (r.ID == c.Rule || r.Name == c.Rule):
			return i, nil
		case c.Rule != "" && r.Title == c.Rule:
			found = append(found, i)
		}
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(found) > 1 && c.Rule == "":
		return 0, fmt.Errorf("%s holds %d rules: name one with rule:", c.sibling, len(found))
	case len(found) > 1:
		return 0, fmt.Errorf("%d rules are titled %q: name it by id", len(found), c.Rule)
	case c.Rule == "":
		return 0, fmt.Errorf("no compiled rule from %s (did it load? give its directory to vigil test)", c.sibling)
	}
	return 0, fmt.Errorf("no rule %q (by id, name or title) among the rules loaded", c.Rule)
}

func sameFile(a, b string) bool {
	if a == b {
		return true
	}
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}

// Write prints the report: one line per failing case (every case when verbose) with the
// reasons, then "N tests, M failures".
func (r *Report) Write(w io.Writer, verbose bool) {
	for _, err := range r.Errors {
		fmt.Fprintf(w, "ERROR %v\n", err)
	}
	for _, res := range r.Results {
		where := fmt.Sprintf("%s:%d", res.File, res.Line)
		label := res.Name
		if label == "" {
			label = "(unnamed)"
		}
		switch {
		case res.Err != nil:
			fmt.Fprintf(w, "ERROR %s %s: %v\n", where, label, res.Err)
			continue
		case res.Pass && !verbose:
			continue
		case res.Pass:
			fmt.Fprintf(w, "PASS  %s %s\n", where, label)
		default:
			want, got := "match", "it did not"
			if !res.Match {
				want, got = "no match", "it matched"
			}
			fmt.Fprintf(w, "FAIL  %s %s: expected %s, %s\n", where, label, want, got)
		}
		if res.Explain != nil && (!res.Pass || verbose) {
			writeExplanation(w, res.Explain)
		}
	}
	fmt.Fprintf(w, "%d tests, %d failures\n", len(r.Results), r.Failures)
}

func writeExplanation(w io.Writer, x *detect.Explanation) {
	if x.Note != "" {
		fmt.Fprintf(w, "      %s\n", x.Note)
		return
	}
	if x.Route != "" {
		fmt.Fprintf(w, "      routed by %s; condition: %s\n", x.Route, strings.Join(x.Condition, " | "))
	} else {
		fmt.Fprintf(w, "      condition: %s\n", strings.Join(x.Condition, " | "))
	}
	for _, s := range x.Searches {
		fmt.Fprintf(w, "      %s: %v\n", s.Name, s.Matched)
		for _, it := range s.Items {
			item := it.Item
			if item == "" {
				item = "(keyword)"
			}
			var parts []string
			for _, m := range append(it.Matches, it.Values...) {
				f := m.Field
				if f == "" {
					f = "(any)"
				}
				parts = append(parts, fmt.Sprintf("%s=%q ~ %s", f, m.Value, m.Rule))
			}
			fmt.Fprintf(w, "        %-5v %s %s\n", it.Matched, item, strings.Join(parts, "; "))
		}
	}
	for _, f := range x.Filters {
		fmt.Fprintf(w, "      filter %s excluded: %v\n", f.Name, f.Excluded)
	}
}
