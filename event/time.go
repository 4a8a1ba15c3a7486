package event

import (
	"math"
	"strconv"
	"time"
	"unsafe"
)

// Float parses a number (or a string holding one).
func (v Value) Float() (float64, bool) {
	if v.Kind != Number && v.Kind != String {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(v.Raw), 64)
	return f, err == nil
}

// timeLayouts are the textual timestamp forms seen in log pipelines, tried in order.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",       // RFC 3339 without a zone: UTC
	"2006-01-02 15:04:05.999999999Z07:00", // space instead of T
	"2006-01-02 15:04:05.999999999",       // Sysmon UtcTime
}

// layoutOf picks the one layout of timeLayouts a timestamp can have, from its separator (T or
// space at byte 10) and whether it ends in a zone (Z or ±hh:mm).
func layoutOf(s string) (string, bool) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') {
		return "", false
	}
	last := s[len(s)-1]
	zone := last == 'Z' || last == 'z' || (len(s) >= 25 && (s[len(s)-6] == '+' || s[len(s)-6] == '-') && s[len(s)-3] == ':')
	switch {
	case s[10] == 'T' && zone:
		return timeLayouts[0], true
	case s[10] == 'T':
		return timeLayouts[1], true
	case zone:
		return timeLayouts[2], true
	}
	return timeLayouts[3], true
}

// Time reads an event timestamp: RFC 3339 (and close variants, UTC when no zone is given) or a
// number of seconds or milliseconds since the epoch (told apart by magnitude).
func (v Value) Time() (time.Time, bool) {
	switch v.Kind {
	case String:
		// Every event's time is read (a bad one is reported), so the common forms must not
		// allocate: the layout is picked by shape, and the bytes are viewed as a string
		// without copying (time.Parse keeps nothing from a successful parse).
		if len(v.Raw) == 0 {
			return time.Time{}, false
		}
		s := unsafe.String(&v.Raw[0], len(v.Raw))
		if l, ok := layoutOf(s); ok {
			if t, err := time.Parse(l, s); err == nil {
				return t.UTC(), true
			}
		}
		s = string(v.Raw) // the rare forms below may keep s in an error
		for _, l := range timeLayouts {
			if t, err := time.Parse(l, s); err == nil {
				return t.UTC(), true
			}
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return epoch(f)
		}
	case Number:
		if n, err := strconv.ParseInt(string(v.Raw), 10, 64); err == nil {
			if n >= 1e11 {
				return time.UnixMilli(n).UTC(), true
			}
			return time.Unix(n, 0).UTC(), true
		}
		if f, ok := v.Float(); ok {
			return epoch(f)
		}
	}
	return time.Time{}, false
}

// epoch converts seconds or milliseconds since 1970; values beyond year ~5138 in seconds are
// taken as milliseconds.
func epoch(f float64) (time.Time, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return time.Time{}, false
	}
	if f >= 1e11 {
		f /= 1000
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
}
