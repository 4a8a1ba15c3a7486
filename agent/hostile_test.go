package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-detect/vigil/config"
)

const goodRule = `title: Good
id: 99999999-9999-9999-9999-999999999999
logsource: {product: windows, category: process_creation}
detection:
  sel: {CommandLine|contains: mimikatz}
  condition: sel
level: high
`

func hostileRule(detection string) string {
	return "title: Hostile\nid: 88888888-8888-8888-8888-888888888888\nlogsource: {product: windows, category: process_creation}\n" +
		"detection:\n" + detection + "\nlevel: high\n"
}

// aliasBomb is the "billion laughs" in YAML: nine levels of ten aliases each.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("title: Bomb\nlogsource: {product: windows}\nx0: &a0 [\"lol\"]\n")
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&b, "x%d: &a%d [", i, i)
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	b.WriteString("detection:\n  sel:\n    CommandLine: *a9\n  condition: sel\n")
	return b.String()
}

// TestHostileRules loads a hostile rule file beside a good one: loading finishes promptly, the
// hostile rule is reported (with the reason given) and skipped, and the good rule loads.
func TestHostileRules(t *testing.T) {
	dashes := strings.Repeat(" -x", 20)
	cases := []struct {
		name, file string
		limits     config.RuleLimits
		want       string // in the reported error; "" means the hostile rule loads (and must be harmless)
	}{
		{"huge file", "title: Huge\n# " + strings.Repeat("x", 5<<20) + "\n", config.RuleLimits{}, "file larger than"},
		{"file over a configured limit", hostileRule("  sel: {CommandLine: " + strings.Repeat("y", 2000) + "}\n  condition: sel"),
			config.RuleLimits{MaxFileBytes: 1000}, "file larger than 1000 bytes"},
		{"deep flow nesting", "title: Deep\ndetection:\n  sel: {CommandLine: " + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + "}\n  condition: sel\n",
			config.RuleLimits{}, "exceeded max depth"},
		{"deep block nesting", "title: Deep\nx:\n" + deepBlock(2000) + "detection:\n  sel: {a: b}\n  condition: sel\n", config.RuleLimits{}, ""},
		{"alias bomb", aliasBomb(), config.RuleLimits{}, "aliasing"},
		{"self-referencing alias", "title: Loop\na: &a [*a]\ndetection:\n  sel: {CommandLine: *a}\n  condition: sel\n", config.RuleLimits{}, "contains itself"},
		{"long regex", hostileRule("  sel: {CommandLine|re: '" + strings.Repeat("(ab|cd)", 1000) + "'}\n  condition: sel"),
			config.RuleLimits{}, "max_regex_bytes"},
		{"regex over a configured limit", hostileRule("  sel: {CommandLine|re: 'a{1,50}b'}\n  condition: sel"),
			config.RuleLimits{MaxRegexProgram: 20}, "max_regex_program"},
		{"large regex program", hostileRule("  sel: {CommandLine|re: '" + strings.Repeat(`[a-z]{1000}`, 6) + "'}\n  condition: sel"),
			config.RuleLimits{}, "max_regex_program"},
		{"repeat count over RE2's", hostileRule("  sel: {CommandLine|re: '((a{1000}){1000}){1000}'}\n  condition: sel"),
			config.RuleLimits{}, "regular expression"},
		{"backtracking pattern (RE2 is linear)", hostileRule("  sel: {CommandLine|re: '^(a+)+$'}\n  condition: sel"), config.RuleLimits{}, ""},
		{"windash bomb (becomes a dash class)", hostileRule("  sel: {CommandLine|windash|contains: '" + dashes + "'}\n  condition: sel"),
			config.RuleLimits{}, ""},
		{"windash then base64offset", hostileRule("  sel: {CommandLine|windash|base64offset|contains: ' -a -b -c -d -e'}\n  condition: sel"),
			config.RuleLimits{}, "max_value_variants"},
		{"long windash value", hostileRule("  sel: {CommandLine|windash|contains: ' -" + strings.Repeat("z", 1<<20) + "'}\n  condition: sel"),
			config.RuleLimits{}, ""},
		{"expand bomb", hostileRule("  sel: {CommandLine|expand: '%p%%p%%p%%p%'}\n  condition: sel"), config.RuleLimits{}, "max_value_variants"},
		{"deep condition", hostileRule("  sel: {CommandLine: x}\n  condition: " + strings.Repeat("(", 5000) + "sel" + strings.Repeat(")", 5000)),
			config.RuleLimits{}, "max_condition_depth"},
		{"not chain", hostileRule("  sel: {CommandLine: x}\n  condition: " + strings.Repeat("not ", 200000) + "sel"),
			config.RuleLimits{}, "max_condition_depth"},
		{"condition over a configured limit", hostileRule("  sel: {CommandLine: x}\n  condition: ((sel))"),
			config.RuleLimits{MaxConditionDepth: 1}, "max_condition_depth"},
		{"many rules", strings.Repeat(strings.Replace(goodRule, "Good", "Many", 1)+"---\n", 5000), config.RuleLimits{}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "good.yml"), []byte(goodRule), 0o644)
			os.WriteFile(filepath.Join(dir, "hostile.yml"), []byte(c.file), 0o644)
			cfg := config.Default()
			cfg.Rules = []string{dir}
			cfg.RuleLimits = c.limits
			vals := make([]string, 40)
			for i := range vals {
				vals[i] = fmt.Sprintf("v%d", i)
			}
			cfg.Placeholders = map[string][]string{"p": vals}
			start := time.Now()
			rs, err := CompileRules(cfg)
			if err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			good := false
			for _, r := range rs.Detect.Rules {
				good = good || r.Title == "Good"
			}
			if !good {
				t.Fatalf("the good rule did not load beside the hostile one: %v", rs.Errors())
			}
			var msgs []string
			for _, e := range rs.Errors() {
				msgs = append(msgs, e.Error())
			}
			all := strings.Join(msgs, "\n")
			if c.want == "" {
				if len(msgs) > 0 {
					t.Fatalf("errors: %.500s", all)
				}
			} else if !strings.Contains(all, c.want) || !strings.Contains(all, "hostile.yml") {
				t.Fatalf("errors %.500q, want one naming hostile.yml with %q", all, c.want)
			}
			// Whatever loaded runs over a large event.
			m := rs.Detect.NewMatcher()
			big := `{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","CommandLine":"` + strings.Repeat("a", 512<<10) + `!"}`
			if _, err := m.Match([]byte(big)); err != nil {
				t.Fatal(err)
			}
			t.Logf("%d rules, %d errors, compiled in %v", len(rs.Detect.Rules), len(msgs), took.Round(time.Millisecond))
		})
	}
}

// deepBlock is YAML block mappings nested n deep.
func deepBlock(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		b.WriteString(strings.Repeat(" ", i))
		b.WriteString("k:\n")
	}
	b.WriteString(strings.Repeat(" ", n+1))
	b.WriteString("v\n")
	return b.String()
}
