package detect

import (
	"strings"
	"testing"

	"github.com/vigil-detect/vigil/rules"
)

const filterTargetRules = `title: Data Compressed - rar.exe
id: 6f3e2987-db24-4c78-a860-b4f4095a7095
logsource: {category: process_creation, product: windows}
detection:
  selection: {Image|endswith: '\rar.exe'}
  condition: selection
---
title: Whoami
name: whoami_exec
id: 11111111-1111-1111-1111-111111111111
logsource: {category: process_creation, product: windows}
detection:
  selection: {Image|endswith: '\whoami.exe'}
  condition: selection
---
title: Failed logon
id: df0841c0-9846-4e9f-ad8a-7df91571771b
logsource: {product: windows, service: security}
detection:
  selection: {EventID: 4625}
  condition: selection
`

// compileWithFilters loads rules and filters from sources and compiles them with the built-in
// routing.
func compileWithFilters(t *testing.T, srcs ...string) *Engine {
	t.Helper()
	set := &rules.Set{}
	for i, src := range srcs {
		set.Add([]string{"rules.yml", "filter.yml", "filter2.yml"}[i], []byte(src))
	}
	if len(set.Errors) > 0 {
		t.Fatalf("load: %v", set.Errors)
	}
	e := Compile(set.Rules, Options{Filters: set.Filters})
	if len(e.Errors) > 0 {
		t.Fatalf("compile: %v", e.Errors)
	}
	return e
}

// fired lists the titles of the rules an event matches.
func fired(t *testing.T, e *Engine, ev string) []string {
	t.Helper()
	got, err := e.NewMatcher().Match([]byte(ev))
	if err != nil {
		t.Fatal(err)
	}
	var titles []string
	for _, i := range got {
		titles = append(titles, e.Rules[i].Title)
	}
	return titles
}

const (
	rarByAdmin = `{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Image":"C:\\rar.exe","User":"CORP\\adm_bob"}`
	rarByUser  = `{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Image":"C:\\rar.exe","User":"adm_bob"}`
	whoamiAdm  = `{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Image":"C:\\whoami.exe","User":"adm_bob"}`
	logonAdm   = `{"Channel":"Security","EventID":4625,"User":"adm_bob"}`
)

func TestFilterSpecificationExample(t *testing.T) {
	// The specification's example: the condition names the events to exclude.
	e := compileWithFilters(t, filterTargetRules, `title: Filter Administrator account
description: The valid administrator account start with adm_
logsource:
    category: process_creation
    product: windows
filter:
    rules:
        - 6f3e2987-db24-4c78-a860-b4f4095a7095 # Data Compressed - rar.exe
        - df0841c0-9846-4e9f-ad8a-7df91571771b # Login on jump host
    selection:
        User|startswith: 'adm_'
    condition: selection
`)
	if got := fired(t, e, rarByUser); len(got) != 0 {
		t.Errorf("the filter should exclude adm_ users: %v", got)
	}
	if got := fired(t, e, rarByAdmin); len(got) != 1 {
		t.Errorf("other users still match: %v", got)
	}
	if got := fired(t, e, whoamiAdm); len(got) != 1 {
		t.Errorf("a rule the filter does not name is untouched: %v", got)
	}
	// The failed logon rule is named, but its logsource (service security) is outside the
	// filter's (process_creation): as in pySigma, the filter does not apply.
	if got := fired(t, e, logonAdm); len(got) != 1 {
		t.Errorf("the filter should not apply outside its logsource: %v", got)
	}
	if !strings.Contains(strings.Join(e.Warnings, "\n"), `filter.yml:1: filter "Filter Administrator account" names rule "Failed logon" (rules.yml), whose logsource (product=windows, service=security) is outside the filter's (category=process_creation, product=windows): not applied`) {
		t.Errorf("warnings %q", e.Warnings)
	}
	if r := e.Rules[0]; len(r.Filters) != 1 || r.Filters[0] != "Filter Administrator account" {
		t.Errorf("rule filters %v", r.Filters)
	}
}

func TestFilterForms(t *testing.T) {
	cases := []struct {
		name, filter    string
		rarByUser, rest bool // whether the rar rule still fires for adm_ / other users
	}{
		{"pySigma form: the condition keeps events", "  rules: [6f3e2987-db24-4c78-a860-b4f4095a7095]\n  selection: {User|startswith: adm_}\n  condition: not selection", false, true},
		{"by name", "  rules: whoami_exec\n  selection: {User|startswith: adm_}\n  condition: selection", true, true},
		{"rules: any", "  rules: any\n  selection: {User|startswith: adm_}\n  condition: selection", false, true},
		{"empty rules list is any", "  rules: []\n  selection: {User|startswith: adm_}\n  condition: selection", false, true},
		{"several searches, positive", "  rules: any\n  a: {User|startswith: adm_}\n  b: {User: x}\n  condition: a or b", false, true},
		{"several searches, pySigma form", "  rules: any\n  a: {User|startswith: adm_}\n  b: {User: x}\n  condition: not a and not b", false, true},
		{"search names shared with the rule", "  rules: any\n  selection: {User|startswith: adm_}\n  condition: 1 of sel*", false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := compileWithFilters(t, filterTargetRules, "title: f\nlogsource: {category: process_creation}\nfilter:\n"+c.filter+"\n")
			if got := len(fired(t, e, rarByUser)) == 1; got != c.rarByUser {
				t.Errorf("rar by adm_ fires: %v, want %v", got, c.rarByUser)
			}
			if got := len(fired(t, e, rarByAdmin)) == 1; got != c.rest {
				t.Errorf("rar by others fires: %v, want %v", got, c.rest)
			}
		})
	}
}

func TestSeveralFiltersOnOneRule(t *testing.T) {
	e := compileWithFilters(t, filterTargetRules,
		"title: f1\nlogsource: {category: process_creation}\nfilter:\n  rules: any\n  s: {User|startswith: adm_}\n  condition: s\n",
		"title: f2\nlogsource: {product: windows}\nfilter:\n  rules: [6f3e2987-db24-4c78-a860-b4f4095a7095]\n  s: {User|contains: corp}\n  condition: s\n")
	if got := fired(t, e, rarByUser); len(got) != 0 {
		t.Errorf("f1 excludes it: %v", got)
	}
	if got := fired(t, e, rarByAdmin); len(got) != 0 {
		t.Errorf("f2 excludes it: %v", got)
	}
	if got := fired(t, e, `{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Image":"C:\\rar.exe","User":"eve"}`); len(got) != 1 {
		t.Errorf("neither applies: %v", got)
	}
}

// Filter searches use the rule's field mapping: Security 4688 events hold the image in
// NewProcessName.
func TestFilterUsesTheRouteFieldMapping(t *testing.T) {
	e := compileWithFilters(t, filterTargetRules,
		"title: f\nlogsource: {category: process_creation}\nfilter:\n  rules: any\n  s: {Image|contains: '\\trusted\\'}\n  condition: s\n")
	if got := fired(t, e, `{"Channel":"Security","EventID":4688,"NewProcessName":"C:\\trusted\\rar.exe"}`); len(got) != 0 {
		t.Errorf("the filter should see NewProcessName as Image: %v", got)
	}
	if got := fired(t, e, `{"Channel":"Security","EventID":4688,"NewProcessName":"C:\\x\\rar.exe"}`); len(got) != 1 {
		t.Errorf("got %v", got)
	}
}

func TestFilterErrors(t *testing.T) {
	cases := map[string]string{
		"title: f\nfilter:\n  rules: any\n  s: {A: x}\n  condition: s\n":                                      "filter.yml:1: filter \"f\": a filter needs a logsource",
		"title: f\nlogsource: {product: windows}\nfilter:\n  s: {A: x}\n  condition: s\n":                     "filter.yml:4: filter \"f\": a filter needs rules",
		"title: f\nlogsource: {product: windows}\nfilter:\n  rules: any\n  condition: s\n":                    "a filter needs at least one search identifier",
		"title: f\nlogsource: {product: windows}\nfilter:\n  rules: any\n  s: {A: x}\n":                       "has no condition",
		"title: f\nlogsource: {product: windows}\nfilter:\n  rules: any\n  s: {A: x}\n  condition: [s, s]\n":  "filter.yml:6: filter \"f\": the condition must be one string",
		"title: f\nlogsource: {product: windows}\nfilter:\n  rules: {a: b}\n  s: {A: x}\n  condition: s\n":    "filter.yml:4: filter \"f\": rules must be",
		"title: f\nlogsource: {product: windows}\nfilter:\n  rules: any\n  s: {A|nope: x}\n  condition: s\n":  "filter.yml:5: field \"A|nope\": unknown modifier",
		"title: f\nlogsource: {product: windows}\nfilter:\n  rules: any\n  s: {A: x}\n  condition: s and t\n": "filter.yml:6: condition \"s and t\": search identifier \"t\" is not defined",
		"title: f\nlogsource: {product: windows}\nfilter:\n  rules: any\n  s: {A: x}\n  condition: s or\n":    "filter.yml:6: filter \"f\": condition \"s or\": unexpected end",
		"title: f\nlogsource: {product: windows}\nfilter: [1]\n":                                              "filter.yml:3: filter \"f\": the filter section must be a mapping",
	}
	for src, want := range cases {
		set := &rules.Set{}
		set.Add("rules.yml", []byte(filterTargetRules))
		set.Add("filter.yml", []byte(src))
		errs := set.Errors
		if len(errs) == 0 {
			e := Compile(set.Rules, Options{Filters: set.Filters})
			errs = e.Errors
			if len(e.Rules) != 3 {
				t.Errorf("%q: a bad filter must not cost the rules: %d compiled", src, len(e.Rules))
			}
		}
		if len(errs) != 1 || !strings.Contains(errs[0].Error(), want) {
			t.Errorf("%q: errors %v, want %q", src, errs, want)
		}
	}
}

func TestUnusedFilterWarns(t *testing.T) {
	e := compileWithFilters(t, filterTargetRules,
		"title: f\nlogsource: {product: windows}\nfilter:\n  rules: [no-such-rule]\n  s: {A: x}\n  condition: s\n")
	if !strings.Contains(strings.Join(e.Warnings, "\n"), `filter.yml:1: filter "f" applies to no loaded rule (rules: no-such-rule)`) {
		t.Errorf("warnings %q", e.Warnings)
	}
}
