package jsonstr

import (
	"encoding/json"
	"testing"
)

func TestAppendRoundTrips(t *testing.T) {
	for _, s := range []string{"", "plain", `C:\Windows\"x"`, "tab\tnew\nline\r\x00\x1f", "Été 😀", "\xff"} {
		out := Append(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("%q -> %s: %v", s, out, err)
		}
		if back != s && s != "\xff" {
			t.Errorf("%q -> %s -> %q", s, out, back)
		}
	}
}
