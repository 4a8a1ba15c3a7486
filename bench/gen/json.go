package gen

import (
	"strconv"
	"time"

	"github.com/vigil-detect/vigil/internal/jsonstr"
)

// This file holds the allocation-free JSON writers every event is built with.
// An event is written as '{' followed by members; appendKey inserts the
// separating comma unless the member is the first one of the object.

const hexUpper = "0123456789ABCDEF"

// Layouts of the two time formats Windows events carry.
const (
	layoutSystemTime = "2006-01-02T15:04:05.0000000Z" // TimeCreated_SystemTime (100 ns ticks)
	layoutUtcTime    = "2006-01-02 15:04:05.000"      // Sysmon UtcTime, CreationUtcTime
)

// appendKey starts the member named key.
func appendKey(dst []byte, key string) []byte {
	if n := len(dst); n > 0 && dst[n-1] != '{' {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, key...)
	return append(dst, '"', ':')
}

// appendQuoted appends s as a JSON string literal.
func appendQuoted[S string | []byte](dst []byte, s S) []byte { return jsonstr.Append(dst, s) }

// appendStr appends the string member key: s.
func appendStr[S string | []byte](dst []byte, key string, s S) []byte {
	return appendQuoted(appendKey(dst, key), s)
}

// appendNum appends the number member key: v (EventID, EventRecordID).
func appendNum(dst []byte, key string, v int64) []byte {
	return strconv.AppendInt(appendKey(dst, key), v, 10)
}

// appendDec appends v as a decimal string ("4711"), the way evtx renders
// numeric EventData values.
func appendDec(dst []byte, key string, v int64) []byte {
	dst = append(appendKey(dst, key), '"')
	dst = strconv.AppendInt(dst, v, 10)
	return append(dst, '"')
}

// appendHex appends v in Windows' own hex form ("0x3e7").
func appendHex(dst []byte, key string, v uint64) []byte {
	dst = append(appendKey(dst, key), '"', '0', 'x')
	dst = strconv.AppendUint(dst, v, 16)
	return append(dst, '"')
}

// appendTime appends t as TimeCreated_SystemTime: RFC 3339, UTC, 7 fractional digits.
func appendTime(dst []byte, key string, t time.Time) []byte {
	dst = append(appendKey(dst, key), '"')
	dst = t.AppendFormat(dst, layoutSystemTime)
	return append(dst, '"')
}

// appendUTC appends t in Sysmon's UtcTime form ("2026-01-01 00:00:03.127").
func appendUTC(dst []byte, key string, t time.Time) []byte {
	dst = append(appendKey(dst, key), '"')
	dst = t.AppendFormat(dst, layoutUtcTime)
	return append(dst, '"')
}

// guid is a GUID in its textual form: upper case, no braces, as evtx renders it.
type guid [36]byte

// makeGUID builds a GUID from its five groups (8-4-4-4-12 hex digits).
func makeGUID(a uint32, b, c, d uint16, e uint64) guid {
	var g guid
	putHex(g[0:8], uint64(a))
	g[8] = '-'
	putHex(g[9:13], uint64(b))
	g[13] = '-'
	putHex(g[14:18], uint64(c))
	g[18] = '-'
	putHex(g[19:23], uint64(d))
	g[23] = '-'
	putHex(g[24:36], e)
	return g
}

// putHex writes the low 4*len(b) bits of v into b as upper-case hex.
func putHex(b []byte, v uint64) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = hexUpper[v&0xf]
		v >>= 4
	}
}

// String returns the GUID text; it is meant for tests and set-up, not the hot path.
func (g guid) String() string { return string(g[:]) }

// appendGUID appends the string member key: g.
func appendGUID(dst []byte, key string, g *guid) []byte {
	dst = append(appendKey(dst, key), '"')
	dst = append(dst, g[:]...)
	return append(dst, '"')
}

// logonGUID builds a Sysmon LogonGuid: the machine part, the logon time split
// in its low and high 16 bits, then the eight bytes of the LogonId in
// little-endian order (LogonId 0x529ae3 ends in "E39A-520000000000").
func logonGUID(machine uint32, unix int64, logonID uint64) guid {
	var le [8]byte
	for i := range le {
		le[i] = byte(logonID >> (8 * i))
	}
	d := uint16(le[0])<<8 | uint16(le[1])
	var e uint64
	for _, b := range le[2:] {
		e = e<<8 | uint64(b)
	}
	return makeGUID(machine, uint16(unix), uint16(unix>>16), d, e)
}

// processGUID builds a Sysmon ProcessGuid: the machine part, the process
// start time split in its low and high 16 bits, a per-host process counter in
// little-endian byte order and a per-boot constant tail.
func processGUID(machine uint32, unix int64, seq uint16, tail uint64) guid {
	return makeGUID(machine, uint16(unix), uint16(unix>>16), seq<<8|seq>>8, tail)
}
