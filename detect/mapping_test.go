package detect

import (
	"slices"
	"strings"
	"testing"

	sigma "github.com/bradleyjkemp/sigma-go"
)

func parseMapping(t *testing.T, src string) *FieldMapping {
	t.Helper()
	m, err := ParseFieldMapping("map.yml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestFieldMappingTransformations(t *testing.T) {
	m := parseMapping(t, `name: test
transformations:
  - id: proc
    type: field_name_mapping
    mapping:
      Image: process.executable
      User: [user.name, winlog.user]
    rule_conditions:
      - {type: logsource, category: process_creation}
      - {type: logsource, category: image_load}
    rule_cond_op: or
  - id: net
    type: field_name_mapping
    mapping: {Image: network.process}
    rule_conditions: [{type: logsource, category: process_creation}]
    rule_cond_not: true
  - type: field_name_prefix_mapping
    mapping: {'Old.': 'new.'}
  - type: field_name_suffix
    suffix: .keyword
    field_name_conditions: [{type: include_fields, fields: [Hashes, Tag]}]
  - type: field_name_prefix
    prefix: data.
    field_name_conditions:
      - {type: processing_item_applied, processing_item_id: proc}
      - {type: include_fields, fields: ['.*\..*'], mode: re}
    field_name_cond_op: or
    field_name_cond_not: true
`)
	proc := sigma.Logsource{Category: "process_creation", Product: "windows"}
	img := sigma.Logsource{Category: "Image_Load"}
	net := sigma.Logsource{Category: "network_connection"}
	cases := []struct {
		ls    sigma.Logsource
		field string
		want  []string
	}{
		{proc, "Image", []string{"process.executable"}},
		{img, "Image", []string{"process.executable"}}, // rule_cond_op: or, case-insensitive
		{net, "Image", []string{"network.process"}},    // rule_cond_not
		{proc, "User", []string{"user.name", "winlog.user"}},
		{proc, "CommandLine", []string{"data.CommandLine"}},
		{proc, "Old.x", []string{"new.x"}},
		{proc, "Hashes", []string{"Hashes.keyword"}}, // the suffix made it dotted: no prefix
		{proc, "already.dotted", []string{"already.dotted"}},
	}
	for _, c := range cases {
		if got := mapField([]*FieldMapping{m}, c.ls, c.field); !slices.Equal(got, c.want) {
			t.Errorf("%v %s: %v, want %v", c.ls, c.field, got, c.want)
		}
	}
	if got := mapField(nil, proc, "Image"); !slices.Equal(got, []string{"Image"}) {
		t.Errorf("no pipeline: %v", got)
	}
}

func TestFieldMappingErrors(t *testing.T) {
	cases := map[string]string{
		"name: x\nnope: 1\n": "map.yml:2: field nope not found",
		"transformations:\n  - type: add_condition\n    conditions: {a: b}\n":                                                                                     `map.yml:2: transformation type "add_condition" is not supported`,
		"transformations:\n  - type: field_name_mapping\n":                                                                                                        "map.yml:2: field_name_mapping needs a mapping",
		"transformations:\n  - type: field_name_prefix\n":                                                                                                         "needs a prefix",
		"transformations:\n  - type: field_name_mapping\n    mapping: {a: b}\n    rule_conditions: [{type: x}]\n":                                                 `rule_conditions: type "x" is not supported`,
		"transformations:\n  - type: field_name_mapping\n    mapping: {a: b}\n    rule_cond_op: xor\n":                                                            "rule_cond_op",
		"transformations:\n  - type: field_name_prefix\n    prefix: p\n    field_name_conditions: [{type: processing_item_applied, processing_item_id: later}]\n": `no earlier transformation has id "later"`,
		"transformations:\n  - type: field_name_prefix\n    prefix: p\n    field_name_conditions: [{type: include_fields, fields: ['('], mode: re}]\n":            "include_fields",
		"transformations:\n  - type: field_name_mapping\n    mapping: {a: b}\n    bogus: 1\n":                                                                     "map.yml:2: transformation field_name_mapping: field bogus not found",
		"postprocessing:\n  - type: template\n":                                                                                                                   "map.yml:2: postprocessing and finalizers",
		"vars:\n  a: {b: c}\n":                                                                                                                                    `map.yml:2: vars "a"`,
	}
	for src, want := range cases {
		_, err := ParseFieldMapping("map.yml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", src, err, want)
		}
	}
	if _, err := LoadFieldMapping("builtin:nope"); err == nil || !strings.Contains(err.Error(), "builtin:ecs-windows") {
		t.Errorf("unknown preset: %v", err)
	}
}

func TestFieldMappingVarsArePlaceholders(t *testing.T) {
	m := parseMapping(t, "vars:\n  Admins: [adm_*]\n  Hosts: dc1\ntransformations:\n  - type: value_placeholders\n")
	e := compileOne(t, ruleYAML("  sel: {User|expand: '%Admins%', Host|expand: '%Hosts%'}\n  condition: sel"),
		Options{FieldMappings: []*FieldMapping{m}, Placeholders: map[string][]string{"Hosts": {"dc2"}}})
	if !matches(t, e, `{"User":"adm_x","Host":"dc2"}`) || matches(t, e, `{"User":"adm_x","Host":"dc1"}`) {
		t.Error("vars give placeholder values; configured placeholders take precedence")
	}
}

// The ECS preset routes and matches Winlogbeat events with the built-in routing table, whose
// conditions it maps too.
func TestECSWindowsPreset(t *testing.T) {
	ecs, err := LoadFieldMapping("builtin:ecs-windows")
	if err != nil {
		t.Fatal(err)
	}
	src := ruleWithLogsource("{category: process_creation, product: windows}",
		"  sel: {Image|endswith: '\\whoami.exe', OriginalFileName: whoami.exe}\n  filter: {IntegrityLevel: Low}\n  condition: sel and not filter") +
		"---\n" + strings.Replace(ruleWithLogsource("{category: registry_set, product: windows}",
		"  sel: {TargetObject|contains: '\\Run\\', Details|contains: 'evil'}\n  condition: sel"), "0001", "0002", 1) +
		"---\n" + strings.Replace(ruleWithLogsource("{product: windows, service: security}",
		"  sel: {EventID: 4625, TargetUserName: Administrator}\n  condition: sel"), "0001", "0003", 1)
	e := compileRouted(t, src, Options{FieldMappings: []*FieldMapping{ecs}})
	if name := e.live.name; name != "winlog.channel" && name != "winlog.event_id" {
		t.Errorf("routes dispatch on %s, not a mapped routing field", name)
	}
	cases := []struct {
		ev   string
		want int
	}{
		{`{"winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":1,"event_data":{"IntegrityLevel":"High"}},"process":{"executable":"C:\\Windows\\System32\\whoami.exe","pe":{"original_file_name":"whoami.exe"}}}`, 1},
		{`{"winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":"1","event_data":{"IntegrityLevel":"Low","OriginalFileName":"whoami.exe"}},"process":{"executable":"C:\\Windows\\System32\\whoami.exe"}}`, 0},
		{`{"winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":"1","event_data":{"Image":"C:\\whoami.exe","OriginalFileName":"whoami.exe"}}}`, 1},
		{`{"winlog":{"channel":"Security","event_id":4688,"event_data":{"NewProcessName":"C:\\whoami.exe"}},"process":{"pe":{"original_file_name":"whoami.exe"}}}`, 1},
		{`{"winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":13,"event_data":{"EventType":"SetValue","Details":"C:\\evil.exe"}},"registry":{"path":"HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\x"}}`, 2},
		{`{"winlog":{"channel":"Security","event_id":4625,"event_data":{"TargetUserName":"administrator"}}}`, 3},
		// The flat shape is not what this pipeline expects.
		{`{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Image":"C:\\whoami.exe","OriginalFileName":"whoami.exe"}`, 0},
	}
	for _, c := range cases {
		got, err := e.NewMatcher().Match([]byte(c.ev))
		if err != nil {
			t.Fatal(err)
		}
		want := []int{}
		if c.want > 0 {
			want = []int{c.want - 1}
		}
		if !slices.Equal(append([]int{}, got...), want) {
			t.Errorf("%s: matched %v, want rule %d", c.ev, got, c.want)
		}
	}
}

func TestBuiltinMappings(t *testing.T) {
	if got := BuiltinMappings(); !slices.Equal(got, []string{"builtin:ecs-windows", "builtin:sigma"}) {
		t.Fatalf("presets %v", got)
	}
	for _, name := range BuiltinMappings() {
		if _, err := LoadFieldMapping(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
