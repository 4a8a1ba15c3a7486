package agent

import (
	"errors"
	"fmt"
	"sort"

	"github.com/vigil-detect/vigil/config"
	"github.com/vigil-detect/vigil/rules"
)

// LintReport is what `vigil lint` prints.
type LintReport struct {
	Files    []LintFile // failing files, sorted by path
	Rules    int        // rule documents examined (including ones that did not parse)
	Errors   int
	Warnings []string
}

// LintFile is one failing file and every reason it failed.
type LintFile struct {
	Path    string
	Reasons []string // "line N: reason"
}

// Lint loads and compiles every rule under paths, as the agent would with cfg.
func Lint(cfg *config.Config, paths []string) (*LintReport, error) {
	opts, err := RuleOptions(cfg)
	if err != nil {
		return nil, err
	}
	set := LoadRulesWith(paths, rules.Limits{MaxFileBytes: int64(cfg.RuleLimits.MaxFileBytes)})
	rs := CompileSet(set, opts)
	errs := rs.Errors()
	rep := &LintReport{
		Rules:    len(set.Rules) + len(set.Correlations) + len(set.Filters) + len(set.Errors),
		Errors:   len(errs),
		Warnings: rs.Detect.Warnings,
	}
	byFile := map[string][]string{}
	for _, err := range errs {
		path, reason := "(rules)", err.Error()
		var re *rules.Error
		if errors.As(err, &re) {
			path, reason = re.Path, re.Err.Error()
			if re.Line > 0 {
				reason = fmt.Sprintf("line %d: %v", re.Line, re.Err)
			}
		}
		byFile[path] = append(byFile[path], reason)
	}
	for p, reasons := range byFile {
		rep.Files = append(rep.Files, LintFile{Path: p, Reasons: reasons})
	}
	sort.Slice(rep.Files, func(i, j int) bool { return rep.Files[i].Path < rep.Files[j].Path })
	return rep, nil
}
