package alertfmt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
)

// FuzzAppendCompact checks the compaction alerts apply to events the decoder found spaced: on
// valid JSON it writes what json.Compact writes, and where json.Compact refuses raw control
// characters in strings, valid JSON holding the same values.
func FuzzAppendCompact(f *testing.F) {
	for _, s := range []string{`{}`, `{ "a" : [ 1 , 2 ] }`, "{\"a\":\"x\\\" y\",\n\"b\":{\"c\": null}}", `{"p":"C:\\Windows\\"}`,
		"{\"t\":\"tab\there\"}", `{"u":"é \u2028"}`, ` {"a":1} `, `{"e":"q\\\" r", "f": "\\" }`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got := appendCompact(nil, in)
		var want bytes.Buffer
		if err := json.Compact(&want, in); err == nil {
			if !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("%q: got %q, json.Compact %q", in, got, want.Bytes())
			}
			return
		}
		// Raw control characters in strings: valid once escaped, with the same values.
		var a, b any
		if json.Unmarshal(lenientStrings(in), &a) != nil {
			return // not JSON even with its strings' control characters escaped
		}
		if err := json.Unmarshal(got, &b); err != nil {
			t.Fatalf("%q compacts to invalid JSON %q: %v", in, got, err)
		}
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if !bytes.Equal(ja, jb) {
			t.Fatalf("%q: values changed: %s vs %s", in, ja, jb)
		}
	})
}

// lenientStrings escapes raw control characters inside strings, as appendCompact does, by a
// simpler route: for the fuzz oracle only.
func lenientStrings(in []byte) []byte {
	var out []byte
	inStr, esc := false, false
	for _, c := range in {
		switch {
		case esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case inStr && c < 0x20:
			out = fmt.Appendf(out, `\u%04x`, c)
			continue
		}
		out = append(out, c)
	}
	return out
}
