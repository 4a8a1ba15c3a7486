package ingest

import (
	"strconv"
	"strings"
	"time"
)

var facilities = []string{"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
	"authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"}

var severities = []string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

// syslog parses a syslog line as shippers write it:
//
//	RFC 5424: <PRI>VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [MSG]
//	RFC 3164: [<PRI>]TIMESTAMP HOSTNAME TAG[PID]: MSG
//
// RFC 3164 timestamps are "Mmm dd hh:mm:ss" (year from the record time, zone from the input)
// or RFC 3339 (rsyslog's high-precision format). Fields: timestamp (RFC 3339), hostname,
// appname, procid, msgid, facility, severity, priority, message, structured_data (SD-ID →
// PARAM → value). A line with neither a PRI nor a timestamp is not syslog.
func (p *parser) syslog(raw []byte) error {
	s := string(trimEOL(raw))
	hasPRI := false
	if strings.HasPrefix(s, "<") {
		end := strings.IndexByte(s, '>')
		if end < 2 || end > 4 {
			return fail("invalid_syslog", "bad PRI: want <0> to <191>")
		}
		pri, err := strconv.Atoi(s[1:end])
		if err != nil || pri < 0 || pri > 191 {
			return fail("invalid_syslog", "bad PRI %q: want 0 to 191", s[1:end])
		}
		p.add("priority", strconv.Itoa(pri))
		p.add("facility", facilities[pri/8])
		p.add("severity", severities[pri%8])
		s = s[end+1:]
		hasPRI = true
	}
	if v, rest, ok := strings.Cut(s, " "); ok && v != "" && len(v) <= 2 && allDigits(v) {
		if ts, _, _ := strings.Cut(rest, " "); ts == "-" || looksRFC3339(ts) {
			return p.rfc5424(rest)
		}
	}
	return p.rfc3164(s, hasPRI)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func looksRFC3339(s string) bool {
	return len(s) >= 20 && s[4] == '-' && s[7] == '-' && (s[10] == 'T' || s[10] == 't') && allDigits(s[:4])
}

// nextToken splits off the next space-separated token.
func nextToken(s string) (tok, rest string, ok bool) {
	tok, rest, ok = strings.Cut(s, " ")
	return tok, rest, ok || tok != ""
}

func (p *parser) rfc5424(s string) error {
	names := []string{"timestamp", "hostname", "appname", "procid", "msgid"}
	for _, name := range names {
		tok, rest, ok := nextToken(s)
		if !ok || tok == "" {
			return fail("invalid_syslog", "RFC 5424 header ends before %s", name)
		}
		s = rest
		if tok == "-" {
			continue
		}
		if name == "timestamp" {
			t, err := time.Parse(time.RFC3339Nano, tok)
			if err != nil {
				return fail("invalid_syslog", "RFC 5424 timestamp %q: %v", tok, err)
			}
			tok = t.Format(time.RFC3339Nano)
		}
		p.add(name, tok)
	}
	if s == "" {
		return fail("invalid_syslog", "RFC 5424 header ends before structured data")
	}
	if strings.HasPrefix(s, "-") {
		s = s[1:]
	} else {
		var err error
		if s, err = p.structuredData(s); err != nil {
			return err
		}
	}
	if s != "" {
		if s[0] != ' ' {
			return fail("invalid_syslog", "RFC 5424: want a space after the structured data")
		}
		msg := strings.TrimPrefix(s[1:], "\ufeff")
		p.add("message", msg)
	}
	return nil
}

// structuredData parses one or more [SD-ID PARAM="value"...] elements and returns what follows.
func (p *parser) structuredData(s string) (string, error) {
	sd := field{key: "structured_data", obj: true}
	for strings.HasPrefix(s, "[") {
		s = s[1:]
		end := strings.IndexAny(s, " ]")
		if end <= 0 {
			return "", fail("invalid_syslog", "RFC 5424: bad SD-ID")
		}
		elem := field{key: s[:end], obj: true}
		s = s[end:]
		for strings.HasPrefix(s, " ") {
			s = s[1:]
			eq := strings.IndexByte(s, '=')
			if eq <= 0 || len(s) < eq+2 || s[eq+1] != '"' {
				return "", fail("invalid_syslog", "RFC 5424: bad SD-PARAM in %s", elem.key)
			}
			name := s[:eq]
			s = s[eq+2:]
			var val strings.Builder
			closed := false
			for i := 0; i < len(s); i++ {
				c := s[i]
				if c == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\' || s[i+1] == ']') {
					val.WriteByte(s[i+1])
					i++
					continue
				}
				if c == '"' {
					s = s[i+1:]
					closed = true
					break
				}
				val.WriteByte(c)
			}
			if !closed {
				return "", fail("invalid_syslog", "RFC 5424: unterminated value of %s in %s", name, elem.key)
			}
			elem.kids = append(elem.kids, field{key: name, val: val.String()})
		}
		if !strings.HasPrefix(s, "]") {
			return "", fail("invalid_syslog", "RFC 5424: want ] after %s", elem.key)
		}
		s = s[1:]
		sd.kids = append(sd.kids, elem)
	}
	p.fields = append(p.fields, sd)
	return s, nil
}

var months = map[string]time.Month{"Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "May": 5, "Jun": 6,
	"Jul": 7, "Aug": 8, "Sep": 9, "Oct": 10, "Nov": 11, "Dec": 12}

func (p *parser) rfc3164(s string, hasPRI bool) error {
	t, rest, ok := p.bsdTimestamp(s)
	if !ok {
		if !hasPRI {
			return fail("invalid_syslog", "no <PRI> and no timestamp at the start of the line")
		}
		// RFC 3164 4.3.3: a PRI without a valid header; all of it is the message.
		p.add("message", s)
		return nil
	}
	p.add("timestamp", t.Format(time.RFC3339Nano))
	s = strings.TrimLeft(rest, " ")
	// HOSTNAME, unless the next word is already the tag ("sshd[42]:").
	if tok, after, _ := nextToken(s); tok != "" && !strings.HasSuffix(tok, ":") && !strings.Contains(tok, "[") {
		p.add("hostname", tok)
		s = after
	}
	// TAG: up to 32 characters of program name, optionally [PID], then ':'.
	if colon := strings.IndexByte(s, ':'); colon > 0 && colon <= 48 && !strings.ContainsAny(s[:colon], " \t") {
		tag := s[:colon]
		if open := strings.IndexByte(tag, '['); open > 0 && strings.HasSuffix(tag, "]") {
			p.add("appname", tag[:open])
			p.add("procid", tag[open+1:len(tag)-1])
		} else {
			p.add("appname", tag)
		}
		s = strings.TrimPrefix(s[colon+1:], " ")
	}
	p.add("message", s)
	return nil
}

// bsdTimestamp reads "Mmm dd hh:mm:ss" (dd space-padded or not, an optional year after it) or an
// RFC 3339 time at the start of s.
func (p *parser) bsdTimestamp(s string) (time.Time, string, bool) {
	if tok, rest, _ := nextToken(s); looksRFC3339(tok) {
		t, err := time.Parse(time.RFC3339Nano, tok)
		return t, rest, err == nil
	}
	if len(s) < 15 || s[3] != ' ' {
		return time.Time{}, "", false
	}
	mon, ok := months[s[:3]]
	if !ok {
		return time.Time{}, "", false
	}
	rest := strings.TrimLeft(s[4:], " ")
	dayStr, rest, _ := nextToken(rest)
	day, err := strconv.Atoi(dayStr)
	if err != nil || day < 1 || day > 31 {
		return time.Time{}, "", false
	}
	year, inferred := 0, true
	if y, after, _ := nextToken(rest); len(y) == 4 && allDigits(y) {
		inferred = false
		year, _ = strconv.Atoi(y)
		rest = after
	}
	clock, rest, _ := nextToken(rest)
	if len(clock) < 8 || clock[2] != ':' || clock[5] != ':' {
		return time.Time{}, "", false
	}
	hh, e1 := strconv.Atoi(clock[0:2])
	mm, e2 := strconv.Atoi(clock[3:5])
	ss, e3 := strconv.Atoi(clock[6:8])
	if e1 != nil || e2 != nil || e3 != nil || hh > 23 || mm > 59 || ss > 60 {
		return time.Time{}, "", false
	}
	nsec := 0
	if len(clock) > 9 && clock[8] == '.' && allDigits(clock[9:]) {
		frac := (clock[9:] + "000000000")[:9]
		nsec, _ = strconv.Atoi(frac)
	}
	ref := p.recTime
	if ref.IsZero() {
		ref = time.Now()
	}
	ref = ref.In(p.loc)
	if year == 0 {
		year = ref.Year()
	}
	t := time.Date(year, mon, day, hh, mm, ss, nsec, p.loc)
	// No year in the line: a December line read in January belongs to last year.
	if inferred && t.After(ref.Add(48*time.Hour)) {
		t = t.AddDate(-1, 0, 0)
	}
	return t, rest, true
}
