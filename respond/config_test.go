package respond

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestParseConfigErrorsCarryFileAndLine(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string // substrings of the error
	}{
		{"unknown key", "actions:\n  block_ip:\n    type: webhook\n    url: http://127.0.0.1/x\n    tagret: ip\n",
			[]string{"test.yaml:5: unknown key response.actions.block_ip.tagret (did you mean target?)"}},
		{"unknown key far off", "playbooks:\n  - name: p\n    when: {}\n",
			[]string{"test.yaml:3: unknown key response.playbooks[0].when (known keys: actions, enabled, match, mode, name)"}},
		{"bad type", "playbooks:\n  - name: p\n    match:\n      min_score: lots\n",
			[]string{"test.yaml:4: response: cannot unmarshal"}},
		{"bare number duration", "actions:\n  notify:\n    type: webhook\n    url: http://127.0.0.1/x\n    timeout: 10\n",
			[]string{"test.yaml:5: response:", "not a duration"}},
		{"empty url", "actions:\n  block_ip:\n    type: webhook\n    url: \"\"\n",
			[]string{"test.yaml:4: response.actions.block_ip.url: required", "environment variable"}},
		{"template typo", "actions:\n  block_ip:\n    type: webhook\n    url: http://127.0.0.1/x\n    body: '{\"ip\": {{json .Tagret}}}'\n",
			[]string{"test.yaml:2: response.actions.block_ip:", "Tagret"}},
		{"body not json", "actions:\n  notify:\n    type: webhook\n    url: http://127.0.0.1/x\n    body: 'ip={{.Target}}'\n",
			[]string{"not valid JSON"}},
		{"program templated", "actions:\n  isolate_host:\n    type: exec\n    command: ['{{.Target}}']\n",
			[]string{"test.yaml:4: response.actions.isolate_host.command[0]: the program cannot be a template"}},
		{"program missing", "actions:\n  isolate_host:\n    type: exec\n    command: [/nonexistent/isolate, '{{.Target}}']\n",
			[]string{"test.yaml:4: response.actions.isolate_host.command[0]:", "/nonexistent/isolate"}},
		{"builtin target fixed", "actions:\n  block_ip:\n    type: webhook\n    url: http://127.0.0.1/x\n    target: user\n",
			[]string{"test.yaml:5: response.actions.block_ip.target: block_ip always acts on ip"}},
		{"custom needs target", "actions:\n  page:\n    type: webhook\n    url: http://127.0.0.1/x\n",
			[]string{"response.actions.page: target is required"}},
		{"undefined action", "playbooks:\n  - name: p\n    actions:\n      - action: block_ip\n",
			[]string{"test.yaml:4: response.playbooks[0].actions[0].action: action \"block_ip\" is not defined", "needs a transport"}},
		{"bad level and mode", "playbooks:\n  - name: p\n    mode: yolo\n    match: {min_level: severe}\n    actions: []\n",
			[]string{"test.yaml:3: response.playbooks[0].mode: \"yolo\"", "response.playbooks[0].match.min_level: level \"severe\"", "no actions"}},
		{"approval needs token", "approvals: {}\nactions:\n  block_ip: {type: webhook, url: 'http://127.0.0.1/x'}\nplaybooks:\n  - name: p\n    mode: enforce\n    actions: [{action: block_ip, approval: required}]\n",
			[]string{"response.approvals.token: required"}},
		{"short token", "approvals: {token: short}\nactions:\n  block_ip: {type: webhook, url: 'http://127.0.0.1/x'}\nplaybooks:\n  - name: p\n    mode: enforce\n    actions: [{action: block_ip, approval: required}]\n",
			[]string{"test.yaml:1: response.approvals.token: too short"}},
		{"bad cidr", "allowlist:\n  cidrs: [198.51.100.0/24, nonsense]\n", []string{"test.yaml:2: response.allowlist.cidrs[1]: \"nonsense\""}},
		{"bad rate", "rate_limit: fast\n", []string{"test.yaml:1: response.rate_limit: rate \"fast\""}},
		{"risk threshold", "risk:\n  entities: [user, device]\n", []string{"response.risk.threshold: must be greater than 0", "response.risk.entities[1]: \"device\""}},
		{"not reversible", "actions:\n  notify:\n    type: webhook\n    url: http://127.0.0.1/x\n    revert_after: 1h\n",
			[]string{"test.yaml:5: response.actions.notify.revert_after: notify is not reversible"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("VIGIL_APPROVAL_TOKEN", "")
			_, err := parseYAML(t, tc.yaml)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestParseConfigAbsentAndValid(t *testing.T) {
	c, err := ParseConfig(&yaml.Node{}, "x.yaml")
	if c != nil || err != nil {
		t.Fatalf("absent section: %v %v", c, err)
	}
	c, err = parseYAML(t, `
allowlist: {cidrs: [198.51.100.0/24, 192.0.2.7], users: [administrator], hosts: [NW-DC01]}
rate_limit: 100/1h
actions:
  block_ip: {type: webhook, url: 'https://fw.example/block', secret: s, revert_after: 1h}
  ticket: {type: kafka, target: alert, topic: tickets}
  isolate_host: {type: exec, command: ['true', --, '{{.Target}}'], rate_limit: unlimited}
playbooks:
  - name: p
    match: {rules: [x], tags: [attack.t1110], min_level: high, min_score: 50, kinds: [correlation], entity: ip}
    actions: [{action: block_ip}, {action: ticket, params: {queue: soc}}, {action: isolate_host}]
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Actions) != 3 || len(c.Playbooks) != 1 || c.Playbooks[0].Mode != "" {
		t.Errorf("decoded %+v", c)
	}
}

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		secs float64
		bad  bool
	}{{"30/1m", 30, 60, false}, {"5/s", 5, 1, false}, {"100/h", 100, 3600, false}, {"10/30s", 10, 30, false},
		{"unlimited", 0, 0, false}, {"0/m", 0, 0, true}, {"x/m", 0, 0, true}, {"5", 0, 0, true}, {"5/-1s", 0, 0, true}} {
		r, err := parseRate(tc.in, "")
		if (err != nil) != tc.bad || !tc.bad && (r.n != tc.n || r.period.Seconds() != tc.secs) {
			t.Errorf("%q: %+v %v", tc.in, r, err)
		}
	}
}
