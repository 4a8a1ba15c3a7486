package main

import (
	"io"

	"github.com/vigil-detect/vigil/agent"
)

func cmdTest(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("test", "[--config FILE] [-v] PATH...",
		"Runs rule test cases: NAME.test.yml files beside the rules (events each rule must and must not\n"+
			"match; see README, 'Rule tests and explain'). PATH is a rule directory or file, or a test file.\n"+
			"Rules are compiled as the agent would with the config (routing, field mappings, placeholders,\n"+
			"filters). Prints each failing case with its explanation, then 'N tests, M failures'; exit 1 on\n"+
			"failures.", stderr)
	load := configFlags(fs)
	verbose := fs.Bool("v", false, "print every case, with its explanation")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	cfg, ok := load(stderr)
	if !ok || !finishConfig(cfg, stderr) {
		return 2
	}
	report, err := agent.TestRules(cfg, fs.Args())
	if err != nil {
		return fail(stderr, err)
	}
	report.Write(stdout, *verbose)
	if report.Failures > 0 || len(report.Results) == 0 {
		return 1
	}
	return 0
}
