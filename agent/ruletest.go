package agent

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/vigil-detect/vigil/config"
	"github.com/vigil-detect/vigil/pipeline"
	"github.com/vigil-detect/vigil/ruletest"
)

// TestRules compiles the rules under paths as the agent would with cfg (routing, field
// mappings, placeholders, filters) and runs the rule test files (NAME.test.yml) found there.
// Rules that fail to load or compile count as failures.
func TestRules(cfg *config.Config, paths []string) (*ruletest.Report, error) {
	opts, err := RuleOptions(cfg)
	if err != nil {
		return nil, err
	}
	var rulePaths, siblings []string
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil && !st.IsDir() && ruletest.IsTestFile(p) {
			// A test file named directly: its rule file beside it is loaded too.
			if sib := ruletest.Sibling(p); sib != "" {
				siblings = append(siblings, sib)
			}
			continue
		}
		rulePaths = append(rulePaths, p)
	}
	for _, sib := range siblings {
		if !covered(sib, rulePaths) {
			rulePaths = append(rulePaths, sib)
		}
	}
	rs := pipeline.Compile(LoadRules(rulePaths), opts)
	cases, errs := ruletest.Load(paths...)
	errs = append(rs.Errors(), errs...)
	return ruletest.Run(rs.Detect, cases, errs), nil
}

// covered reports whether file is one of paths or inside one of them.
func covered(file string, paths []string) bool {
	f, err := filepath.Abs(file)
	if err != nil {
		return false
	}
	for _, p := range paths {
		a, err := filepath.Abs(p)
		if err == nil && (a == f || strings.HasPrefix(f, a+string(filepath.Separator))) {
			return true
		}
	}
	return false
}
