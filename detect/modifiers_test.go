package detect

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/vigil-detect/vigil/rules"
)

// Unit tests per value modifier, built from the modifiers appendix of the Sigma specification
// (v2.1.0) and, where it is silent, from pySigma's behaviour. Each case quotes or paraphrases the
// sentence it checks.

// sel builds a one-selection detection from a YAML map body (indented under `sel:`).
func sel(body string) string {
	lines := strings.Split(strings.TrimSpace(body), "\n")
	for i, l := range lines {
		lines[i] = "    " + l
	}
	return "  sel:\n" + strings.Join(lines, "\n") + "\n  condition: sel"
}

func TestGenericModifiers(t *testing.T) {
	runCases(t, []matchCase{
		// "all: Normally, lists of values are linked with OR ... This modifier changes this to AND."
		{"all links a list with AND", sel("CommandLine|contains|all: [' -a ', ' -b ']"),
			[]string{`{"CommandLine":"x -b  -a y"}`}, []string{`{"CommandLine":"x -a y"}`, `{}`}},
		{"all over a list-valued event field", sel("Tags|all: [red, blue]"),
			[]string{`{"Tags":["blue","green","red"]}`}, []string{`{"Tags":["red"]}`}},
		// "startswith: The value is expected at the beginning of the field's content."
		{"startswith", sel("Image|startswith: 'C:\\Windows\\'"),
			[]string{`{"Image":"c:\\windows\\cmd.exe"}`}, []string{`{"Image":"D:\\c:\\windows\\cmd.exe"}`}},
		// "endswith: The value is expected at the end of the field's content."
		{"endswith", sel("Image|endswith: '\\cmd.exe'"),
			[]string{`{"Image":"C:\\Windows\\CMD.EXE"}`}, []string{`{"Image":"C:\\Windows\\cmd.exe.bak"}`}},
		// "contains: Puts * wildcards around the values."
		{"contains", sel("CommandLine|contains: 'sekurlsa'"),
			[]string{`{"CommandLine":"mimikatz SEKURLSA::logonpasswords"}`, `{"CommandLine":"sekurlsa"}`}, []string{`{"CommandLine":"sekur lsa"}`}},
		{"contains an empty string matches any present value", sel("F|contains: ''"),
			[]string{`{"F":""}`, `{"F":"x"}`}, []string{`{}`, `{"F":null}`}},
		// "exists: ... has to exist or must not exist ... only verifies the presence of a field,
		// not its value, be it empty or null."
		{"exists true", sel("F|exists: true"),
			[]string{`{"F":"x"}`, `{"F":""}`, `{"F":null}`, `{"F":[]}`, `{"F":{"a":1}}`}, []string{`{}`, `{"G":"x"}`}},
		{"exists false", sel("F|exists: false"),
			[]string{`{}`, `{"G":"x"}`}, []string{`{"F":""}`, `{"F":null}`}},
		{"exists on a nested field", sel("a.b|exists: true"),
			[]string{`{"a":{"b":1}}`, `{"a.b":1}`}, []string{`{"a":{"c":1}}`, `{"a":"b"}`}},
		// "cased: Values are applied case sensitively."
		{"cased equality", sel("F|cased: CamelCase"),
			[]string{`{"F":"CamelCase"}`}, []string{`{"F":"camelcase"}`}},
		{"cased contains", sel("F|contains|cased: 'Invoke-'"),
			[]string{`{"F":"x Invoke-Foo"}`}, []string{`{"F":"x invoke-Foo"}`}},
		{"cased wildcard", sel("F|cased: 'A*z'"),
			[]string{`{"F":"AbCz"}`}, []string{`{"F":"abCz"}`, `{"F":"AbCZ"}`}},
		// "neq: The field is different from the specified values."
		{"neq one value", sel("User|neq: SYSTEM"),
			[]string{`{"User":"alice"}`}, []string{`{"User":"system"}`, `{}`, `{"User":null}`}},
		{"neq a list: different from every value", sel("User|neq: [SYSTEM, LOCAL SERVICE]"),
			[]string{`{"User":"alice"}`}, []string{`{"User":"local service"}`, `{"User":"SYSTEM"}`}},
		{"neq a number", sel("EventID|neq: 4624"),
			[]string{`{"EventID":4625}`, `{"EventID":"4625"}`}, []string{`{"EventID":4624}`, `{"EventID":"4624"}`, `{}`}},
		{"neq with contains", sel("CommandLine|contains|neq: ' -enc '"),
			[]string{`{"CommandLine":"powershell -nop"}`}, []string{`{"CommandLine":"powershell -enc x"}`}},
		{"neq with all: not every value", sel("C|contains|all|neq: [a, b]"),
			[]string{`{"C":"a"}`, `{"C":"x"}`}, []string{`{"C":"ab"}`, `{}`}},
		{"neq over a list-valued field: no element equal", sel("Tags|neq: admin"),
			[]string{`{"Tags":["user","guest"]}`}, []string{`{"Tags":["user","admin"]}`}},
		{"neq null: present and not null", sel("F|neq: null"),
			[]string{`{"F":"x"}`, `{"F":""}`}, []string{`{}`, `{"F":null}`}},
		{"neq with cidr", sel("IP|cidr|neq: 10.0.0.0/8"),
			[]string{`{"IP":"192.168.1.1"}`}, []string{`{"IP":"10.1.2.3"}`, `{}`}},
	})
}

func TestStringModifiers(t *testing.T) {
	runCases(t, []matchCase{
		// "windash: Creates all possible permutations of the -, /, – (en dash), — (em dash), and
		// ― (horizontal bar) characters."
		{"windash: every dash form", sel("CommandLine|windash|contains: ' -enc '"),
			[]string{`{"CommandLine":"powershell -enc x"}`, `{"CommandLine":"powershell /enc x"}`,
				`{"CommandLine":"powershell –enc x"}`, `{"CommandLine":"powershell —enc x"}`, `{"CommandLine":"powershell ―enc x"}`},
			[]string{`{"CommandLine":"powershell _enc x"}`, `{"CommandLine":"powershell enc x"}`}},
		{"windash: a slash in the rule expands too", sel("CommandLine|contains|windash: ' /c '"),
			[]string{`{"CommandLine":"cmd -c x"}`, `{"CommandLine":"cmd /c x"}`, `{"CommandLine":"cmd —c x"}`}, nil},
		{"windash: an en dash in the rule expands too", sel("CommandLine|contains|windash: ' –c '"),
			[]string{`{"CommandLine":"cmd -c x"}`, `{"CommandLine":"cmd /c x"}`}, nil},
		{"windash: contains after or before gives the same", sel("CommandLine|contains|windash: '-y'"),
			[]string{`{"CommandLine":"a /y"}`}, []string{`{"CommandLine":"a y"}`}},
		{"windash: all permutations of two dashes", sel("CommandLine|windash|contains: '-a -b'"),
			[]string{`{"CommandLine":"x /a —b"}`, `{"CommandLine":"x ―a -b"}`, `{"CommandLine":"x -a /b"}`}, []string{`{"CommandLine":"x -a b"}`}},
		// pySigma expands a dash only where it starts an option: \B[-/]\b.
		{"windash: a dash inside a word stays", sel("CommandLine|windash|contains: '-param-name'"),
			[]string{`{"CommandLine":"x /param-name"}`, `{"CommandLine":"x -param-name"}`}, []string{`{"CommandLine":"x -param/name"}`}},
		{"windash: a dash before a non-word character stays", sel("CommandLine|windash|contains: 'a - b'"),
			[]string{`{"CommandLine":"a - b"}`}, []string{`{"CommandLine":"a / b"}`}},
		{"windash: Unicode letters are word characters", sel("CommandLine|windash|contains: ' -é'"),
			[]string{`{"CommandLine":"x /é"}`}, nil},
		{"windash: many dashes use a dash class", sel("CommandLine|windash|contains: '-a -b -c -d -e -f'"),
			[]string{`{"CommandLine":"x /a -b –c —d ―e /f y"}`}, []string{`{"CommandLine":"x /a -b –c —d ―e f"}`}},
		{"windash: all with windash", sel("CommandLine|contains|all|windash: [' -a', ' -b']"),
			[]string{`{"CommandLine":"x /b /a"}`}, []string{`{"CommandLine":"x /b"}`}},
		// "re: ... matched case-sensitive by default"; sub-modifiers i, m, s.
		{"re is case-sensitive and unanchored", sel("F|re: 'ab+c'"),
			[]string{`{"F":"xxabbcxx"}`}, []string{`{"F":"ABBC"}`}},
		{"re|i", sel("F|re|i: '^ab+c$'"),
			[]string{`{"F":"ABbC"}`}, []string{`{"F":"ABbCx"}`}},
		{"re|m: ^ and $ at line ends", sel("F|re|m: '^two$'"),
			[]string{`{"F":"one\ntwo\nthree"}`}, []string{`{"F":"one two"}`}},
		{"re without m: ^ is the start of the value", sel("F|re: '^two$'"),
			nil, []string{`{"F":"one\ntwo\nthree"}`}},
		{"re|s: dot matches newline", sel("F|re|s: 'a.b'"),
			[]string{`{"F":"a\nb"}`}, nil},
		{"re without s: dot does not match newline", sel("F|re: 'a.b'"),
			nil, []string{`{"F":"a\nb"}`}},
		{"re pySigma flag names", sel("F|re|ignorecase|dotall: 'a.B'"),
			[]string{`{"F":"A\nb"}`}, nil},
		{"re|contains is the same search", sel("F|re|contains: 'b+'"),
			[]string{`{"F":"abbb"}`}, []string{`{"F":"a"}`}},
		{"re on a number", sel("EventID|re: '^46(24|25)$'"),
			[]string{`{"EventID":4625}`}, []string{`{"EventID":4626}`}},
		{"re with all", sel("F|re|all: ['a', 'b']"),
			[]string{`{"F":"ba"}`}, []string{`{"F":"aa"}`}},
	})
}

func TestEncodingModifiers(t *testing.T) {
	runCases(t, []matchCase{
		// "base64: The value is encoded with Base64."
		{"base64", sel("F|base64: 'foobar'"),
			[]string{`{"F":"Zm9vYmFy"}`}, []string{`{"F":"foobar"}`}},
		{"base64|contains", sel("F|base64|contains: 'foobar'"),
			[]string{`{"F":"xxZm9vYmFyxx"}`}, nil},
		// "base64offset: ... three variants for shifts by zero to two bytes"
		{"base64offset|contains: offset 0", sel("F|base64offset|contains: 'foobar'"),
			[]string{`{"F":"Zm9vYmFy"}`, `{"F":"IGZvb2Jhcg=="}`, `{"F":"ICBmb29iYXI="}`}, []string{`{"F":"Zm9vYmF"}`}},
		// The encoded command of "powershell -enc" payloads is UTF-16LE then base64.
		{"wide|base64offset|contains", sel("F|wide|base64offset|contains: 'IEX'"),
			[]string{`{"F":"` + b64("aaIEXbb", true) + `"}`, `{"F":"` + b64("aIEX", true) + `"}`, `{"F":"` + b64("IEX(", true) + `"}`}, []string{`{"F":"` + b64("IEY", true) + `"}`}},
		{"utf16le|base64offset|contains is wide", sel("F|utf16le|base64offset|contains: 'IEX'"),
			[]string{`{"F":"` + b64("aaIEXbb", true) + `"}`}, nil},
		// "utf16le: ... cmd > 63 00 6d 00 64 00"
		{"utf16le without base64", sel("F|utf16le: 'cmd'"),
			[]string{`{"F":"c\u0000m\u0000d\u0000"}`}, []string{`{"F":"cmd"}`}},
		// "utf16be: ... cmd > 00 63 00 6d 00 64"
		{"utf16be", sel("F|utf16be: 'cmd'"),
			[]string{`{"F":"\u0000c\u0000m\u0000d"}`}, nil},
		// "utf16: Prepends a byte order mark and encodes UTF16, e.g. cmd > FF FE 63 00 6d 00 64 00"
		{"utf16|base64 (with BOM)", sel("F|utf16|base64: 'cmd'"),
			[]string{`{"F":"//5jAG0AZAA="}`}, nil},
		{"utf16be|base64", sel("F|utf16be|base64: 'cmd'"),
			[]string{`{"F":"AGMAbQBk"}`}, nil},
	})
}

func TestNumericAndTimeModifiers(t *testing.T) {
	runCases(t, []matchCase{
		{"gt", sel("N|gt: 10"), []string{`{"N":11}`, `{"N":"11"}`, `{"N":10.5}`}, []string{`{"N":10}`, `{"N":"x"}`, `{}`}},
		{"gte", sel("N|gte: 10"), []string{`{"N":10}`, `{"N":1e3}`}, []string{`{"N":9.99}`}},
		{"lt", sel("N|lt: -1"), []string{`{"N":-2}`}, []string{`{"N":-1}`, `{"N":0}`}},
		{"lte", sel("N|lte: 1.5"), []string{`{"N":1.5}`, `{"N":"1"}`}, []string{`{"N":1.6}`}},
		{"gt large integers compare exactly", sel("N|gt: 9007199254740992"),
			[]string{`{"N":9007199254740993}`}, []string{`{"N":9007199254740992}`}},
		{"lt a hexadecimal rule integer", sel("N|lt: 0x10"), []string{`{"N":15}`}, []string{`{"N":16}`}},
		// Time modifiers: "it extracts a numeric value from a date".
		{"hour", sel("T|hour: 3"), []string{`{"T":"2024-05-06T03:59:00Z"}`}, []string{`{"T":"2024-05-06T04:00:00Z"}`, `{"T":"nope"}`}},
		{"minute", sel("T|minute: 7"), []string{`{"T":"2024-05-06 03:07:00.123"}`}, nil},
		{"day", sel("T|day: 31"), []string{`{"T":"2024-01-31T00:00:00Z"}`}, []string{`{"T":"2024-01-30T23:59:59Z"}`}},
		{"week (ISO)", sel("T|week: 1"), []string{`{"T":"2024-01-01T00:00:00Z"}`}, []string{`{"T":"2024-01-08T00:00:00Z"}`}},
		{"month", sel("T|month: 12"), []string{`{"T":"2023-12-24T00:00:00Z"}`}, nil},
		{"year", sel("T|year: 2024"), []string{`{"T":"2024-02-29T00:00:00+01:00"}`, `{"T":1709164800}`}, []string{`{"T":"2023-12-31T23:00:00Z"}`}},
		{"hour|gte (a Vigil extension)", sel("T|hour|gte: 22"), []string{`{"T":"2024-05-06T23:00:00Z"}`}, []string{`{"T":"2024-05-06T21:59:00Z"}`}},
		{"hour|neq", sel("T|hour|neq: 3"), []string{`{"T":"2024-05-06T04:00:00Z"}`}, []string{`{"T":"2024-05-06T03:00:00Z"}`}},
	})
}

func TestIPModifiers(t *testing.T) {
	runCases(t, []matchCase{
		// "cidr: ... Supports both IPv4 and IPv6 notations."
		{"cidr IPv4", sel("DestinationIp|cidr: 10.0.0.0/8"),
			[]string{`{"DestinationIp":"10.255.0.1"}`}, []string{`{"DestinationIp":"11.0.0.1"}`, `{"DestinationIp":"not an ip"}`, `{"DestinationIp":"fe80::1"}`}},
		{"cidr IPv6", sel("DestinationIp|cidr: 'fe80::/10'"),
			[]string{`{"DestinationIp":"fe80::1"}`, `{"DestinationIp":"FEBF::1"}`}, []string{`{"DestinationIp":"fec0::1"}`, `{"DestinationIp":"10.0.0.1"}`}},
		{"cidr list", sel("IP|cidr: [127.0.0.0/8, '::1/128']"),
			[]string{`{"IP":"127.0.0.2"}`, `{"IP":"::1"}`}, []string{`{"IP":"::2"}`}},
		{"cidr IPv4-mapped IPv6 event value", sel("IP|cidr: 192.168.0.0/16"),
			[]string{`{"IP":"::ffff:192.168.1.1"}`}, nil},
		{"cidr single address", sel("IP|cidr: 192.168.1.1"),
			[]string{`{"IP":"192.168.1.1"}`}, []string{`{"IP":"192.168.1.2"}`}},
	})
}

func TestSpecificModifiers(t *testing.T) {
	placeholders := map[string][]string{
		"Admins":  {"adm_*", "root"},
		"Domain":  {"CORP", "LAB"},
		"Pattern": {"a.c"},
	}
	cases := []matchCase{
		// "expand: Modifier for expansion of placeholders in values."
		{"expand to a value list", sel("User|expand: '%Admins%'"),
			[]string{`{"User":"adm_bob"}`, `{"User":"ROOT"}`}, []string{`{"User":"bob"}`}},
		// A backslash before a placeholder is doubled: `\%` would be a plain percent sign.
		{"expand inside a longer value, every combination", sel(`User|expand: '%Domain%\\%Admins%'`),
			[]string{`{"User":"corp\\adm_x"}`, `{"User":"LAB\\root"}`}, []string{`{"User":"LAB\\bob"}`}},
		{"contains|expand", sel(`CommandLine|contains|expand: '\\%Domain%\'`),
			[]string{`{"CommandLine":"net use \\corp\\x"}`}, nil},
		// "field|expand: \%plain%name% handles %plain as plain value and %name% as placeholder."
		{"expand: an escaped percent is plain", sel(`F|expand: '\%plain%Domain%'`),
			[]string{`{"F":"%plainCORP"}`}, []string{`{"F":"\\%plainCORP"}`}},
		{"without expand a placeholder is literal text", sel("F: '%Domain%'"),
			[]string{`{"F":"%domain%"}`}, []string{`{"F":"CORP"}`}},
		{"expand in a regular expression takes values literally", sel("F|re|expand: '^%Pattern%$'"),
			[]string{`{"F":"a.c"}`}, []string{`{"F":"abc"}`}},
		// "fieldref: Modifies a plain string into a field reference."
		{"fieldref equality, case-insensitive", sel("TargetUserName|fieldref: SubjectUserName"),
			[]string{`{"TargetUserName":"Bob","SubjectUserName":"bob"}`}, []string{`{"TargetUserName":"bob","SubjectUserName":"alice"}`, `{"TargetUserName":"bob"}`}},
		{"fieldref|cased", sel("A|fieldref|cased: B"),
			[]string{`{"A":"Bob","B":"Bob"}`}, []string{`{"A":"Bob","B":"bob"}`}},
		{"fieldref|contains", sel("CommandLine|fieldref|contains: Image"),
			[]string{`{"CommandLine":"\"C:\\x\\a.exe\" -y","Image":"c:\\x\\a.exe"}`}, []string{`{"CommandLine":"b.exe","Image":"a.exe"}`}},
		{"fieldref|startswith", sel("A|fieldref|startswith: B"),
			[]string{`{"A":"abc","B":"ab"}`}, []string{`{"A":"abc","B":"bc"}`}},
		{"fieldref|endswith", sel("A|fieldref|endswith: B"),
			[]string{`{"A":"abc","B":"bc"}`}, []string{`{"A":"abc","B":"ab"}`}},
		{"contains|fieldref in either order", sel("A|contains|fieldref: B"),
			[]string{`{"A":"xaby","B":"ab"}`}, nil},
		{"fieldref list", sel("A|fieldref: [B, C]"),
			[]string{`{"A":"x","C":"x"}`}, []string{`{"A":"x","B":"y","C":"z"}`}},
		// "Can be combined with the neq modifier."
		{"fieldref|neq: both present and different", sel("A|fieldref|neq: B"),
			[]string{`{"A":"x","B":"y"}`}, []string{`{"A":"x","B":"X"}`, `{"A":"x"}`, `{"B":"x"}`}},
		{"fieldref to a nested field", sel("source.ip|fieldref: destination.ip"),
			[]string{`{"source":{"ip":"1.2.3.4"},"destination":{"ip":"1.2.3.4"}}`}, []string{`{"source":{"ip":"1.2.3.4"},"destination":{"ip":"1.2.3.5"}}`}},
		{"fieldref with numbers", sel("A|fieldref: B"),
			[]string{`{"A":5,"B":"5"}`}, []string{`{"A":5,"B":6}`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, noIndex := range []bool{false, true} {
				e := compileOne(t, ruleYAML(c.detection), Options{Reference: noIndex, Placeholders: placeholders})
				for _, ev := range c.yes {
					if !matches(t, e, ev) {
						t.Errorf("should match %s", ev)
					}
				}
				for _, ev := range c.no {
					if matches(t, e, ev) {
						t.Errorf("should not match %s", ev)
					}
				}
			}
		})
	}
}

// An unknown placeholder must not disable the whole rule: only its value matches nothing.
func TestExpandUnknownPlaceholder(t *testing.T) {
	det := "  sel: {Image|endswith: '\\whoami.exe'}\n  filter: {User|expand: '%Admins%'}\n  other: {User|expand: ['%Admins%', alice]}\n  condition: sel and not filter and not other"
	e := compileOne(t, ruleYAML(det), Options{})
	if len(e.Warnings) == 0 || !strings.Contains(e.Warnings[0], "test.yml:6: placeholder %Admins% has no configured values") {
		t.Fatalf("warnings %q", e.Warnings)
	}
	if !matches(t, e, `{"Image":"C:\\whoami.exe","User":"bob"}`) {
		t.Error("the rule should still match")
	}
	if matches(t, e, `{"Image":"C:\\whoami.exe","User":"alice"}`) {
		t.Error("the other value of the list should still apply")
	}
}

func TestModifierErrors(t *testing.T) {
	cases := map[string]string{
		"F|nosuch: x":                           `unknown modifier "nosuch" (known: all,`,
		"F|contains|contains: x":                "given twice",
		"F||contains: x":                        "empty modifier",
		"F|contains|startswith: x":              "cannot be combined",
		"F|contains|re: x":                      `re must come before "contains"`,
		"F|i: x":                                "needs the re modifier",
		"F|re|cased: x":                         "already case-sensitive",
		"F|re|base64: x":                        "cannot be combined with value transformations",
		"F|cidr|windash: 10.0.0.0/8":            "cannot be combined with value transformations",
		"F|cidr: 10.0.0.300/8":                  "not an IPv4 or IPv6 network",
		"F|exists|neq: true":                    "exists takes no other modifier",
		"F|exists: yes please":                  "exists takes true or false",
		"F|gt: abc":                             "is not a number",
		"F|gt|windash: 1":                       "numeric comparisons cannot be combined",
		"F|hour|contains: 3":                    "time modifier",
		"F|hour: noon":                          "is not a number",
		"F|hour|minute: 1":                      "cannot be combined",
		"F|fieldref|windash: G":                 "fieldref cannot be combined with value transformations",
		"F|fieldref: 'G*'":                      "cannot hold wildcards",
		"F|base64: 'a*'":                        "cannot encode a value with wildcards",
		"F|base64offset|cased: a":               "cased cannot be combined with the encoding",
		"F|all: [x]":                            "'all' needs a list of at least two values",
		"F|contains|all: x":                     "'all' needs a list of at least two values",
		"F|contains: null":                      "null takes no modifier but neq",
		"F: [x, null]":                          "null cannot appear in a list",
		"F|re: '(?=x)y'":                        "lookaround",
		"F|re: '(a)\\1'":                        "a backreference",
		"F|re: 'a++'":                           "a possessive quantifier",
		"F|re: '(?>a)'":                         "an atomic group",
		"F|re: 'a\\Z'":                          "PCRE-only escape",
		"F|re: '(unclosed'":                     "missing closing )",
		"'|exists': true":                       "exists needs a field",
		"'|fieldref': G":                        "fieldref needs a field",
		"F|windash|base64: '-a -b -c -d -e -f'": "cannot be encoded afterwards",
	}
	for item, want := range cases {
		t.Run(item, func(t *testing.T) {
			set := &rules.Set{}
			set.Add("bad.yml", []byte(ruleYAML(sel(item))))
			if len(set.Errors) > 0 {
				t.Fatalf("parse: %v", set.Errors)
			}
			e := Compile(set.Rules, Options{NoRouting: true})
			if len(e.Errors) != 1 || !strings.Contains(e.Errors[0].Error(), want) {
				t.Fatalf("errors %v, want %q", e.Errors, want)
			}
			if !strings.HasPrefix(e.Errors[0].Error(), "bad.yml:6: ") {
				t.Errorf("error lacks its file and line: %v", e.Errors[0])
			}
		})
	}
}

// b64 encodes s (as UTF-16LE when wide) in base64.
func b64(s string, wide bool) string {
	b := []byte(s)
	if wide {
		b = utf16Bytes(s, false, false)
	}
	return base64.StdEncoding.EncodeToString(b)
}
