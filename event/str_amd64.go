//go:build !purego

package event

import (
	"unicode/utf8"

	"golang.org/x/sys/cpu"
)

// vectorStrings: the CPU can run scanString and foldASCII64 (AVX-512 BW, BMI1 and BMI2), and
// vectorUnescape unescapeFold (with VBMI's byte permute and VBMI2's byte compress).
var (
	vectorStrings  = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasBMI1 && cpu.X86.HasBMI2
	vectorUnescape = vectorStrings && cpu.X86.HasAVX512VBMI && cpu.X86.HasAVX512VBMI2
)

// scanString finds a string's closing quote 64 bytes at a time (str_amd64.s).
//
//go:noescape
func scanString(p *byte, n int) (end int, escapes, ctrl, fold uint64)

// strVector is str done by scanString; ok is false, with nothing done, where the CPU cannot
// run it or the string needs str's Go loop (\u escapes, errors).
func (d *decoder) strVector(start int) (s []byte, escaped, ok bool) {
	if !vectorStrings || start >= len(d.raw) {
		return nil, false, false
	}
	end, escapes, ctrl, fold := scanString(&d.raw[start], len(d.raw)-start)
	if end < 0 {
		return nil, false, false
	}
	if ctrl != 0 {
		d.ev.loose = true
	}
	d.fold = foldNothing
	if fold != 0 {
		d.fold = foldSome
	}
	d.pos = start + end + 1
	return d.raw[start : start+end], escapes != 0, true
}

// foldASCII64 copies a string lowering its ASCII letters, 64 bytes at a time (str_amd64.s).
//
//go:noescape
func foldASCII64(dst, src *byte, n int) (ok bool)

// lowerVector is lower done by foldASCII64, for a string str found to need folding; ok is false,
// with nothing done, where the CPU cannot run it, the string is not ASCII or the event buffer has
// no room left.
func (d *decoder) lowerVector(s []byte) (lower []byte, ok bool) {
	out := d.ev.spare(len(s))
	if !vectorStrings || out == nil || !foldASCII64(&out[0], &s[0], len(s)) {
		return nil, false
	}
	return d.ev.take(len(s)), true
}

// spare returns the next n bytes of the event buffer's spare capacity, for vector code to write,
// or nil when there are fewer (or n is 0). take then keeps what was written.
func (ev *Event) spare(n int) []byte {
	if n == 0 || cap(ev.buf)-len(ev.buf) < n {
		return nil
	}
	return ev.buf[len(ev.buf) : len(ev.buf)+n]
}

// take extends the event buffer over the next n bytes, written through spare, and returns them.
func (ev *Event) take(n int) []byte {
	start := len(ev.buf)
	ev.buf = ev.buf[:start+n]
	return ev.buf[start : start+n : start+n]
}

// unescapeFold unescapes a string scanString accepted, folding a copy, 64 bytes at a time
// (str_amd64.s).
//
//go:noescape
func unescapeFold(raw, lower, src *byte, n int) (written int, ok bool)

// unescapeVector is unescape, and lowerString after it, done by unescapeFold for the escaped
// string str last read; ok is false, with nothing done, where the CPU cannot run it, the string
// was not scanned by scanString, needs Unicode folding, or the event buffer has no room left.
func (d *decoder) unescapeVector(s []byte) (raw, lower []byte, ok bool) {
	if !vectorUnescape || d.fold == foldUnknown {
		return nil, nil, false
	}
	n := len(s)
	if d.fold == foldNothing {
		out := d.ev.spare(n)
		if out == nil {
			return nil, nil, false
		}
		w, _ := unescapeFold(&out[0], nil, &s[0], n)
		raw := d.ev.take(w)
		return raw, raw, true
	}
	out := d.ev.spare(2 * n) // raw, then lower
	if out == nil {
		return nil, nil, false
	}
	w, ok := unescapeFold(&out[0], &out[n], &s[0], n)
	if !ok {
		return nil, nil, false
	}
	both := d.ev.take(n + w)
	return both[:w:w], both[n:], true
}

// asciiRun counts a text's leading ASCII bytes, 64 at a time (str_amd64.s).
//
//go:noescape
func asciiRun(p *byte, n int) int

// validUTF8 is utf8.Valid, passing over ASCII 64 bytes at a time. Events are ASCII but for a few
// characters (Product's ®), so it steps over the first few non-ASCII characters one by one and
// leaves text with more of them to utf8.Valid.
func validUTF8(b []byte) bool {
	if !vectorStrings {
		return utf8.Valid(b)
	}
	for range 4 {
		if len(b) == 0 {
			return true
		}
		b = b[asciiRun(&b[0], len(b)):]
		if len(b) == 0 {
			return true
		}
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			return false
		}
		b = b[size:]
	}
	return utf8.Valid(b)
}
