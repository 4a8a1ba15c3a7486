package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestDecodeStringsMatchReference checks the string scan and case folding, both the vector one
// (where the CPU has it) and the Go loops, against byte-wise references over random strings of
// every length up to 40 (so every alignment and tail of the 8-byte words is hit) and, one time in
// three, up to 200 (several 64-byte blocks, escapes straddling them), mixing ASCII of both
// cases, escapes, raw control characters, multi-byte characters whose folding changes length,
// and invalid or unterminated escapes. Raw is compared with encoding/json, Lower with a rune-wise
// fold, errors with the byte-wise scanner Decode used before.
func TestDecodeStringsMatchReference(t *testing.T) {
	pieces := []string{
		"a", "z", "q", "A", "Z", "Q", "@", "[", "`", "{", "0", " ", "~", "\x7f", "\x01", "\t",
		`\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`, `\u00e9`, `\u00C9`, `\u0130`, `\u212A`, `\ud83d\ude00`, `\ud800`,
		"é", "É", "İ", "ı", "K", "ß", "ẞ", "Ⱥ", "ſ", "ǅ", "😀", "中",
	}
	bad := []string{`\x`, `\U`, `\0`, `\'`, `\u12G4`, `\u12`, `\u`, `\`}
	// A third of the long strings have no \u escape, which the vector scan leaves to the Go
	// loop, and a third neither that nor non-ASCII characters, which the vector unescaping
	// leaves to it too.
	var noU, ascii []string
	for _, p := range pieces {
		if !strings.HasPrefix(p, `\u`) {
			noU = append(noU, p)
			if p[0] < utf8.RuneSelf {
				ascii = append(ascii, p)
			}
		}
	}
	gen := func(r *rand.Rand, max int) string {
		n := r.IntN(max + 1)
		from := pieces
		if max > 40 {
			from = [][]string{pieces, noU, ascii}[r.IntN(3)]
		}
		var b strings.Builder
		for b.Len() < n {
			b.WriteString(from[r.IntN(len(from))])
		}
		return b.String()
	}
	s := NewSchema()
	k := s.Add("k")
	s.CollectAll()
	var ev Event
	haveVector := vectorStrings
	defer func() { vectorStrings = haveVector }()
	for _, vector := range []bool{false, true} {
		if vector && !haveVector {
			t.Log("this CPU lacks AVX-512 BW or BMI: the vector string scan is not tested")
			continue
		}
		vectorStrings = vector
		r := rand.New(rand.NewPCG(1, 2))
		for i := 0; i < 20000; i++ {
			max := 40
			if i%3 == 0 {
				max = 200
			}
			key, val := gen(r, 12), gen(r, max)
			prefix := `{"` + key + `":"` + val + `","k":"`
			content := gen(r, max)
			raw := prefix + content + `"}`
			switch r.IntN(6) {
			case 0:
				raw = prefix + content + bad[r.IntN(len(bad))]
			case 1:
				raw = prefix + content + bad[r.IntN(len(bad))] + `"}`
			case 2:
				raw = prefix + content // unterminated
			}
			err := s.Decode([]byte(raw), &ev, Limits{})
			if wantOff, wantMsg, ok := refStr([]byte(raw), len(prefix)-1); !ok {
				var de *Error
				if !errors.As(err, &de) || de.Offset != wantOff || de.Msg != wantMsg {
					t.Fatalf("vector %v, %q: got %v, want %q at byte %d", vector, raw, err, wantMsg, wantOff)
				}
				continue
			}
			if err != nil {
				t.Fatalf("vector %v, %q: %v", vector, raw, err)
			}
			all := ev.All()
			if len(all) != 2 || ev.First(k).Kind != String {
				t.Fatalf("%q: %d values collected, k is %v", raw, len(all), ev.First(k).Kind)
			}
			for j, want := range []string{val, content} {
				checkString(t, raw, want, all[j])
			}
			// Raw control characters (lenient) make the event not compact.
			if compact := !strings.ContainsAny(raw, "\x01\t"); ev.Compact() != compact {
				t.Fatalf("vector %v, %q: compact %v, want %v", vector, raw, ev.Compact(), compact)
			}
		}
	}
}

// checkString compares v with the JSON string content esc decoded by encoding/json and folded
// rune by rune.
func checkString(t *testing.T, raw, esc string, v Value) {
	t.Helper()
	var want string
	quoted := []byte(`"`)
	for _, c := range []byte(esc) { // raw control characters, which Decode accepts, as escapes
		if c < 0x20 {
			quoted = fmt.Appendf(quoted, `\u%04x`, c)
		} else {
			quoted = append(quoted, c)
		}
	}
	if err := json.Unmarshal(append(quoted, '"'), &want); err != nil {
		t.Fatalf("%q: reference rejects %q: %v", raw, esc, err)
	}
	if string(v.Raw) != want {
		t.Fatalf("%q: Raw = %q, want %q", raw, v.Raw, want)
	}
	var lower []byte
	plain := true
	for _, c := range want {
		switch {
		case c >= 'A' && c <= 'Z':
			lower = append(lower, byte(c)+'a'-'A')
			plain = false
		case c < utf8.RuneSelf:
			lower = append(lower, byte(c))
		default:
			lower = utf8.AppendRune(lower, foldRune(c))
			plain = false
		}
	}
	if string(v.Lower) != string(lower) {
		t.Fatalf("%q: Lower = %q, want %q", raw, v.Lower, lower)
	}
	// Nothing to fold: Lower is Raw itself, not a copy.
	if plain && len(want) > 0 && &v.Lower[0] != &v.Raw[0] {
		t.Fatalf("%q: Lower of %q is a copy", raw, want)
	}
}

// refStr is the byte-wise string scanner: for the string whose opening quote is at pos it
// reports where and why scanning fails, or ok.
func refStr(raw []byte, pos int) (offset int, msg string, ok bool) {
	for p := pos + 1; p < len(raw); p++ {
		switch raw[p] {
		case '"':
			return 0, "", true
		case '\\':
			p++
			if p >= len(raw) {
				return len(raw), "unterminated string", false
			}
			switch raw[p] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if p+5 > len(raw) || !isHex4(raw[p+1:p+5]) {
					return p, `invalid \u escape`, false
				}
				p += 4
			default:
				return p, "invalid escape character", false
			}
		}
	}
	return len(raw), "unterminated string", false
}

// TestValidUTF8MatchesStdlib: validUTF8 agrees with utf8.Valid on random texts of ASCII runs of
// every length up to a few 64-byte blocks broken by valid and invalid sequences (truncated,
// overlong, surrogates, stray continuation bytes), fewer and more than the few it steps over.
func TestValidUTF8MatchesStdlib(t *testing.T) {
	pieces := []string{"é", "®", "中", "😀", "\xff", "\xc3", "\xe4\xb8", "\xf0\x9f\x98", "\x80", "\xc0\xaf", "\xed\xa0\x80", "\xef\xbf\xbd"}
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 20000; i++ {
		var b strings.Builder
		for range r.IntN(8) {
			b.WriteString(strings.Repeat("a", r.IntN(150)))
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		b.WriteString(strings.Repeat("z", r.IntN(70)))
		text := []byte(b.String())
		if got, want := validUTF8(text), utf8.Valid(text); got != want {
			t.Fatalf("%q: validUTF8 %v, utf8.Valid %v", text, got, want)
		}
	}
}
