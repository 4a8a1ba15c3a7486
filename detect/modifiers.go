package detect

import (
	"fmt"
	"sort"
	"strings"
)

// modifiers is a parsed `field|mod|mod` chain.
//
// The chain is validated against the modifiers appendix of the Sigma specification (v2.1.0) and,
// where the appendix is silent, against pySigma: `re`, `cidr` and `exists` take the value as
// written (only `re`'s flags, `all` and `neq` may accompany them, and `re` must come first);
// `exists` needs a field; `cased` applies to string comparisons; numeric and time comparisons take
// numbers. Orders that can only mean one thing are accepted either way round
// (`contains|windash` and `windash|contains`, `fieldref|contains` and `contains|fieldref`).
type modifiers struct {
	cmp        string   // "", contains, startswith, endswith, re, cidr, gt, gte, lt, lte, exists
	fieldref   bool     // the value names another field of the event
	transforms []string // in chain order: base64, base64offset, utf16le, utf16be, utf16, wide, windash
	expand     bool     // %placeholder% values are replaced (before any transformation)
	all        bool     // every value must match (else any)
	cased      bool     // compare case-sensitively
	neq        bool     // the field is present and the item does not match
	reFlags    string   // i, m, s
	timePart   string   // minute, hour, day, week, month, year
}

// modifierNames lists every modifier Vigil knows, for error messages.
var modifierNames = []string{
	"all", "base64", "base64offset", "cased", "cidr", "contains", "day", "dotall", "endswith", "exists",
	"expand", "fieldref", "gt", "gte", "hour", "i", "ignorecase", "lt", "lte", "m", "minute", "month",
	"multiline", "neq", "re", "s", "startswith", "utf16", "utf16be", "utf16le", "week", "wide", "windash", "year",
}

func isStringCmp(c string) bool  { return c == "contains" || c == "startswith" || c == "endswith" }
func isNumericCmp(c string) bool { return c == "gt" || c == "gte" || c == "lt" || c == "lte" }

func parseModifiers(mods []string) (modifiers, error) {
	var m modifiers
	seen := map[string]bool{}
	for i, raw := range mods {
		mod := strings.ToLower(raw)
		// pySigma's long names of the regular expression flags.
		switch mod {
		case "ignorecase":
			mod = "i"
		case "multiline":
			mod = "m"
		case "dotall":
			mod = "s"
		}
		if mod == "" {
			return m, fmt.Errorf("empty modifier (a doubled '|'?)")
		}
		if seen[mod] {
			return m, fmt.Errorf("modifier %q given twice", raw)
		}
		seen[mod] = true
		switch mod {
		case "contains", "startswith", "endswith", "cidr", "gt", "gte", "lt", "lte", "exists":
			if m.cmp == "re" && isStringCmp(mod) {
				// pySigma wraps the open ends of the expression in ".*": a regular expression is
				// already searched anywhere in the value, so this changes nothing.
				continue
			}
			if m.cmp != "" {
				return m, fmt.Errorf("modifiers %q and %q cannot be combined", m.cmp, mod)
			}
			m.cmp = mod
		case "re":
			for _, before := range mods[:i] {
				if b := strings.ToLower(before); b != "all" && b != "neq" {
					return m, fmt.Errorf("re must come before %q: a regular expression is matched as written", before)
				}
			}
			m.cmp = mod
		case "fieldref":
			m.fieldref = true
		case "i", "m", "s":
			if m.cmp != "re" {
				return m, fmt.Errorf("regular expression flag %q needs the re modifier before it", raw)
			}
			m.reFlags += mod
		case "all":
			m.all = true
		case "cased":
			m.cased = true
		case "neq":
			m.neq = true
		case "expand":
			m.expand = true
		case "base64", "base64offset", "utf16le", "utf16be", "utf16", "wide", "windash":
			m.transforms = append(m.transforms, mod)
		case "minute", "hour", "day", "week", "month", "year":
			if m.timePart != "" {
				return m, fmt.Errorf("modifiers %q and %q cannot be combined", m.timePart, mod)
			}
			m.timePart = mod
		default:
			return m, fmt.Errorf("unknown modifier %q (known: %s)", raw, strings.Join(modifierNames, ", "))
		}
	}
	return m, m.check()
}

// check rejects combinations without a meaning.
func (m *modifiers) check() error {
	encoders := 0
	for _, t := range m.transforms {
		if t != "windash" {
			encoders++
		}
	}
	switch {
	case m.cmp == "exists" && (len(m.transforms) > 0 || m.fieldref || m.all || m.cased || m.neq || m.expand || m.timePart != ""):
		return fmt.Errorf("exists takes no other modifier: it checks only that the field is present")
	case (m.cmp == "cidr" || m.cmp == "re") && (len(m.transforms) > 0 || m.fieldref || m.timePart != ""):
		return fmt.Errorf("%s cannot be combined with value transformations, fieldref or time modifiers: its value is taken as written", m.cmp)
	case m.cmp == "re" && m.cased:
		return fmt.Errorf("re is already case-sensitive; drop cased (or use re|i for case-insensitive matching)")
	case m.cmp == "cidr" && (m.cased || m.expand):
		return fmt.Errorf("cidr cannot be combined with cased or expand")
	case m.timePart != "" && m.cmp != "" && !isNumericCmp(m.cmp):
		return fmt.Errorf("time modifier %q combines only with gt, gte, lt or lte, not %q", m.timePart, m.cmp)
	case (isNumericCmp(m.cmp) || m.timePart != "") && (len(m.transforms) > 0 || m.fieldref || m.cased || m.expand):
		return fmt.Errorf("numeric comparisons cannot be combined with string modifiers (windash, encodings, fieldref, cased, expand)")
	case m.fieldref && len(m.transforms) > 0:
		return fmt.Errorf("fieldref cannot be combined with value transformations: it compares with another field's value as is")
	case m.fieldref && m.expand:
		return fmt.Errorf("fieldref cannot be combined with expand")
	case encoders > 0 && m.cased:
		// Encoded text is matched as encoded; cased would only add confusion about which side it
		// applies to.
		return fmt.Errorf("cased cannot be combined with the encoding modifiers (base64, base64offset, utf16*, wide)")
	}
	return nil
}

// String renders the chain in a canonical order, for explain.
func (m *modifiers) String() string {
	var parts []string
	if m.fieldref {
		parts = append(parts, "fieldref")
	}
	if m.expand {
		parts = append(parts, "expand")
	}
	parts = append(parts, m.transforms...)
	if m.cmp != "" {
		parts = append(parts, m.cmp)
	}
	if m.reFlags != "" {
		flags := strings.Split(m.reFlags, "")
		sort.Strings(flags)
		parts = append(parts, flags...)
	}
	if m.timePart != "" {
		parts = append(parts, m.timePart)
	}
	for _, f := range []struct {
		on   bool
		name string
	}{{m.cased, "cased"}, {m.all, "all"}, {m.neq, "neq"}} {
		if f.on {
			parts = append(parts, f.name)
		}
	}
	return strings.Join(parts, "|")
}
