package detect

import (
	"net/netip"
	"testing"
)

// parseAddr must agree with netip.ParseAddr (zones aside).
func TestParseAddrAgreesWithNetip(t *testing.T) {
	inputs := []string{
		"0.0.0.0", "10.1.2.3", "255.255.255.255", "256.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1..2.3",
		"1.2.3.4 ", " 1.2.3.4", "", ".", "a.b.c.d", "1.2.3.-4", "1.2.3.4.",
		"::", "::1", "1::", "fe80::1", "FE80::ABCD:1", "2001:db8::ff00:42:8329", "2001:0db8:0000:0000:0000:ff00:0042:8329",
		"::ffff:192.168.1.1", "::192.168.1.1", "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9",
		"1:2:3:4:5:6:7::", "::1:2:3:4:5:6:7", "1::2::3", ":1", "1:", "1:::2", "12345::", "g::", "1:2:3:4:5:6:7",
		"1:2:3:4:5:6:7:1.2.3.4", "::1.2.3", "fe80::1%eth0", "fe80::1%", "1:2:3:4:5:6::8", "::ffff:1.2.3.256",
	}
	for _, in := range inputs {
		want, err := netip.ParseAddr(in)
		got, ok := parseAddr([]byte(in))
		if ok != (err == nil) || (ok && got != want.WithZone("")) {
			t.Errorf("%q: got %v %v, netip %v %v", in, got, ok, want, err)
		}
	}
}
