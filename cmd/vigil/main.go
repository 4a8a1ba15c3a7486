// Command vigil is a streaming Sigma detection and response agent.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	_ "time/tzdata" // syslog inputs name time zones; static images have no zoneinfo
)

type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

var commands []command

func init() {
	commands = []command{
		{"run", "consume Kafka topics, detect, correlate, respond, produce alerts", cmdRun},
		{"eval", "run the pipeline over events in files or stdin (NDJSON, syslog, ...); alerts to stdout", cmdEval},
		{"demo", "embedded broker + generated attack traffic + starter rules, alerts shown live", cmdDemo},
		{"broker", "a local Kafka-protocol development broker on 127.0.0.1", cmdBroker},
		{"lint", "compile rule files and report every problem with file and line", cmdLint},
		{"test", "run rule test cases (NAME.test.yml: events a rule must and must not match)", cmdTest},
		{"bench", "measure events/s, allocations and latency on generated lanes or a file", cmdBench},
		{"config", "check a configuration file: 'vigil config check FILE'", cmdConfig},
		{"version", "print the version and build information", cmdVersion},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Vigil: streaming Sigma detection and response.")
	fmt.Fprintln(w, "\nUsage: vigil <command> [flags]\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'vigil <command> -h' for a command's flags.")
}

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return 0
	case "-v", "--version":
		return cmdVersion(nil, stdout, stderr)
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "vigil: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

// newFlags makes a flag set whose -h output names the command and its arguments.
func newFlags(name, args, about string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("vigil "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: vigil %s\n\n%s\n", strings.TrimSpace(name+" "+args), about)
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(stderr, "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parse parses flags; ok is false when the command should exit with code.
func parse(fs *flag.FlagSet, args []string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	return 0, true
}

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// signalContext is cancelled by SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// reloadSignal delivers SIGHUP, which asks `vigil run` to reload its rules.
func reloadSignal() <-chan os.Signal {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGHUP)
	return c
}

func fail(stderr io.Writer, err error) int {
	fmt.Fprintln(stderr, "vigil:", err)
	return 1
}
