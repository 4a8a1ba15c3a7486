//go:build !purego

package event

import (
	"strings"
	"testing"

	"github.com/vigil-detect/vigil/internal/memtest"
)

// TestVectorStringsStopAtTextEnd: scanString, asciiRun, foldASCII64 and unescapeFold load
// through masks, so text that ends at an unmapped page is read without a fault, whether the
// string closes there or not.
func TestVectorStringsStopAtTextEnd(t *testing.T) {
	if !vectorStrings {
		t.Skip("this CPU lacks AVX-512 BW or BMI: Decode runs its Go loops only")
	}
	page := memtest.GuardedPage(t)
	for n := 1; n <= 140; n++ {
		text := page[len(page)-n:]
		copy(text, strings.Repeat("Ab\\n", n))
		text[n-1] = '"'
		want := -1 // the last quote is escaped when a backslash precedes it
		if n == 1 || text[n-2] != '\\' {
			want = n - 1
		}
		if end, _, _, _ := scanString(&text[0], n); end != want {
			t.Fatalf("%q: end %d, want %d", text, end, want)
		}
		text[n-1] = 'x' // unterminated
		if end, _, _, _ := scanString(&text[0], n); end != -1 {
			t.Fatalf("%q: end %d, want -1", text, end)
		}
		if got := asciiRun(&text[0], n); got != n {
			t.Fatalf("%q: %d leading ASCII bytes, want %d", text, got, n)
		}
		dst := make([]byte, n)
		if !foldASCII64(&dst[0], &text[0], n) || string(dst) != strings.ToLower(string(text)) {
			t.Fatalf("%q folded to %q", text, dst)
		}
		if !vectorUnescape {
			continue
		}
		content := text[:n-1] // unterminated above: what precedes the x
		if len(content) > 0 && content[len(content)-1] == '\\' {
			content = content[:len(content)-1]
		}
		if len(content) == 0 {
			continue
		}
		unescaped, err := unescape(nil, content)
		if err != nil {
			t.Fatal(err)
		}
		raw, lower := make([]byte, len(content)), make([]byte, len(content))
		w, ok := unescapeFold(&raw[0], &lower[0], &content[0], len(content))
		if !ok || string(raw[:w]) != string(unescaped) || string(lower[:w]) != strings.ToLower(string(unescaped)) {
			t.Fatalf("%q: unescaped %q, folded %q (%v), want %q", content, raw[:w], lower[:w], ok, unescaped)
		}
	}
}
