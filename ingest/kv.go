package ingest

import (
	"strings"
)

// logfmt parses key=value pairs separated by spaces. Values may be double-quoted with \" and \\
// escapes; a bare key means "true". At least one key=value pair is required, so free text is
// not mistaken for keys.
func (p *parser) logfmt(raw []byte) error {
	s := string(trimEOL(raw))
	pairs := 0
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			break
		}
		end := strings.IndexAny(s, "= \t\"")
		if end < 0 {
			end = len(s)
		}
		key := s[:end]
		if key == "" {
			return fail("invalid_logfmt", "a value without a key at %q", clip(s))
		}
		s = s[end:]
		if s == "" || s[0] == ' ' || s[0] == '\t' {
			p.add(key, "true")
			continue
		}
		if s[0] == '"' {
			return fail("invalid_logfmt", "quote inside key %q", key)
		}
		s = s[1:] // '='
		var val string
		if strings.HasPrefix(s, `"`) {
			var b strings.Builder
			closed := false
			i := 1
			for ; i < len(s); i++ {
				c := s[i]
				if c == '\\' && i+1 < len(s) {
					switch s[i+1] {
					case '"', '\\':
						b.WriteByte(s[i+1])
					case 'n':
						b.WriteByte('\n')
					case 't':
						b.WriteByte('\t')
					default:
						b.WriteByte(c)
						b.WriteByte(s[i+1])
					}
					i++
					continue
				}
				if c == '"' {
					closed = true
					break
				}
				b.WriteByte(c)
			}
			if !closed {
				return fail("invalid_logfmt", "unterminated quoted value of %s", key)
			}
			val, s = b.String(), s[i+1:]
		} else {
			end := strings.IndexAny(s, " \t")
			if end < 0 {
				end = len(s)
			}
			val, s = s[:end], s[end:]
		}
		p.add(key, val)
		pairs++
	}
	if pairs == 0 {
		return fail("invalid_logfmt", "no key=value pair")
	}
	return nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// cef parses ArcSight Common Event Format, optionally after a syslog header:
//
//	[syslog header ]CEF:Version|Device Vendor|Device Product|Device Version|Signature ID|Name|Severity|Extension
//
// Header fields become cefVersion, deviceVendor, deviceProduct, deviceVersion,
// deviceEventClassId, name and severity (with \| and \\ unescaped); the extension's key=value
// pairs (values may hold spaces; \= \\ \n \r escapes) keep their keys. A syslog header before
// "CEF:" adds its fields (timestamp, hostname, ...; the PRI as syslog_priority, syslog_facility
// and syslog_severity).
func (p *parser) cef(raw []byte) error {
	s := string(trimEOL(raw))
	at := strings.Index(s, "CEF:")
	if at < 0 {
		return fail("invalid_cef", `no "CEF:" in the record`)
	}
	if prefix := strings.TrimSpace(s[:at]); prefix != "" {
		if err := p.syslog([]byte(prefix)); err != nil {
			return fail("invalid_cef", "header before CEF: is not syslog: %v", err)
		}
		// What the syslog parser took for a message is the end of the header (a tag, say); the
		// PRI's parts are renamed so that CEF's own severity keeps its name.
		kept := p.fields[:0]
		for _, f := range p.fields {
			switch f.key {
			case "message":
				continue
			case "priority", "facility", "severity":
				f.key = "syslog_" + f.key
			}
			kept = append(kept, f)
		}
		p.fields = kept
	}
	s = s[at+4:]
	names := []string{"cefVersion", "deviceVendor", "deviceProduct", "deviceVersion", "deviceEventClassId", "name", "severity"}
	for _, name := range names {
		var b strings.Builder
		i := 0
		for ; i < len(s); i++ {
			if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '|' || s[i+1] == '\\') {
				b.WriteByte(s[i+1])
				i++
				continue
			}
			if s[i] == '|' {
				break
			}
			b.WriteByte(s[i])
		}
		if i >= len(s) {
			return fail("invalid_cef", "the header ends before %s: want 7 fields separated by |", name)
		}
		p.add(name, b.String())
		s = s[i+1:]
	}
	return p.cefExtension(s)
}

// cefExtension parses "k1=v1 k2=value with spaces k3=v3". A key is the word right before an
// unescaped '='; a value runs to the space before the next key.
func (p *parser) cefExtension(s string) error {
	type pos struct{ keyStart, eq int }
	var keys []pos
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '=':
			k := i
			for k > 0 && s[k-1] != ' ' {
				k--
			}
			if k == i || !cefKey(s[k:i]) {
				if len(keys) == 0 {
					return fail("invalid_cef", "extension does not start with key=value: %q", clip(s))
				}
				continue // an '=' inside a value
			}
			keys = append(keys, pos{k, i})
		}
	}
	if len(keys) == 0 {
		if strings.TrimSpace(s) != "" {
			return fail("invalid_cef", "extension without key=value pairs: %q", clip(s))
		}
		return nil
	}
	if strings.TrimSpace(s[:keys[0].keyStart]) != "" {
		return fail("invalid_cef", "text before the first extension key: %q", clip(s[:keys[0].keyStart]))
	}
	for i, k := range keys {
		end := len(s)
		if i+1 < len(keys) {
			end = keys[i+1].keyStart
		}
		p.add(s[k.keyStart:k.eq], cefUnescape(strings.TrimRight(s[k.eq+1:end], " ")))
	}
	return nil
}

func cefKey(k string) bool {
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-' || c == '[' || c == ']') {
			return false
		}
	}
	return true
}

func cefUnescape(v string) string {
	if !strings.Contains(v, `\`) {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			switch v[i+1] {
			case '=', '\\':
				b.WriteByte(v[i+1])
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			default:
				b.WriteByte(v[i])
				b.WriteByte(v[i+1])
			}
			i++
			continue
		}
		b.WriteByte(v[i])
	}
	return b.String()
}
