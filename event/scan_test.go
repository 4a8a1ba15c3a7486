package event

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestDecodeStringsMatchReference checks the word-at-a-time string scan and case folding against
// byte-wise references over random strings of every length up to 40 (so every alignment and tail
// of the 8-byte words is hit), mixing ASCII of both cases, escapes, multi-byte characters whose
// folding changes length, and invalid or unterminated escapes. Raw is compared with
// encoding/json, Lower with a rune-wise fold, errors with the byte-wise scanner Decode used before.
func TestDecodeStringsMatchReference(t *testing.T) {
	pieces := []string{
		"a", "z", "q", "A", "Z", "Q", "@", "[", "`", "{", "0", " ", "~", "\x7f",
		`\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`, `\u00e9`, `\u00C9`, `\u0130`, `\u212A`, `\ud83d\ude00`, `\ud800`,
		"é", "É", "İ", "ı", "K", "ß", "ẞ", "Ⱥ", "ſ", "ǅ", "😀", "中",
	}
	bad := []string{`\x`, `\U`, `\0`, `\'`, `\u12G4`, `\u12`, `\u`, `\`}
	gen := func(r *rand.Rand, max int) string {
		n := r.IntN(max + 1)
		var b strings.Builder
		for b.Len() < n {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		return b.String()
	}
	s := NewSchema()
	k := s.Add("k")
	s.CollectAll()
	var ev Event
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		key, val := gen(r, 12), gen(r, 40)
		prefix := `{"` + key + `":"` + val + `","k":"`
		content := gen(r, 40)
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
				t.Fatalf("%q: got %v, want %q at byte %d", raw, err, wantMsg, wantOff)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		all := ev.All()
		if len(all) != 2 || ev.First(k).Kind != String {
			t.Fatalf("%q: %d values collected, k is %v", raw, len(all), ev.First(k).Kind)
		}
		for j, want := range []string{val, content} {
			checkString(t, raw, want, all[j])
		}
	}
}

// checkString compares v with the JSON string content esc decoded by encoding/json and folded
// rune by rune.
func checkString(t *testing.T, raw, esc string, v Value) {
	t.Helper()
	var want string
	if err := json.Unmarshal([]byte(`"`+esc+`"`), &want); err != nil {
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
