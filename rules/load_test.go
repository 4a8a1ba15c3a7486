package rules

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestLoadOrder: files parsed in parallel land in the set in path order, then file-name order,
// with their errors, exactly as reading them one by one does.
func TestLoadOrder(t *testing.T) {
	dirs := []string{t.TempDir(), t.TempDir()}
	for d, dir := range dirs {
		for i := range 40 {
			name := filepath.Join(dir, fmt.Sprintf("r%02d.yml", i))
			var data string
			switch i % 5 {
			case 0:
				data = "title: [broken\n" // a YAML syntax error
			case 1:
				data = fmt.Sprintf("title: two %d-%d a\nlogsource: {product: windows}\ndetection: {sel: {a: 1}, condition: sel}\n---\n"+
					"title: two %d-%d b\nlogsource: {product: windows}\ndetection: {sel: {a: 2}, condition: sel}\n", d, i, d, i)
			case 2:
				data = fmt.Sprintf("title: corr %d-%d\ncorrelation: {type: event_count, rules: [x], group-by: [a], timespan: 5m, condition: {gte: 2}}\n", d, i)
			default:
				data = fmt.Sprintf("title: one %d-%d\nlogsource: {product: windows}\ndetection: {sel: {a: %d}, condition: sel}\n", d, i, i)
			}
			if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	missing := filepath.Join(dirs[0], "absent")
	var seq Set
	for d, dir := range dirs {
		if d == 1 {
			seq.Errors = append(seq.Errors, &Error{Path: missing})
		}
		files, err := ruleFiles(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			seq.Add(f, data)
		}
	}

	got := Load(dirs[0], missing, dirs[1])
	if got.Files != seq.Files || len(got.Rules) != len(seq.Rules) || len(got.Correlations) != len(seq.Correlations) || len(got.Errors) != len(seq.Errors) {
		t.Fatalf("loaded %d files, %d rules, %d correlations, %d errors; read one by one: %d, %d, %d, %d",
			got.Files, len(got.Rules), len(got.Correlations), len(got.Errors), seq.Files, len(seq.Rules), len(seq.Correlations), len(seq.Errors))
	}
	for i := range seq.Rules {
		if got.Rules[i].Title != seq.Rules[i].Title || got.Rules[i].Path != seq.Rules[i].Path {
			t.Fatalf("rule %d is %q from %s, want %q from %s", i, got.Rules[i].Title, got.Rules[i].Path, seq.Rules[i].Title, seq.Rules[i].Path)
		}
	}
	for i := range seq.Correlations {
		if got.Correlations[i].Title != seq.Correlations[i].Title {
			t.Fatalf("correlation %d is %q, want %q", i, got.Correlations[i].Title, seq.Correlations[i].Title)
		}
	}
	for i := range seq.Errors {
		g, w := got.Errors[i].(*Error), seq.Errors[i].(*Error)
		if g.Path != w.Path {
			t.Fatalf("error %d is about %s, want %s", i, g.Path, w.Path)
		}
	}
}
