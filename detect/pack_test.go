package detect

import (
	"reflect"
	"slices"
	"testing"

	"github.com/vigil-detect/vigil/rules"
)

// TestPackCopiesConditions: packed conditions are deep copies of the compiled ones, for rules
// with every kind of node (searches, filters, and/or/not, field lists, fieldref, globs, windash
// variants, value sets of each shape, regexes, numbers, keywords), the evaluated ones without
// their search nodes, and Explain uses packed copies with them, sharing the field matchers.
func TestPackCopiesConditions(t *testing.T) {
	src := `title: every node
id: 00000000-0000-0000-0000-0000000000aa
logsource: {product: windows, category: process_creation}
detection:
    sel_img:
        Image|endswith: ['\cmd.exe', '\powershell.exe', '\pwsh.exe', '\wscript.exe', '\cscript.exe']
        CommandLine|contains|windash: ' -enc '
    sel_glob:
        CommandLine: '*invoke-*exp?ession*'
        ParentImage|fieldref: Image
    sel_re:
        CommandLine|re: '\s[a-f0-9]{16}\s'
        EventID: [1, 4688]
    sel_sets:
        CommandLine|contains: [' -nop ', ' -w hidden ', 'iex', 'downloadstring']
        ParentImage|startswith: ['C:\Users\', 'C:\ProgramData\', 'C:\Temp\', 'D:\']
    keywords:
        - 'mimikatz'
        - 'sekurlsa::'
    filter:
        User|startswith: 'NT AUTHORITY\'
        IntegrityLevel: null
    condition: (sel_img or all of sel_g* or sel_re or sel_sets or keywords) and not filter
---
title: filter target
id: 00000000-0000-0000-0000-0000000000ab
logsource: {product: windows, category: process_creation}
detection:
    sel:
        Image|endswith: '\reg.exe'
        CommandLine|contains|all: [' save ', 'hklm\sam']
    condition: sel
`
	filt := `title: no admin
logsource: {product: windows, category: process_creation}
filter:
    rules: [00000000-0000-0000-0000-0000000000ab]
    selection:
        User: 'CORP\admin'
    condition: not selection
`
	set := &rules.Set{}
	set.Add("rules.yml", []byte(src))
	set.Add("filter.yml", []byte(filt))
	if len(set.Errors) > 0 || len(set.Filters) != 1 {
		t.Fatalf("parse: %v (%d filters)", set.Errors, len(set.Filters))
	}
	opts := Options{Filters: set.Filters}
	plain := compile(set.Rules, opts)
	packed := compile(set.Rules, opts)
	packed.pack()
	if len(plain.Errors) > 0 {
		t.Fatalf("compile: %v", plain.Errors)
	}
	variants := 0
	for ri, r := range packed.routes {
		for vi, v := range r.variants {
			want := withoutSearches(plain.routes[ri].variants[vi].cond)
			if !reflect.DeepEqual(v.cond, want) {
				t.Fatalf("route %d variant %d: the packed condition differs from the compiled one", ri, vi)
			}
			if reflect.ValueOf(v.cond).Kind() == reflect.Pointer && reflect.ValueOf(v.cond).Pointer() == reflect.ValueOf(want).Pointer() {
				t.Fatalf("route %d variant %d: not copied", ri, vi)
			}
			variants++
		}
	}
	if variants < 2 {
		t.Fatalf("only %d variants compiled", variants)
	}
	for ri, rvs := range packed.explain {
		for i, rv := range rvs {
			if !reflect.DeepEqual(rv.cond, plain.explain[ri][i].cond) {
				t.Fatalf("rule %d: Explain's condition differs from the compiled one", ri)
			}
			for _, f := range fieldMatchers(rv.cond) {
				shared := false
				for _, r := range packed.routes {
					for _, v := range r.variants {
						shared = shared || slices.Contains(fieldMatchers(v.cond), f)
					}
				}
				if !shared {
					t.Fatalf("rule %d: Explain's field matcher %s is a copy of its own", ri, f.spec)
				}
			}
		}
	}
	m := Compile(set.Rules, opts).NewMatcher()
	got, err := m.Match([]byte(`{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Image":"C:\\Windows\\System32\\reg.exe","CommandLine":"reg save HKLM\\SAM x","User":"CORP\\bob","ParentImage":"C:\\x.exe"}`))
	if err != nil || len(got) != 1 || packed.Rules[got[0]].Title != "filter target" {
		t.Fatalf("matches %v (%v), want the filter target rule", got, err)
	}
}

// withoutSearches copies a condition tree leaving out its search nodes.
func withoutSearches(n node) node {
	switch n := n.(type) {
	case *searchNode:
		return withoutSearches(n.x)
	case *filterNode:
		c := *n
		c.x = withoutSearches(n.x)
		return &c
	case andNode:
		c := make(andNode, len(n))
		for i, x := range n {
			c[i] = withoutSearches(x)
		}
		return c
	case orNode:
		c := make(orNode, len(n))
		for i, x := range n {
			c[i] = withoutSearches(x)
		}
		return c
	case notNode:
		return notNode{withoutSearches(n.x)}
	}
	return n
}

// fieldMatchers lists the field matchers of a condition tree.
func fieldMatchers(n node) []*fieldMatcher {
	switch n := n.(type) {
	case *searchNode:
		return fieldMatchers(n.x)
	case *filterNode:
		return fieldMatchers(n.x)
	case andNode:
		var out []*fieldMatcher
		for _, x := range n {
			out = append(out, fieldMatchers(x)...)
		}
		return out
	case orNode:
		var out []*fieldMatcher
		for _, x := range n {
			out = append(out, fieldMatchers(x)...)
		}
		return out
	case notNode:
		return fieldMatchers(n.x)
	case *fieldMatcher:
		return []*fieldMatcher{n}
	}
	return nil
}
