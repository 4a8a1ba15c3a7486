package detect

import "net/netip"

// parseAddr parses an IPv4 or IPv6 address from bytes without allocating (netip.ParseAddr takes
// a string, and converting the event value to one would allocate on every cidr comparison). It
// accepts what netip.ParseAddr accepts; an IPv6 zone (%eth0) is ignored.
func parseAddr(b []byte) (netip.Addr, bool) {
	for _, c := range b {
		if c == ':' {
			return parseIPv6(b)
		}
	}
	v4, ok := parseIPv4(b)
	if !ok {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(v4), true
}

// parseIPv4 parses dotted decimal: four fields of 0-255 without leading zeros.
func parseIPv4(b []byte) ([4]byte, bool) {
	var out [4]byte
	field, val, digits := 0, 0, 0
	for i := 0; i <= len(b); i++ {
		if i == len(b) || b[i] == '.' {
			if digits == 0 || field > 3 {
				return out, false
			}
			out[field] = byte(val)
			field, val, digits = field+1, 0, 0
			continue
		}
		c := b[i]
		if c < '0' || c > '9' || (digits == 1 && val == 0) {
			return out, false // not a digit, or a leading zero
		}
		val = val*10 + int(c-'0')
		digits++
		if val > 255 {
			return out, false
		}
	}
	return out, field == 4
}

// parseIPv6 parses the textual IPv6 forms: eight hexadecimal groups of up to four digits, one
// "::" for a run of zero groups, and an optional embedded IPv4 address at the end.
func parseIPv6(b []byte) (netip.Addr, bool) {
	for i, c := range b {
		if c == '%' {
			if i == len(b)-1 {
				return netip.Addr{}, false // an empty zone
			}
			b = b[:i]
			break
		}
	}
	var ip [16]byte
	ellipsis := -1 // byte position of "::"
	i, n := 0, 0   // input position, output bytes written
	if len(b) >= 2 && b[0] == ':' && b[1] == ':' {
		ellipsis, i = 0, 2
		if i == len(b) {
			return netip.AddrFrom16(ip), true
		}
	}
	for n < 16 {
		// A group, or an embedded IPv4 address in the last 32 bits.
		start, val := i, 0
		for i < len(b) && i-start < 5 {
			c := b[i]
			var d int
			switch {
			case c >= '0' && c <= '9':
				d = int(c - '0')
			case c >= 'a' && c <= 'f':
				d = int(c-'a') + 10
			case c >= 'A' && c <= 'F':
				d = int(c-'A') + 10
			default:
				d = -1
			}
			if d < 0 {
				break
			}
			val = val<<4 | d
			i++
		}
		if i < len(b) && b[i] == '.' {
			if n > 12 || (ellipsis < 0 && n != 12) {
				return netip.Addr{}, false
			}
			v4, ok := parseIPv4(b[start:])
			if !ok {
				return netip.Addr{}, false
			}
			copy(ip[n:], v4[:])
			n, i = n+4, len(b)
			break
		}
		if i-start == 0 || i-start > 4 {
			return netip.Addr{}, false
		}
		ip[n], ip[n+1] = byte(val>>8), byte(val)
		n += 2
		if i == len(b) {
			break
		}
		if b[i] != ':' || i+1 == len(b) {
			return netip.Addr{}, false
		}
		i++
		if b[i] == ':' {
			if ellipsis >= 0 {
				return netip.Addr{}, false // a second "::"
			}
			ellipsis = n
			i++
			if i == len(b) {
				break
			}
		}
	}
	if i != len(b) {
		return netip.Addr{}, false
	}
	if n < 16 {
		if ellipsis < 0 {
			return netip.Addr{}, false
		}
		// Move the groups after "::" to the end; zeros fill the gap.
		gap := 16 - n
		copy(ip[ellipsis+gap:], ip[ellipsis:n])
		for j := ellipsis; j < ellipsis+gap; j++ {
			ip[j] = 0
		}
	} else if ellipsis >= 0 {
		return netip.Addr{}, false // "::" must stand for at least one group
	}
	return netip.AddrFrom16(ip), true
}
