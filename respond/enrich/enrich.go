// Package enrich matches alerts against threat-intelligence indicator lists (IP addresses, CIDR
// ranges, domains, file hashes) and an asset inventory (host, user or address → criticality and
// owner), both read from files and reloadable while running.
package enrich

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vigil-detect/vigil/alert"
)

// Indicator types.
const (
	TypeAuto   = "auto"
	TypeIP     = "ip"
	TypeCIDR   = "cidr"
	TypeDomain = "domain"
	TypeHash   = "hash"
)

// Criticalities, from least to most critical.
var Criticalities = []string{"low", "medium", "high", "critical"}

// CriticalityRank orders criticalities (unknown: -1).
func CriticalityRank(c string) int { return slices.Index(Criticalities, strings.ToLower(c)) }

// List names one indicator file.
type List struct {
	Name string // recorded on hits; default: the file's base name without extension
	File string
	Type string // auto (each line's kind is recognised), ip, cidr, domain or hash
}

// Sources are the files enrichment reads.
type Sources struct {
	Lists  []List
	Assets []string // CSV files: kind,value,criticality[,owner]
}

// Asset is one inventory entry.
type Asset struct {
	Kind        string // host, user, ip
	Value       string
	Criticality string
	Owner       string
}

// Data is one immutable load of every file; a reload builds a new one.
type Data struct {
	ips      map[netip.Addr][]string
	prefixes map[int]map[netip.Prefix][]string // by prefix length, so a lookup is one map probe per length
	lengths  []int
	domains  map[string][]string
	hashes   map[string][]string

	hosts      map[string]*Asset // lower-cased full name
	shortHosts map[string]*Asset // lower-cased first label
	users      map[string]*Asset // lower-cased, domain stripped
	assetIPs   map[netip.Addr]*Asset
	assetNets  []assetNet

	Indicators int // loaded indicator values
	Assets     int // loaded assets
}

type assetNet struct {
	p netip.Prefix
	a *Asset
}

// Load reads every file. Errors carry the file and line; nothing is half-loaded.
func Load(src Sources) (*Data, error) {
	d := &Data{
		ips: map[netip.Addr][]string{}, prefixes: map[int]map[netip.Prefix][]string{},
		domains: map[string][]string{}, hashes: map[string][]string{},
		hosts: map[string]*Asset{}, shortHosts: map[string]*Asset{}, users: map[string]*Asset{}, assetIPs: map[netip.Addr]*Asset{},
	}
	var errs []error
	for _, l := range src.Lists {
		if err := d.loadList(l); err != nil {
			errs = append(errs, err)
		}
	}
	for _, f := range src.Assets {
		if err := d.loadAssets(f); err != nil {
			errs = append(errs, err)
		}
	}
	for n := range d.prefixes {
		d.lengths = append(d.lengths, n)
	}
	slices.Sort(d.lengths)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return d, nil
}

// ListName is the name a list's hits carry.
func ListName(l List) string {
	if l.Name != "" {
		return l.Name
	}
	b := filepath.Base(l.File)
	return strings.TrimSuffix(b, filepath.Ext(b))
}

// lines calls f for each non-empty line with comments ('#' to the end of the line) removed.
func lines(path string, f func(line int, text string) error) error {
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	var errs []error
	for sc.Scan() {
		n++
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		text = strings.TrimSpace(strings.TrimPrefix(text, "\ufeff"))
		if text == "" {
			continue
		}
		if err := f(n, text); err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %w", path, n, err))
			if len(errs) >= 10 {
				errs = append(errs, fmt.Errorf("%s: more errors not shown", path))
				break
			}
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%s:%d: %w", path, n+1, err))
	}
	return errors.Join(errs...)
}

func (d *Data) loadList(l List) error {
	name := ListName(l)
	typ := strings.ToLower(l.Type)
	if typ == "" {
		typ = TypeAuto
	}
	return lines(l.File, func(_ int, text string) error {
		value := text
		if i := strings.IndexAny(value, " \t,;"); i >= 0 {
			value = value[:i] // the rest of the line is a description
		}
		kind, norm, err := Classify(value, typ)
		if err != nil {
			return err
		}
		d.Indicators++
		switch kind {
		case TypeIP:
			a := netip.MustParseAddr(norm)
			d.ips[a] = appendName(d.ips[a], name)
		case TypeCIDR:
			p := netip.MustParsePrefix(norm)
			m := d.prefixes[p.Bits()]
			if m == nil {
				m = map[netip.Prefix][]string{}
				d.prefixes[p.Bits()] = m
			}
			m[p] = appendName(m[p], name)
		case TypeDomain:
			d.domains[norm] = appendName(d.domains[norm], name)
		case TypeHash:
			d.hashes[norm] = appendName(d.hashes[norm], name)
		}
		return nil
	})
}

func appendName(names []string, n string) []string {
	if slices.Contains(names, n) {
		return names
	}
	return append(names, n)
}

// Classify recognises an indicator (want: auto or a type) and returns its type and normal form.
func Classify(v, want string) (kind, norm string, err error) {
	if a, err := netip.ParseAddr(v); err == nil && (want == TypeAuto || want == TypeIP || want == TypeCIDR) {
		if want == TypeCIDR {
			return TypeCIDR, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()).String(), nil
		}
		return TypeIP, a.Unmap().String(), nil
	}
	if p, err := netip.ParsePrefix(v); err == nil && (want == TypeAuto || want == TypeCIDR) {
		p = p.Masked()
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return TypeCIDR, p.String(), nil
	}
	lv := strings.ToLower(v)
	if isHash(lv) && (want == TypeAuto || want == TypeHash) {
		return TypeHash, lv, nil
	}
	if isDomain(lv) && (want == TypeAuto || want == TypeDomain) {
		return TypeDomain, strings.TrimSuffix(lv, "."), nil
	}
	if want == TypeAuto {
		return "", "", fmt.Errorf("%q is not an IP address, CIDR range, domain or MD5/SHA-1/SHA-256 hash", v)
	}
	return "", "", fmt.Errorf("%q is not a valid %s", v, want)
}

func isHash(s string) bool {
	if len(s) != 32 && len(s) != 40 && len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// isDomain accepts lower-case host names with at least two labels and a non-numeric last label.
func isDomain(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if len(s) > 253 || !strings.Contains(s, ".") {
		return false
	}
	labels := strings.Split(s, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			if !isDomainChar(l[i]) || l[i] == '.' {
				return false
			}
		}
	}
	last := labels[len(labels)-1]
	for i := 0; i < len(last); i++ {
		if last[i] < '0' || last[i] > '9' {
			return true
		}
	}
	return false
}

func isDomainChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_'
}

func (d *Data) loadAssets(path string) error {
	return lines(path, func(_ int, text string) error {
		parts := strings.Split(text, ",")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		if strings.EqualFold(parts[0], "kind") {
			return nil // header
		}
		if len(parts) < 3 || len(parts) > 4 {
			return fmt.Errorf("want kind,value,criticality[,owner], got %d fields", len(parts))
		}
		a := &Asset{Kind: strings.ToLower(parts[0]), Value: parts[1], Criticality: strings.ToLower(parts[2])}
		if len(parts) == 4 {
			a.Owner = parts[3]
		}
		if a.Value == "" {
			return errors.New("empty value")
		}
		if CriticalityRank(a.Criticality) < 0 {
			return fmt.Errorf("criticality %q: want one of %s", parts[2], strings.Join(Criticalities, ", "))
		}
		d.Assets++
		switch a.Kind {
		case "host":
			h := strings.ToLower(a.Value)
			d.hosts[h] = a
			short, _, _ := strings.Cut(h, ".")
			if _, taken := d.shortHosts[short]; !taken || short == h {
				d.shortHosts[short] = a
			}
		case "user":
			d.users[NormalUser(a.Value)] = a
		case "ip":
			if ip, err := netip.ParseAddr(a.Value); err == nil {
				d.assetIPs[ip.Unmap()] = a
			} else if p, err := netip.ParsePrefix(a.Value); err == nil {
				d.assetNets = append(d.assetNets, assetNet{p.Masked(), a})
			} else {
				return fmt.Errorf("ip asset %q is not an address or CIDR range", a.Value)
			}
		default:
			return fmt.Errorf("kind %q: want host, user or ip", parts[0])
		}
		return nil
	})
}

// NormalUser folds a user name for comparison: lower case, without DOMAIN\ or @domain.
func NormalUser(u string) string {
	u = strings.ToLower(strings.TrimSpace(u))
	if i := strings.LastIndexByte(u, '\\'); i >= 0 {
		u = u[i+1:]
	}
	if i := strings.IndexByte(u, '@'); i > 0 {
		u = u[:i]
	}
	return u
}

// NormalHost folds a host name: lower case, trailing dot removed.
func NormalHost(h string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
}

// Empty reports whether nothing is loaded.
func (d *Data) Empty() bool { return d == nil || d.Indicators == 0 && d.Assets == 0 }

// LookupIP returns the lists an address is on (as an IP or inside a CIDR range).
func (d *Data) LookupIP(a netip.Addr) []string {
	a = a.Unmap()
	out := d.ips[a]
	for _, n := range d.lengths {
		if n > a.BitLen() {
			continue
		}
		p, err := a.Prefix(n)
		if err != nil {
			continue
		}
		if names, ok := d.prefixes[n][p]; ok {
			out = append(slices.Clip(out), names...)
		}
	}
	return out
}

// Asset looks an entity up in the inventory (kind: user, host or ip).
func (d *Data) Asset(kind, value string) *Asset {
	switch kind {
	case "user":
		return d.users[NormalUser(value)]
	case "host":
		// Full names match; a name without a domain matches by first label, on either side.
		h := NormalHost(value)
		if a := d.hosts[h]; a != nil {
			return a
		}
		short, _, dotted := strings.Cut(h, ".")
		if dotted {
			return d.hosts[short]
		}
		return d.shortHosts[short]
	case "ip":
		ip, err := netip.ParseAddr(value)
		if err != nil {
			return nil
		}
		ip = ip.Unmap()
		if a := d.assetIPs[ip]; a != nil {
			return a
		}
		var best *assetNet
		for i := range d.assetNets {
			n := &d.assetNets[i]
			if n.p.Contains(ip) && (best == nil || n.p.Bits() > best.p.Bits()) {
				best = n
			}
		}
		if best != nil {
			return best.a
		}
	}
	return nil
}

// Match finds the indicators and assets an alert touches: its entities, its correlation group
// values and every string in its event.
func (d *Data) Match(a *alert.Alert) ([]alert.IndicatorHit, []alert.AssetHit) {
	if d.Empty() {
		return nil, nil
	}
	m := matcher{d: d, seen: map[string]bool{}}
	for _, ip := range a.Entities.IP {
		m.ip(ip, "entities.ip")
	}
	for k, v := range a.Group {
		m.scan([]byte(k), []byte(v))
	}
	if len(a.Event) > 0 && d.Indicators > 0 {
		m.event(a.Event)
	}
	var assets []alert.AssetHit
	a.Entities.Each(func(kind, value string) {
		if as := d.Asset(kind, value); as != nil {
			assets = append(assets, alert.AssetHit{Kind: kind, Value: value, Criticality: as.Criticality, Owner: as.Owner})
		}
	})
	return m.hits, assets
}

type matcher struct {
	d    *Data
	seen map[string]bool
	hits []alert.IndicatorHit
	buf  []byte
}

func (m *matcher) add(typ, value string, lists []string, field string) {
	for _, l := range lists {
		k := typ + "\x00" + value + "\x00" + l
		if m.seen[k] {
			continue
		}
		m.seen[k] = true
		m.hits = append(m.hits, alert.IndicatorHit{Type: typ, Value: value, List: l, Source: field})
	}
}

func (m *matcher) ip(s, field string) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return
		}
		a = ap.Addr()
	}
	if lists := m.d.LookupIP(a); len(lists) > 0 {
		m.add(TypeIP, a.Unmap().String(), lists, field)
	}
}

// scan looks for indicators inside one string value: addresses, hashes and domains (also inside
// URLs and command lines). It works on bytes and converts only candidates, so that scanning an
// event allocates little.
func (m *matcher) scan(field, s []byte) {
	d := m.d
	if len(d.ips) > 0 || len(d.prefixes) > 0 {
		forTokens(s, func(c byte) bool { return isHex(c) || c == '.' || c == ':' }, func(tok []byte) {
			tok = bytes.Trim(tok, ".:")
			// Only what could be an address (a.b.c.d, a.b.c.d:port, or IPv6) is parsed.
			dots, colons := bytes.Count(tok, []byte{'.'}), bytes.Count(tok, []byte{':'})
			if dots == 3 && colons <= 1 || colons >= 2 {
				m.ip(string(tok), string(field))
			}
		})
	}
	if len(d.hashes) > 0 {
		forTokens(s, isHex, func(tok []byte) {
			if len(tok) == 32 || len(tok) == 40 || len(tok) == 64 {
				low := m.lower(tok)
				if lists := d.hashes[string(low)]; len(lists) > 0 {
					m.add(TypeHash, string(low), lists, string(field))
				}
			}
		})
	}
	if len(d.domains) > 0 {
		forTokens(s, func(c byte) bool { return isDomainChar(c | 0x20) }, func(tok []byte) {
			t := m.lower(bytes.Trim(tok, ".-"))
			// Every suffix at a label boundary: evil.example matches a.b.evil.example.
			for bytes.IndexByte(t, '.') >= 0 {
				if lists := d.domains[string(t)]; len(lists) > 0 {
					m.add(TypeDomain, string(t), lists, string(field))
				}
				t = t[bytes.IndexByte(t, '.')+1:]
			}
		})
	}
}

// lower folds ASCII letters into the matcher's scratch buffer.
func (m *matcher) lower(b []byte) []byte {
	m.buf = m.buf[:0]
	for _, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		m.buf = append(m.buf, c)
	}
	return m.buf
}

func forTokens(s []byte, in func(byte) bool, f func([]byte)) {
	start := -1
	for i := 0; i <= len(s); i++ {
		if i < len(s) && in(s[i]) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			f(s[start:i])
			start = -1
		}
	}
}

// event scans every string value of the event's JSON, naming the key it belongs to. It reads
// the raw text without decoding (escapes stay escaped: a backslash only separates tokens, as it
// would unescaped), which keeps enrichment cheap during an alert storm.
func (m *matcher) event(raw []byte) {
	var key []byte
	for i := 0; i < len(raw); i++ {
		if raw[i] != '"' {
			continue
		}
		j := i + 1
		for j < len(raw) && raw[j] != '"' {
			if raw[j] == '\\' {
				j++
			}
			j++
		}
		if j >= len(raw) {
			return
		}
		s := raw[i+1 : j]
		k := j + 1
		for k < len(raw) && (raw[k] == ' ' || raw[k] == '\t' || raw[k] == '\n' || raw[k] == '\r') {
			k++
		}
		if k < len(raw) && raw[k] == ':' {
			key = s
		} else {
			m.scan(key, s)
		}
		i = j
	}
}
