package alert

import (
	"net/netip"
	"sort"
	"strings"

	"github.com/vigil-detect/vigil/event"
)

// EntityFields names the event fields each entity type is read from, in the flat Windows shape,
// ECS and common syslog/proxy shapes.
type EntityFields struct {
	User []string `yaml:"user"`
	Host []string `yaml:"host"`
	IP   []string `yaml:"ip"`
}

// DefaultEntityFields covers Sysmon, Windows Security, ECS and common web and firewall logs.
func DefaultEntityFields() EntityFields {
	return EntityFields{
		User: []string{"User", "TargetUserName", "SubjectUserName", "AccountName", "UserName", "SourceUser",
			"user.name", "user", "username", "src_user", "userIdentity.userName"},
		Host: []string{"Computer", "ComputerName", "Hostname", "hostname", "host.name", "host.hostname",
			"DeviceName", "WorkstationName", "dvc_host"},
		IP: []string{"IpAddress", "SourceIp", "DestinationIp", "SourceAddress", "DestAddress", "ClientIP",
			"ClientAddress", "src_ip", "dst_ip", "source.ip", "destination.ip", "client.ip", "c-ip", "sourceIPAddress"},
	}
}

// Extractor reads entities from decoded events.
type Extractor struct {
	user, host, ip []int
}

// NewExtractor registers the entity fields in schema.
func NewExtractor(s *event.Schema, f EntityFields) *Extractor {
	add := func(names []string) []int {
		out := make([]int, len(names))
		for i, n := range names {
			out[i] = s.Add(n)
		}
		return out
	}
	return &Extractor{user: add(f.User), host: add(f.Host), ip: add(f.IP)}
}

// Extract returns the entities present in ev. Placeholders such as "-" and non-addresses in IP
// fields are skipped; every list is sorted and unique (never nil, so JSON shows []).
func (x *Extractor) Extract(ev *event.Event) Entities {
	e := Entities{User: collect(ev, x.user, nil), Host: collect(ev, x.host, nil), IP: collect(ev, x.ip, validIP)}
	return e
}

func validIP(s string) (string, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return "", false
	}
	return a.Unmap().String(), true
}

func collect(ev *event.Event, fields []int, norm func(string) (string, bool)) []string {
	out := []string{}
	for _, f := range fields {
		for _, v := range ev.Values(f) {
			if v.Kind != event.String && v.Kind != event.Number {
				continue
			}
			s := strings.TrimSpace(string(v.Raw))
			if s == "" || s == "-" {
				continue
			}
			if norm != nil {
				var ok bool
				if s, ok = norm(s); !ok {
					continue
				}
			}
			out = append(out, s)
		}
	}
	if len(out) > 1 {
		sort.Strings(out)
		out = compact(out)
	}
	return out
}

func compact(s []string) []string {
	j := 0
	for i := range s {
		if i == 0 || s[i] != s[j-1] {
			s[j] = s[i]
			j++
		}
	}
	return s[:j]
}
