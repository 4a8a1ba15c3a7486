package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTestCommand(t *testing.T) {
	code, out, errOut := run("test", filepath.Join("..", "..", "examples", "rule-tests"))
	if code != 0 || !strings.HasSuffix(out, "6 tests, 0 failures\n") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	dir := t.TempDir()
	rule := "title: T\nid: 11111111-1111-1111-1111-111111111111\nlogsource: {product: test}\ndetection:\n  sel: {A: x}\n  condition: sel\n"
	os.WriteFile(filepath.Join(dir, "t.yml"), []byte(rule), 0o644)
	os.WriteFile(filepath.Join(dir, "t.test.yml"), []byte("tests:\n  - {name: wrong, match: true, event: {A: y}}\n"), 0o644)
	code, out, _ = run("test", filepath.Join(dir, "t.test.yml"))
	if code != 1 || !strings.Contains(out, "t.test.yml:2 wrong: expected match, it did not") || !strings.HasSuffix(out, "1 tests, 1 failures\n") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if code, _, _ := run("test"); code != 2 {
		t.Errorf("no path: exit %d", code)
	}
}

func TestEvalExplain(t *testing.T) {
	dir := t.TempDir()
	rule := "title: T\nid: 11111111-1111-1111-1111-111111111111\nlogsource: {product: test}\ndetection:\n  sel: {A|contains: x}\n  condition: sel\n"
	os.WriteFile(filepath.Join(dir, "t.yml"), []byte(rule), 0o644)
	os.WriteFile(filepath.Join(dir, "ev.ndjson"), []byte(`{"A":"axb"}`+"\n"), 0o644)
	code, out, errOut := run("eval", "--explain", "--rules", filepath.Join(dir, "t.yml"), filepath.Join(dir, "ev.ndjson"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var a struct {
		Explain struct {
			Matched  bool
			Searches []struct {
				Name  string
				Items []struct {
					Matches []struct{ Field, Value string }
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !a.Explain.Matched || a.Explain.Searches[0].Name != "sel" || a.Explain.Searches[0].Items[0].Matches[0].Value != "axb" {
		t.Errorf("explain %+v", a.Explain)
	}
	// Without the flag, alerts carry no explanation.
	_, out, _ = run("eval", "--rules", filepath.Join(dir, "t.yml"), filepath.Join(dir, "ev.ndjson"))
	if strings.Contains(out, `"explain"`) {
		t.Errorf("unexpected explain: %s", out)
	}
}
