package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := dispatch(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestLintContract(t *testing.T) {
	dir := t.TempDir()
	good := "title: Good\nid: 11111111-1111-1111-1111-111111111111\nlogsource: {product: test}\ndetection:\n  sel: {A: x}\n  condition: sel\n"
	bad := "title: Bad\nlogsource: {product: test}\ndetection:\n  sel: {A|nosuch: x}\n  condition: sel\n"
	broken := "title: [unclosed\n"
	os.WriteFile(filepath.Join(dir, "good.yml"), []byte(good), 0o644)
	os.WriteFile(filepath.Join(dir, "bad.yml"), []byte(bad+"---\n"+good), 0o644)
	os.WriteFile(filepath.Join(dir, "broken.yml"), []byte(broken), 0o644)
	code, out, _ := run("lint", dir)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 2 failing files and a summary:\n%s", out)
	}
	if !strings.HasPrefix(lines[0], filepath.Join(dir, "bad.yml")+": line 4: ") || !strings.Contains(lines[0], "unknown modifier") {
		t.Errorf("bad.yml line: %q", lines[0])
	}
	if !strings.HasPrefix(lines[1], filepath.Join(dir, "broken.yml")+": line ") {
		t.Errorf("broken.yml line: %q", lines[1])
	}
	if lines[2] != "4 rules, 2 errors" {
		t.Errorf("summary %q", lines[2])
	}
	code, out, _ = run("lint", filepath.Join(dir, "good.yml"))
	if code != 0 || strings.TrimSpace(out) != "1 rules, 0 errors" {
		t.Errorf("clean lint: exit %d %q", code, out)
	}
}

func TestUnknownCommandAndHelp(t *testing.T) {
	if code, _, errOut := run("nosuch"); code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Errorf("unknown command: %d %q", code, errOut)
	}
	if code, out, _ := run("help"); code != 0 || !strings.Contains(out, "vigil <command>") {
		t.Errorf("help: %d %q", code, out)
	}
	if code, _, errOut := run("eval", "-h"); code != 0 || !strings.Contains(errOut, "Usage: vigil eval") {
		t.Errorf("eval -h: %d %q", code, errOut)
	}
}
