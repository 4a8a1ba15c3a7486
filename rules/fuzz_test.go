package rules_test

import (
	"errors"
	"testing"

	"github.com/vigil-detect/vigil/detect"
	"github.com/vigil-detect/vigil/rules"
)

// FuzzSetAdd feeds arbitrary rule files to the loader and the compiler: neither panics, every
// problem is a *rules.Error naming the file, and compiled rules evaluate events without
// panicking. Seeds: testdata/fuzz/FuzzSetAdd (the starter rules and hostile files).
func FuzzSetAdd(f *testing.F) {
	f.Add([]byte("title: t\nlogsource: {product: windows}\ndetection:\n  sel: {Image|endswith: '\\\\cmd.exe'}\n  condition: sel\n"))
	f.Add([]byte("title: t\ndetection:\n  k: [a, b]\n  condition: k\n---\ntitle: c\ncorrelation: {type: event_count, rules: [x]}\n"))
	f.Add([]byte("a: &a [x, *a]\n"))
	events := [][]byte{
		[]byte(`{"Image":"C:\\Windows\\System32\\cmd.exe","CommandLine":"cmd /c whoami -all","EventID":1,"User":"a"}`),
		[]byte(`{"EventID":4625,"IpAddress":"203.0.113.5","TargetUserName":"admin","LogonType":10}`),
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		set := &rules.Set{Limits: rules.Limits{MaxFileBytes: 64 << 10}}
		set.Add("fuzz.yml", data)
		for _, err := range set.Errors {
			var re *rules.Error
			if !errors.As(err, &re) || re.Path != "fuzz.yml" || re.Line < 0 {
				t.Fatalf("error without position: %#v", err)
			}
		}
		eng := detect.Compile(set.Rules, detect.Options{NoRouting: true})
		if len(eng.Rules)+len(eng.Errors) != len(set.Rules) {
			t.Fatalf("%d rules: %d compiled, %d errors", len(set.Rules), len(eng.Rules), len(eng.Errors))
		}
		m := eng.NewMatcher()
		for _, ev := range events {
			if _, err := m.Match(ev); err != nil {
				t.Fatalf("match: %v", err)
			}
		}
	})
}
