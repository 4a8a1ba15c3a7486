package gen

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-detect/vigil/detect"
	"github.com/vigil-detect/vigil/rules"
)

// hitCase emits one event of one catalogue entry.
type hitCase struct {
	name string
	emit func(g *Generator, dst []byte, t time.Time) []byte
}

func hitCases() []hitCase {
	var cs []hitCase
	for i := range hitProcTemplates {
		tp := &hitProcTemplates[i]
		cs = append(cs, hitCase{"process " + tp.cmd, func(g *Generator, dst []byte, t time.Time) []byte { return g.hitProcess(dst, t, tp) }})
	}
	for i := range hitFileTemplates {
		tf := &hitFileTemplates[i]
		cs = append(cs, hitCase{"file " + tf.path, func(g *Generator, dst []byte, t time.Time) []byte { return g.hitFile(dst, t, tf) }})
	}
	for i := range hitRegTemplates {
		tr := &hitRegTemplates[i]
		cs = append(cs, hitCase{"registry " + tr.key, func(g *Generator, dst []byte, t time.Time) []byte { return g.hitRegistry(dst, t, tr) }})
	}
	for i, f := range hitLogons {
		cs = append(cs, hitCase{"logon " + string(rune('0'+i)), func(g *Generator, dst []byte, t time.Time) []byte { return f(g, dst, t) }})
	}
	for i := range hitProxyTemplates {
		tp := &hitProxyTemplates[i]
		cs = append(cs, hitCase{"proxy " + tp.url + " " + tp.ua, func(g *Generator, dst []byte, t time.Time) []byte { return g.hitProxy(dst, t, tp) }})
	}
	return cs
}

// sigmaHQ compiles the SigmaHQ corpus and the starter rules, or skips.
func sigmaHQ(t *testing.T) *detect.Engine {
	t.Helper()
	root := filepath.Join("..", "..", "..", "shared", "sigmahq")
	if _, err := os.Stat(root); err != nil {
		t.Skipf("%s not found: the SigmaHQ corpus lives beside the repository in ../shared", root)
	}
	set := rules.Load(filepath.Join(root, "rules"), filepath.Join(root, "rules-threat-hunting"), filepath.Join(root, "rules-emerging-threats"))
	starter := rules.LoadFS(rules.Starter(), rules.StarterPrefix)
	return detect.Compile(append(set.Rules, starter.Rules...), detect.Options{})
}

// TestHitsFire checks that every catalogue entry is detected by some rule of the SigmaHQ corpus
// or the starter rules, on several hosts and seeds.
func TestHitsFire(t *testing.T) {
	eng := sigmaHQ(t)
	m := eng.NewMatcher()
	for _, c := range hitCases() {
		for seed := range int64(3) {
			g := New(Options{Seed: seed, AttackAt: -1})
			ev := c.emit(g, nil, g.Time())
			decode(t, 0, ev)
			hits, err := m.Match(ev)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if len(hits) == 0 {
				t.Errorf("%s: no rule fires on\n%s", c.name, ev)
				continue
			}
			if seed == 0 && testing.Verbose() {
				var titles []string
				for _, h := range hits {
					titles = append(titles, eng.Rules[h].Title)
				}
				t.Logf("%s: %s", c.name, strings.Join(titles, "; "))
			}
		}
	}
}

// TestMixAndHitRate checks lanes of one kind hold only that kind, that the
// hit rate is honoured and that hits follow the mix.
func TestMixAndHitRate(t *testing.T) {
	tests := []struct {
		name string
		mix  Mix
		want []string // substrings one of which every event holds
	}{
		{"process", Mix{Process: 1}, []string{`"EventID":1,`}},
		{"file and registry", Mix{File: 1, Registry: 1}, []string{`"EventID":11,`, `"EventID":13,`}},
		{"logons", Mix{Logon: 10, Logoff: 7, Privileges: 3}, []string{`"EventID":4624,`, `"EventID":4625,`, `"EventID":4634,`, `"EventID":4672,`}},
		{"proxy", Mix{Proxy: 1}, []string{`"cs-host":`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const n, rate = 20000, 0.05
			g := New(Options{Seed: 9, AttackAt: -1, Mix: tt.mix, HitRate: rate})
			seen := map[string]int{}
			for i := range n {
				ev := g.Next(nil)
				if i%97 == 0 {
					decode(t, i, ev)
				}
				found := false
				for _, w := range tt.want {
					if bytes.Contains(ev, []byte(w)) {
						seen[w]++
						found = true
					}
				}
				if !found {
					t.Fatalf("event %d is not of the lane: %s", i, ev)
				}
			}
			for _, w := range tt.want {
				if seen[w] == 0 {
					t.Errorf("no %s event", w)
				}
			}
			if got := float64(g.Hits()) / n; got < rate*0.8 || got > rate*1.2 {
				t.Errorf("hit fraction %.4f, want about %.2f", got, rate)
			}
		})
	}
}

// TestHitRateZeroKeepsStream checks the defaults are untouched by the hit and mix options.
func TestHitRateZeroKeepsStream(t *testing.T) {
	a := generate(Options{Seed: 4}, 5000)
	b := generate(Options{Seed: 4, Mix: DefaultMix}, 5000)
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("event %d differs with Mix: DefaultMix", i)
		}
	}
}

// TestProxyFields checks the URL parts of proxy records agree with the URL.
func TestProxyFields(t *testing.T) {
	g := New(Options{Seed: 2, AttackAt: -1, Mix: Mix{Proxy: 1}, HitRate: 0.3})
	for i := range 3000 {
		m := decode(t, i, g.Next(nil))
		uri, host, stem, query, ext := field(m, "c-uri"), field(m, "cs-host"), field(m, "c-uri-stem"), field(m, "c-uri-query"), field(m, "c-uri-extension")
		scheme, rest, ok := strings.Cut(uri, "://")
		if !ok || (scheme != "http" && scheme != "https") {
			t.Fatalf("event %d: c-uri %q", i, uri)
		}
		authority, _, _ := strings.Cut(rest, "/")
		hostOnly, _, _ := strings.Cut(authority, ":")
		want := scheme + "://" + authority + stem
		if query != "" {
			want += "?" + query
		}
		if hostOnly != host || want != uri || !strings.HasPrefix(stem, "/") {
			t.Fatalf("event %d: host %q stem %q query %q do not make up %q", i, host, stem, query, uri)
		}
		last := stem[strings.LastIndexByte(stem, '/'):]
		if dot := strings.LastIndexByte(last, '.'); (dot < 0 && ext != "") || (dot >= 0 && ext != strings.ToLower(last[dot+1:])) {
			t.Fatalf("event %d: extension %q of %q", i, ext, stem)
		}
		for _, k := range []string{"sc-status", "sc-bytes", "cs-bytes", "time-taken"} {
			if _, ok := m[k].(json.Number); !ok {
				t.Fatalf("event %d: %s is not a number", i, k)
			}
		}
		if _, err := time.Parse(time.RFC3339Nano, field(m, "@timestamp")); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
}
