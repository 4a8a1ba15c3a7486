//go:build !amd64 || purego

package event

import "unicode/utf8"

// vectorStrings is false: there is no vector string scan on this architecture, or the purego
// build tag leaves the assembly out.
var vectorStrings = false

// strVector: no vector string scan on this architecture; str's Go loop does the work.
func (d *decoder) strVector(start int) (s []byte, escaped, ok bool) { return nil, false, false }

// lowerVector: lower's Go loops do the work on this architecture.
func (d *decoder) lowerVector(s []byte) (lower []byte, ok bool) { return nil, false }

// unescapeVector: unescape and lowerString do the work on this architecture.
func (d *decoder) unescapeVector(s []byte) (raw, lower []byte, ok bool) { return nil, nil, false }

// validUTF8 is utf8.Valid.
func validUTF8(b []byte) bool { return utf8.Valid(b) }
