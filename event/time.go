package event

import (
	"math"
	"strconv"
	"time"
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

// Time reads an event timestamp: RFC 3339 (and close variants, UTC when no zone is given) or a
// number of seconds or milliseconds since the epoch (told apart by magnitude).
func (v Value) Time() (time.Time, bool) {
	switch v.Kind {
	case String:
		s := string(v.Raw)
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
