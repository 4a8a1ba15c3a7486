package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-detect/vigil/internal/race"
)

func values(ev *Event, s *Schema, path string) []string {
	i, ok := s.Lookup(path)
	if !ok {
		panic(path)
	}
	var out []string
	for _, v := range ev.Values(i) {
		out = append(out, string(v.Raw))
	}
	return out
}

func TestDecodeReferencedFields(t *testing.T) {
	s := NewSchema()
	for _, p := range []string{"Image", "EventID", "a.b", "list", "objs.x", "esc", "missing", "n", "t", "obj", "flat.key"} {
		s.Add(p)
	}
	raw := `{"Image":"C:\\Windows\\cmd.exe","EventID":4688,"skip":{"deep":[1,2,{"x":"y"}]},` +
		`"a":{"b":"nested","c":1},"list":["x","y",3],"objs":[{"x":"1"},{"z":0},{"x":"2"}],` +
		`"esc":"\u00c9t\u00e9 \"q\" \ud83d\ude00","n":null,"t":true,"obj":{"k":"v"},"flat.key":"F"}`
	var ev Event
	if err := s.Decode([]byte(raw), &ev, Limits{}); err != nil {
		t.Fatal(err)
	}
	cases := map[string][]string{
		"Image":    {`C:\Windows\cmd.exe`},
		"EventID":  {"4688"},
		"a.b":      {"nested"},
		"list":     {"x", "y", "3"},
		"objs.x":   {"1", "2"},
		"esc":      {"Été \"q\" 😀"},
		"missing":  nil,
		"n":        {"null"},
		"t":        {"true"},
		"obj":      {`{"k":"v"}`},
		"flat.key": {"F"},
	}
	for path, want := range cases {
		got := values(&ev, s, path)
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	img, _ := s.Lookup("Image")
	if got := string(ev.First(img).Lower); got != `c:\windows\cmd.exe` {
		t.Errorf("lower = %q", got)
	}
	e, _ := s.Lookup("esc")
	if got := string(ev.First(e).Lower); got != "été \"q\" 😀" {
		t.Errorf("unicode lower = %q", got)
	}
	n, _ := s.Lookup("n")
	if ev.First(n).Kind != Null || !ev.Has(n) {
		t.Errorf("null kind")
	}
	m, _ := s.Lookup("missing")
	if ev.Has(m) || ev.First(m).Kind != Missing {
		t.Errorf("missing field present")
	}
}

func TestDecodeReusesEvent(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector's instrumentation allocates")
	}
	s := NewSchema()
	f := s.Add("User")
	var ev Event
	if err := s.Decode([]byte(`{"User":"A"}`), &ev, Limits{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Decode([]byte(`{"Other":"B"}`), &ev, Limits{}); err != nil {
		t.Fatal(err)
	}
	if ev.Has(f) {
		t.Fatal("value from the previous event leaked")
	}
	raw := []byte(`{"User":"Alice","X":"\u0041","Y":[1,2]}`)
	allocs := testing.AllocsPerRun(100, func() {
		_ = s.Decode(raw, &ev, Limits{})
	})
	if allocs != 0 {
		t.Fatalf("Decode allocates %v times per event", allocs)
	}
}

func TestDecodeCollectAll(t *testing.T) {
	s := NewSchema()
	s.Add("a")
	s.CollectAll()
	var ev Event
	if err := s.Decode([]byte(`{"a":"x","b":{"c":["y",2]},"d":null,"e":false}`), &ev, Limits{}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range ev.All() {
		got = append(got, fmt.Sprintf("%s@%d", v.Raw, v.Field))
	}
	// The values of unreferenced keys are of no field: -1, not field 0 ("a").
	if strings.Join(got, ",") != "x@0,y@-1,2@-1,false@-1" {
		t.Fatalf("all = %q", got)
	}
}

func TestDecodeRejects(t *testing.T) {
	s := NewSchema()
	s.Add("a")
	deep := strings.Repeat(`{"a":`, 70) + "1" + strings.Repeat("}", 70)
	cases := []struct{ in, reason string }{
		{``, "invalid_json"},
		{`   `, "invalid_json"},
		{`[1,2]`, "not_object"},
		{`"str"`, "not_object"},
		{`{"a":1`, "invalid_json"},
		{`{"a":1,}`, "invalid_json"},
		{`{"a":01}`, "invalid_json"},
		{`{"a":"\x"}`, "invalid_json"},
		{`{"b":"\u12"}`, "invalid_json"},
		{`{"a":tru}`, "invalid_json"},
		{`{"a":1} x`, "invalid_json"},
		{`{a:1}`, "invalid_json"},
		{"{\"a\":\"\xff\"}", "invalid_utf8"},
		{deep, "too_deep"},
	}
	for _, c := range cases {
		var ev Event
		err := s.Decode([]byte(c.in), &ev, Limits{})
		var de *Error
		if !errors.As(err, &de) || de.Reason != c.reason {
			t.Errorf("%.40q: err %v, want reason %s", c.in, err, c.reason)
		}
	}
	var ev Event
	err := s.Decode([]byte(`{"a":"0123456789"}`), &ev, Limits{MaxBytes: 10})
	var de *Error
	if !errors.As(err, &de) || de.Reason != "too_large" {
		t.Errorf("size limit: %v", err)
	}
}

func TestValueTime(t *testing.T) {
	want := time.Date(2025, 10, 25, 13, 44, 33, 440907300, time.UTC)
	for _, v := range []Value{
		{Kind: String, Raw: []byte("2025-10-25T13:44:33.4409073Z")},
		{Kind: String, Raw: []byte("2025-10-25 13:44:33.4409073")},
		{Kind: String, Raw: []byte("2025-10-25T15:44:33.4409073+02:00")},
	} {
		got, ok := v.Time()
		if !ok || !got.Equal(want) {
			t.Errorf("%s: %v %v", v.Raw, got, ok)
		}
	}
	for raw, want := range map[string]int64{"1700000000": 1700000000000, "1700000000123": 1700000000123, "1700000000.5": 1700000000500} {
		got, ok := Value{Kind: Number, Raw: []byte(raw)}.Time()
		if !ok || got.UnixMilli() != want {
			t.Errorf("%s: %v %v", raw, got.UnixMilli(), ok)
		}
	}
	if _, ok := (Value{Kind: String, Raw: []byte("yesterday")}).Time(); ok {
		t.Error("parsed nonsense")
	}
}

func BenchmarkDecode(b *testing.B) {
	s := NewSchema()
	for _, p := range []string{"Image", "CommandLine", "ParentImage", "EventID", "Channel", "User", "OriginalFileName"} {
		s.Add(p)
	}
	raw := []byte(`{"Channel":"Microsoft-Windows-Sysmon/Operational","CommandLine":"reg  query \"HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\" /v CurrentBuildNumber","Company":"Microsoft Corporation","Computer":"ar-win-dc.attackrange.local","CurrentDirectory":"C:\\Users\\Administrator\\Downloads\\","Description":"Registry Console Tool","EventID":1,"EventRecordID":8999629,"Hashes":"SHA1=E65FAA187D27D84106B78B909C06D405837EC64E,MD5=EB20E119AAF500E2752DC5A588B54C12","Image":"C:\\Windows\\System32\\reg.exe","IntegrityLevel":"High","OriginalFileName":"reg.exe","ParentCommandLine":"\"C:\\Windows\\System32\\cmd.exe\" ","ParentImage":"C:\\Windows\\System32\\cmd.exe","User":"ATTACKRANGE\\Administrator","UtcTime":"2025-10-25 13:44:33.440"}`)
	var ev Event
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Decode(raw, &ev, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDecodeKeyCacheAcrossLayouts alternates events whose keys come in different orders and sets:
// the remembered key layout must never hand a value to the wrong field.
// Unreferenced keys are remembered too (by name, in the event), so an unreferenced key must never
// hide a referenced one at the same position.
func TestDecodeKeyCacheAcrossLayouts(t *testing.T) {
	s := NewSchema()
	a, b := s.Add("A"), s.Add("B")
	events := []struct{ raw, a, b string }{
		{`{"A":"1","B":"2","C":"3"}`, "1", "2"},
		{`{"B":"4","A":"5"}`, "5", "4"},
		{`{"C":"6","A":"7"}`, "7", ""},
		{`{"A":"8","B":"9","C":"0"}`, "8", "9"},
		{`{"":"x","A":"y"}`, "y", ""},
		{`{"C":"1","B":"2"}`, "", "2"},       // an unreferenced key remembered where A was
		{`{"A":"3","D\u0041":"4"}`, "3", ""}, // an escaped unreferenced key
		{`{"DA":"5","A":"6"}`, "6", ""},
	}
	var ev Event
	for round := 0; round < 3; round++ {
		for _, e := range events {
			if err := s.Decode([]byte(e.raw), &ev, Limits{}); err != nil {
				t.Fatal(err)
			}
			if got := string(ev.First(a).Raw); got != e.a {
				t.Fatalf("%s: A = %q, want %q", e.raw, got, e.a)
			}
			if got := string(ev.First(b).Raw); got != e.b {
				t.Fatalf("%s: B = %q, want %q", e.raw, got, e.b)
			}
		}
	}
}

// TestDecodeKeyCacheNearMisses: a remembered key is compared whole, whatever its length, with
// the next event's key at its position: keys differing in one byte anywhere, or only in the
// bytes after a short key, are not taken for it.
func TestDecodeKeyCacheNearMisses(t *testing.T) {
	for _, name := range []string{"Image", "ParentProcessId", "ParentCommandLine", "TimeCreated_SystemTime"} {
		variants := []string{name[:len(name)-1], name + "x"}
		for i := range name {
			variants = append(variants, name[:i]+"#"+name[i+1:])
		}
		for _, other := range variants {
			s := NewSchema()
			f := s.Add(name)
			var ev Event
			for range 2 { // remembered, then found by its bytes
				if err := s.Decode([]byte(`{"`+name+`":"yes","Z":"1"}`), &ev, Limits{}); err != nil {
					t.Fatal(err)
				}
			}
			if got := string(ev.First(f).Raw); got != "yes" {
				t.Fatalf("%s = %q", name, got)
			}
			if err := s.Decode([]byte(`{"`+other+`":"no","Z":"1"}`), &ev, Limits{}); err != nil {
				t.Fatal(err)
			}
			if ev.Has(f) {
				t.Fatalf("key %q taken for %q", other, name)
			}
		}
	}
}

// TestDecodeKeyCacheRawBytes: a remembered key is recognised by its raw bytes only when those
// can spell nothing else. "a\\b" (a, backslash, b) is remembered; the next event's "a\b" has
// the same bytes but is a, backspace, b, and must not be taken for it. Escaped spellings of a
// plain key still find it.
func TestDecodeKeyCacheRawBytes(t *testing.T) {
	s := NewSchema()
	ab, da := s.Add(`a\b`), s.Add("DA")
	var ev Event
	for round := range 3 {
		for _, e := range []struct{ raw, ab, da string }{
			{`{"a\\b":"1","DA":"2"}`, "1", "2"},
			{`{"a\b":"3","D\u0041":"4"}`, "", "4"},
			{`{"a\u005cb":"5","DA":"6"}`, "5", "6"},
		} {
			if err := s.Decode([]byte(e.raw), &ev, Limits{}); err != nil {
				t.Fatal(err)
			}
			if got := string(ev.First(ab).Raw); got != e.ab {
				t.Fatalf("round %d, %s: a\\b = %q, want %q", round, e.raw, got, e.ab)
			}
			if got := string(ev.First(da).Raw); got != e.da {
				t.Fatalf("round %d, %s: DA = %q, want %q", round, e.raw, got, e.da)
			}
		}
	}
}

func TestFoldingFollowsCaseOrbits(t *testing.T) {
	for in, want := range map[string]string{"ſ": "s", "\u212a": "k", "ÉTÉ": "été", "ǅ": "ǆ"} {
		if got := Fold(in); got != want {
			t.Errorf("Fold(%q) = %q, want %q", in, got, want)
		}
	}
	// The table of common runes agrees with the Unicode tables, and runes past it use them.
	for r := rune(0); r < 0x3000; r++ {
		if got, want := foldRune(r), foldOrbit(r); got != want {
			t.Fatalf("foldRune(%U) = %U, want %U", r, got, want)
		}
	}
	if got := Fold("Microsoft® Windows® Operating System ПРИВЕТ ™"); got != "microsoft® windows® operating system привет ™" {
		t.Errorf("Fold = %q", got)
	}
}

// TestTimeDoesNotAllocate: every event's time is read, so the usual forms must not allocate.
func TestTimeDoesNotAllocate(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector's instrumentation allocates")
	}
	for _, ts := range []string{"2026-01-01T00:00:00Z", "2026-01-01T00:00:00.123456789+02:00", "2026-01-01T00:00:00.5",
		"2026-01-01 00:00:00.000", "2026-01-01 00:00:00-05:00"} {
		v := Value{Kind: String, Raw: []byte(ts)}
		got, ok := v.Time()
		if !ok || got.Before(time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("%s: %v %v", ts, got, ok)
		}
		if n := testing.AllocsPerRun(100, func() { v.Time() }); n != 0 {
			t.Errorf("%s: %.0f allocations", ts, n)
		}
	}
}

// Compact must agree with encoding/json: true exactly when compacting would change nothing
// (alerts then copy the event as it is).
func TestCompactAgreesWithEncodingJSON(t *testing.T) {
	s := NewSchema()
	s.Add("a")
	s.Add("n.x")
	var ev Event
	for _, raw := range []string{
		`{"a":1}`, `{"a":"x y","b":[1,2,{"c":" "}],"n":{"x":"\" \\"}}`, `{"a": 1}`, ` {"a":1}`, "{\"a\":1}\n",
		`{"a":[1, 2]}`, `{"b":{"c" :1}}`, `{"n":{"x":1 }}`, "{\"a\":\"\tq\"}", "{\"a\":\"0123456789\x01\"}", "{\"zz\":\"\x1f\"}", `{}`, `{ }`,
		`{"a":1, "n":{"x":2}}`, `{"a":1 ,"b":2}`, `{"n":{"x":2,"y" :3}}`, `{"n":{"x":2,` + "\n" + `"y":3}}`,
	} {
		if err := s.Decode([]byte(raw), &ev, Limits{}); err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		var buf bytes.Buffer
		err := json.Compact(&buf, []byte(raw)) // fails on raw control characters
		if want := err == nil && buf.String() == raw; ev.Compact() != want {
			t.Errorf("%q: Compact() = %v, want %v", raw, ev.Compact(), want)
		}
	}
}

// TestDecodeKeyNamesOverflow: events with ever new unreferenced keys fill the remembered names;
// when full they are forgotten, and the referenced field is still found every time.
func TestDecodeKeyNamesOverflow(t *testing.T) {
	s := NewSchema()
	a := s.Add("A")
	var ev Event
	long := strings.Repeat("k", 300)
	for i := range 200 {
		raw := fmt.Sprintf(`{"%s%d":1,"A":"%d","%s%d":2}`, long, i, i, long, i+1000)
		if err := s.Decode([]byte(raw), &ev, Limits{}); err != nil {
			t.Fatal(err)
		}
		if got := string(ev.First(a).Raw); got != fmt.Sprint(i) {
			t.Fatalf("event %d: A = %q", i, got)
		}
		if len(ev.keyNames) > maxKeyNames {
			t.Fatalf("%d bytes of key names kept, bound %d", len(ev.keyNames), maxKeyNames)
		}
	}
}

// TestDecodeManyLayouts: events of more kinds than an Event remembers layouts, with keys in
// different orders, referenced and not, decoded in random order: every field must come out as a
// fresh Event (nothing remembered) reads it.
func TestDecodeManyLayouts(t *testing.T) {
	s := NewSchema()
	names := []string{"A", "B", "C", "D", "E"}
	fields := make([]int, len(names))
	for i, n := range names {
		fields[i] = s.Add(n)
	}
	r := rand.New(rand.NewSource(7))
	keys := []string{"A", "B", "C", "D", "E", "u1", "u2", "u3", "u4", "u5", "u6"}
	var kinds [][]string
	for range 3 * maxLayouts {
		perm := r.Perm(len(keys))[:3+r.Intn(len(keys)-3)]
		var kind []string
		for _, i := range perm {
			kind = append(kind, keys[i])
		}
		kinds = append(kinds, kind)
	}
	var cached Event
	for i := range 3000 {
		kind := kinds[r.Intn(len(kinds))]
		var b strings.Builder
		b.WriteString("{")
		for j, k := range kind {
			if j > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "%q:\"%s%d\"", k, k, i)
		}
		b.WriteString("}")
		raw := []byte(b.String())
		var fresh Event
		if err := s.Decode(raw, &fresh, Limits{}); err != nil {
			t.Fatal(err)
		}
		if err := s.Decode(raw, &cached, Limits{}); err != nil {
			t.Fatal(err)
		}
		for fi, f := range fields {
			if got, want := string(cached.First(f).Raw), string(fresh.First(f).Raw); got != want {
				t.Fatalf("event %d %s: %s = %q, want %q", i, raw, names[fi], got, want)
			}
		}
	}
}

// TestUnescapeAtEveryOffset: unescaping copies ordinary bytes a word at a time, so each escape
// is tried at every offset of a word and at the end, and with a destination with no room to
// spare, against encoding/json.
func TestUnescapeAtEveryOffset(t *testing.T) {
	for _, esc := range []string{`\\`, `\"`, `\/`, `\n`, `\u00e9`, `\ud83d\ude00`, `\u0041`} {
		for at := 0; at <= 19; at++ {
			body := strings.Repeat("x", at) + esc + strings.Repeat("y", 19-at) + esc
			var want string
			if err := json.Unmarshal([]byte(`"`+body+`"`), &want); err != nil {
				t.Fatal(err)
			}
			for _, room := range []int{0, 64} {
				got, err := unescape(make([]byte, 0, room), []byte(body))
				if err != nil || string(got) != want {
					t.Fatalf("unescape(%q) with %d bytes of room = %q, %v; want %q", body, room, got, err, want)
				}
			}
		}
	}
}

// TestDecodeLayoutsSettle: a stream mixing as many kinds of events as there are layouts, kinds
// that share their first keys and part at different places (the first key, the middle, the
// end, one kind the beginning of another), settles on a layout for each kind: once each kind has
// been seen, decoding more of them, in any order, changes no layout.
func TestDecodeLayoutsSettle(t *testing.T) {
	kinds := [][]string{
		{"A", "B", "C", "D", "E", "F"},
		{"A", "B", "C", "X", "E", "F"},
		{"A", "B", "Y", "D", "E", "F"},
		{"Z", "A", "B", "C"},
		{"A", "B", "C", "D", "E", "F", "G"},
		{"A", "B", "C", "D"},
		{"A", "Q", "C", "D", "E", "F"},
		{"A", "B", "C", "X", "E", "W"},
	}
	for i := len(kinds); i < maxLayouts; i++ { // as many kinds as layouts
		if i%2 == 0 {
			kinds = append(kinds, []string{"A", "B", fmt.Sprintf("K%02d", i), "E", "F"})
		} else {
			kinds = append(kinds, []string{fmt.Sprintf("P%02d", i), "C", "E"})
		}
	}
	s := NewSchema()
	fields := map[string]int{}
	for _, k := range []string{"A", "C", "E", "X"} {
		fields[k] = s.Add(k)
	}
	events := make([][]byte, len(kinds))
	for i, keys := range kinds {
		var b strings.Builder
		b.WriteString("{")
		for j, k := range keys {
			if j > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `"%s":"%s%d"`, k, strings.ToLower(k), i)
		}
		b.WriteString("}")
		events[i] = []byte(b.String())
	}
	var ev Event
	decode := func(i int) {
		t.Helper()
		if err := s.Decode(events[i], &ev, Limits{}); err != nil {
			t.Fatal(err)
		}
		for k, f := range fields {
			want := ""
			if slices.Contains(kinds[i], k) {
				want = fmt.Sprintf("%s%d", strings.ToLower(k), i)
			}
			if got := string(ev.First(f).Raw); got != want {
				t.Fatalf("kind %d: %s = %q, want %q", i, k, got, want)
			}
		}
	}
	names := func() (out []string) {
		for _, l := range ev.layouts {
			var keys []string
			for _, c := range l {
				if c.child != nil {
					keys = append(keys, c.key)
				} else {
					keys = append(keys, string(ev.keyNames[c.off:c.off+c.n]))
				}
			}
			out = append(out, strings.Join(keys, ","))
		}
		slices.Sort(out)
		return out
	}
	for range 3 {
		for i := range kinds {
			decode(i)
		}
	}
	settled := names()
	r := rand.New(rand.NewSource(6))
	for range 20 * len(kinds) {
		decode(r.Intn(len(kinds)))
		if got := names(); !slices.Equal(got, settled) {
			t.Fatalf("layouts changed:\n%q\nwere\n%q", got, settled)
		}
	}
	for _, keys := range kinds { // a kind may share the layout of a longer one it begins
		if !slices.ContainsFunc(settled, func(l string) bool { return strings.HasPrefix(l+",", strings.Join(keys, ",")+",") }) {
			t.Errorf("no layout for %v among %q", keys, settled)
		}
	}
}
