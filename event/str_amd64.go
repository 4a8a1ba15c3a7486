package event

import "golang.org/x/sys/cpu"

// vectorStrings: the CPU can run scanString (AVX-512 BW, BMI1 and BMI2).
var vectorStrings = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasBMI1 && cpu.X86.HasBMI2

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
	buf := d.ev.buf
	if !vectorStrings || len(s) == 0 || cap(buf)-len(buf) < len(s) {
		return nil, false
	}
	out := buf[len(buf) : len(buf)+len(s)]
	if !foldASCII64(&out[0], &s[0], len(s)) {
		return nil, false
	}
	d.ev.buf = buf[:len(buf)+len(s)]
	return out[:len(s):len(s)], true
}
