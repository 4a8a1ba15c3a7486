package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-detect/vigil/config"
)

// sigmaHQ is the pinned SigmaHQ corpus beside the repository; users' clones do not have it.
func sigmaHQ(t *testing.T) string {
	t.Helper()
	dir := filepath.Join("..", "..", "shared", "sigmahq")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("%s not found: the SigmaHQ corpus lives beside the repository in ../shared", dir)
	}
	return dir
}

// TestLintWholeCorpus lints every SigmaHQ rule directory, rules-placeholder with the example
// placeholder values, as `vigil lint --config examples/placeholders.yaml` does: no rule may be
// rejected, and every placeholder has values.
func TestLintWholeCorpus(t *testing.T) {
	dir := sigmaHQ(t)
	cfg, err := config.Load(filepath.Join("..", "examples", "placeholders.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, sub := range []string{"rules", "rules-threat-hunting", "rules-emerging-threats", "rules-placeholder"} {
		paths = append(paths, filepath.Join(dir, sub))
	}
	rep, err := Lint(cfg, paths)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Files {
		t.Errorf("%s: %s", f.Path, strings.Join(f.Reasons, "; "))
	}
	if rep.Errors != 0 || rep.Rules < 3700 {
		t.Fatalf("%d rules, %d errors", rep.Rules, rep.Errors)
	}
	for _, w := range rep.Warnings {
		if strings.Contains(w, ": placeholder %") {
			t.Errorf("placeholder without a value in examples/placeholders.yaml: %s", w)
		}
	}
	t.Logf("%d rules, %d errors, %d warnings", rep.Rules, rep.Errors, len(rep.Warnings))
}

// Without placeholder values, rules-placeholder still compiles: only the placeholder values
// match nothing, each reported with its file and line.
func TestLintPlaceholdersWithoutValues(t *testing.T) {
	dir := sigmaHQ(t)
	rep, err := Lint(config.Default(), []string{filepath.Join(dir, "rules-placeholder")})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errors != 0 {
		t.Fatalf("%d errors: %+v", rep.Errors, rep.Files)
	}
	found := false
	for _, w := range rep.Warnings {
		if strings.Contains(w, "win_security_admin_logon.yml:29: placeholder %Admins_Workstations% has no configured values") {
			found = true
		}
	}
	if !found {
		t.Errorf("no positioned placeholder warning in %q", rep.Warnings)
	}
}
