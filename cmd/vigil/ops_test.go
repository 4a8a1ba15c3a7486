package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHelpForEveryCommand: each subcommand's -h exits 0 with a usage line, a description and a
// described flag list.
func TestHelpForEveryCommand(t *testing.T) {
	for _, c := range commands {
		args := []string{c.name, "-h"}
		if c.name == "config" {
			args = []string{"config", "check", "-h"}
		}
		code, out, errOut := run(args...)
		text := out + errOut
		if code != 0 || !strings.Contains(text, "Usage: vigil "+c.name) {
			t.Errorf("%s -h: exit %d\n%s", c.name, code, text)
		}
		if strings.Contains(text, "Usage: vigil "+c.name+" \n") || strings.Contains(text, "\nFlags:\n\n") {
			t.Errorf("%s -h: ragged usage text\n%s", c.name, text)
		}
		for _, line := range strings.Split(text, "\n") {
			if strings.HasPrefix(line, "  -") && strings.TrimSpace(line) == "" {
				t.Errorf("%s: a flag without a description", c.name)
			}
		}
	}
	if code, out, _ := run("version"); code != 0 || !strings.HasPrefix(out, "vigil ") || !strings.Contains(out, "go:") {
		t.Errorf("version: %d %q", code, out)
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("rules: [builtin:starter]\nkafka:\n  group: soc\n"), 0o644)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("kafka:\n  group: soc\n  compresion: zstd\n"), 0o644)
	invalid := filepath.Join(dir, "invalid.yaml")
	os.WriteFile(invalid, []byte("kafka:\n  compression: brotli\nlog:\n  level: loud\n"), 0o644)

	if code, out, _ := run("config", "check", good); code != 0 || strings.TrimSpace(out) != good+": ok" {
		t.Errorf("good: %d %q", code, out)
	}
	if code, out, _ := run("config", "check", bad); code != 1 || !strings.HasPrefix(out, bad+":3: unknown key kafka.compresion (did you mean compression?)") {
		t.Errorf("unknown key: %d %q", code, out)
	}
	code, out, _ := run("config", "check", invalid)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 1 || len(lines) != 2 || !strings.HasPrefix(lines[0], invalid+":2: kafka.compression") || !strings.HasPrefix(lines[1], invalid+":4: log.level") {
		t.Errorf("invalid values: %d %q", code, out)
	}
	if code, out, _ := run("config", "check", "--set", "log.level=info", "--set", "kafka.compression=zstd", invalid); code != 0 {
		t.Errorf("--set fixes both: %d %q", code, out)
	}
	if code, _, _ := run("config", "check"); code != 2 {
		t.Errorf("no file: exit %d", code)
	}
	if code, _, errOut := run("run", "--config", bad); code != 2 || !strings.Contains(errOut, "unknown key kafka.compresion") {
		t.Errorf("run with a bad config: %d %q", code, errOut)
	}
}

func TestEvalSyslogAsOCSF(t *testing.T) {
	dir := t.TempDir()
	logFile := filepath.Join(dir, "auth.log")
	os.WriteFile(logFile, []byte("Mar  9 08:15:02 web-1 sshd[4121]: Failed password for invalid user admin from 203.0.113.50 port 52144 ssh2\n"+
		"Mar  9 08:15:03 web-1 sshd[4122]: Accepted publickey for bob from 198.51.100.2 port 40000 ssh2\n"+
		"not a syslog line\n"), 0o644)
	code, out, errOut := run("eval", "--config", "../../examples/rsyslog/vigil.yaml", "--rules", "../../examples/rsyslog/rules",
		"--input", "auth", "--alert-format", "ocsf", logFile)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var f struct {
		ClassUID    int                    `json:"class_uid"`
		FindingInfo struct{ Title string } `json:"finding_info"`
		Observables []struct{ Value string }
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &f); err != nil {
		t.Fatalf("want one OCSF finding: %v\n%s", err, out)
	}
	if f.ClassUID != 2004 || f.FindingInfo.Title != "SSH Failed Password" || len(f.Observables) != 3 {
		t.Errorf("finding: %+v", f)
	}
	if !strings.Contains(errOut, "line=3") || !strings.Contains(errOut, "invalid_syslog") {
		t.Errorf("the bad line is not reported with its number: %s", errOut)
	}
	if code, _, errOut := run("eval", "--input-format", "xml", logFile); code != 2 || !strings.Contains(errOut, "--input-format") {
		t.Errorf("bad format: %d %s", code, errOut)
	}
	if code, _, errOut := run("eval", "--input", "nosuch", logFile); code != 1 || !strings.Contains(errOut, "no inputs entry") {
		t.Errorf("unknown input: %d %s", code, errOut)
	}
}
