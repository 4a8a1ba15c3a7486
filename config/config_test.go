package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// allPaths lists every key path of the configuration as the docs write it: lists of mappings as
// "inputs[].topic".
func allPaths(t reflect.Type, prefix string) []string {
	var out []string
	for name, f := range yamlFields(t) {
		path := join(prefix, name)
		ft := f.Type
		if ft.Kind() == reflect.Struct && ft != nodeType {
			out = append(out, allPaths(ft, path)...) // a section: its keys are what is documented
			continue
		}
		out = append(out, path)
		if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
			out = append(out, allPaths(ft.Elem(), path+"[]")...)
		}
	}
	return out
}

// TestDocumentsEveryKey fails when a key of Config is missing from docs/configuration.md, or a
// scalar key's environment variable is.
func TestDocumentsEveryKey(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	paths := allPaths(reflect.TypeOf(Config{}), "")
	if len(paths) < 40 {
		t.Fatalf("only %d paths found: the walk is broken", len(paths))
	}
	for _, p := range paths {
		if !strings.Contains(text, "| `"+p+"` |") && !strings.Contains(text, "\n## `"+p+"`\n") {
			t.Errorf("key %s is not documented in docs/configuration.md (want a table row starting | `%s` |)", p, p)
		}
	}
	for _, k := range Keys() {
		if !strings.Contains(text, "`"+k.Env+"`") {
			t.Errorf("environment variable %s (key %s) is not documented", k.Env, k.Path)
		}
	}
}

func write(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "vigil.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func noEnv(string) (string, bool) { return "", false }

func TestParseErrorsCarryFileAndLine(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string // substrings, each after "file:"
	}{
		{"unknown top-level key", "rules: [a]\nkafak:\n  brokers: [x]\n", []string{":2: unknown key kafak (did you mean kafka?)"}},
		{"unknown nested key", "kafka:\n  sasl:\n    mechanism: plain\n    user: bob\n", []string{":4: unknown key kafka.sasl.user"}},
		{"unknown key in a list entry", "inputs:\n  - topic: a\n    formt: syslog\n", []string{":3: unknown key inputs[0].formt (did you mean format?)"}},
		{"several at once", "nope: 1\nkafka:\n  nope2: 2\n", []string{":1: unknown key nope", ":3: unknown key kafka.nope2"}},
		{"type mismatch", "pipeline:\n  workers: many\n", []string{":2: cannot unmarshal !!str `many` into int"}},
		{"bad duration", "pipeline:\n  commit_interval: soon\n", []string{":2: "}},
		{"syntax error", "kafka: [\n", []string{":"}},
		{"duplicate key", "log:\n  level: info\n  level: debug\n", []string{":3: ", "already defined"}},
		{"section must be a mapping", "kafka: 3\n", []string{":1: kafka: want a mapping"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := write(t, c.yaml)
			_, err := Parse(path, noEnv)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), path+w) && !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), path+":") {
				t.Errorf("error %q does not start with the file", err)
			}
		})
	}
}

func TestOwnedSectionsAreKept(t *testing.T) {
	path := write(t, "correlation:\n  anything: [1, 2]\n  nested: {x: y}\nresponse:\n  playbooks: []\n")
	c, err := Parse(path, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Correlation.Kind == 0 || c.Response.Kind == 0 || c.Entities.Kind != 0 {
		t.Errorf("sections: correlation %v response %v entities %v", c.Correlation.Kind, c.Response.Kind, c.Entities.Kind)
	}
	if c.Correlation.Line != 2 {
		t.Errorf("correlation node line %d, want 2 (positions kept for its package's errors)", c.Correlation.Line)
	}
}

func TestValidateReportsLines(t *testing.T) {
	path := write(t, `kafka:
  start_offset: yesterday
  sasl:
    mechanism: kerberos
inputs:
  - topic: auth
    format: xml
    extract:
      - field: message
        pattern: 'from (\S+)'
output:
  sinks:
    - type: webhook
      url: ftp://x
      topic: nope
`)
	c, err := Parse(path, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	want := []string{
		path + ":2: kafka.start_offset: \"yesterday\": want earliest, latest or an RFC 3339 time",
		path + ":4: kafka.sasl.mechanism: \"kerberos\"",
		path + ":7: inputs[0].format: \"xml\"",
		path + ":10: inputs[0].extract[0].pattern: no named group",
		path + ":14: output.sinks[0].url: \"ftp://x\"",
		path + ":15: output.sinks[0].topic: does not apply to a webhook sink",
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%s", len(lines), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("problem %d: %q, want prefix %q", i, lines[i], w)
		}
	}
}

func TestEnvironmentOverridesEveryScalarKey(t *testing.T) {
	path := write(t, "kafka:\n  group: from-file\n  sasl: {mechanism: plain, username: u, password: ${PW}}\n")
	env := map[string]string{
		"PW":                             "file-secret",
		"VIGIL_KAFKA_BROKERS":            "k1:9092, k2:9092",
		"VIGIL_KAFKA_TLS_ENABLED":        "true",
		"VIGIL_PIPELINE_COMMIT_INTERVAL": "250ms",
		"VIGIL_PIPELINE_WORKERS":         "3",
		"VIGIL_BUILTIN_LOGSOURCES":       "false",
		"VIGIL_LOG_LEVEL":                "",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	c, err := Parse(path, lookup)
	if err != nil {
		t.Fatal(err)
	}
	if c.Kafka.Group != "from-file" || c.Kafka.SASL.Password != "file-secret" {
		t.Errorf("file values: group %q password %q", c.Kafka.Group, c.Kafka.SASL.Password)
	}
	if !reflect.DeepEqual(c.Kafka.Brokers, []string{"k1:9092", "k2:9092"}) || !c.Kafka.TLS.Enabled ||
		c.Pipeline.CommitInterval != 250*time.Millisecond || c.Pipeline.Workers != 3 ||
		c.BuiltinLogsources == nil || *c.BuiltinLogsources || c.Log.Level != "info" {
		t.Errorf("environment not applied: %+v %+v", c.Kafka, c.Pipeline)
	}
	env["VIGIL_KAFKA_SASL_PASSWORD"] = "env-secret"
	if c, _ = Parse(path, lookup); c.Kafka.SASL.Password != "env-secret" {
		t.Errorf("environment does not override the file: %q", c.Kafka.SASL.Password)
	}
	env["VIGIL_PIPELINE_WORKERS"] = "lots"
	if _, err := Parse(path, lookup); err == nil || !strings.Contains(err.Error(), "VIGIL_PIPELINE_WORKERS") {
		t.Errorf("bad value: %v", err)
	}
	// Every scalar key can be set: the names are derived, so none is missing.
	for _, k := range Keys() {
		val := map[string]string{"string": "x", "bool": "true", "int": "7", "duration": "1s", "list": "a,b"}[k.Type]
		c := Default()
		if err := c.ApplyEnv(func(name string) (string, bool) { return val, name == k.Env }); err != nil {
			t.Errorf("%s: %v", k.Env, err)
		}
		if reflect.DeepEqual(c, Default()) {
			t.Errorf("%s changed nothing", k.Env)
		}
	}
}

func TestSetFlags(t *testing.T) {
	c := Default()
	if err := c.SetAll([]string{"kafka.sasl.mechanism=scram-sha-512", "output.stdout=true", "kafka.topics=a,b"}); err != nil {
		t.Fatal(err)
	}
	if c.Kafka.SASL.Mechanism != "scram-sha-512" || !c.Output.Stdout || len(c.Kafka.Topics) != 2 {
		t.Errorf("not set: %+v", c)
	}
	for _, bad := range []string{"nokey", "kafka.nosuch=1", "inputs=x", "kafka=x", "output.stdout=maybe"} {
		if err := c.SetAll([]string{bad}); err == nil {
			t.Errorf("--set %s: no error", bad)
		}
	}
}

func TestTopicsAndStartOffset(t *testing.T) {
	c := Default()
	if got := c.Topics(); !reflect.DeepEqual(got, []string{"events"}) {
		t.Errorf("default topics %v", got)
	}
	c.Inputs = []Input{{Topic: "auth", Format: "syslog"}, {Topic: "fw", Format: "cef"}}
	if got := c.Topics(); !reflect.DeepEqual(got, []string{"auth", "fw"}) {
		t.Errorf("input topics %v", got)
	}
	c.Kafka.Topics = []string{"auth"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), `inputs[1].topic: "fw" is not in kafka.topics`) {
		t.Errorf("unsubscribed input: %v", err)
	}
	for in, want := range map[string]StartOffset{"": {Earliest: true}, "earliest": {Earliest: true}, "latest": {},
		"2026-01-02T03:04:05Z": {At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}} {
		got, err := ParseStartOffset(in)
		if err != nil || got != want {
			t.Errorf("%q: %+v %v", in, got, err)
		}
	}
}

func TestCheckFiles(t *testing.T) {
	path := write(t, "rules: [builtin:starter, /no/such/rules]\nkafka:\n  tls:\n    enabled: true\n    ca_file: /no/such/ca.pem\n")
	c, err := Parse(path, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	err = c.CheckFiles()
	if err == nil || !strings.Contains(err.Error(), path+":1: rules[1]: /no/such/rules: no such file") ||
		!strings.Contains(err.Error(), path+":5: kafka.tls.ca_file: /no/such/ca.pem") {
		t.Errorf("check files: %v", err)
	}
}
