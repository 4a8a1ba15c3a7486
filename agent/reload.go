package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/vigil-detect/vigil/config"
	"github.com/vigil-detect/vigil/pipeline"
)

// DefaultReloadInterval is how often rule files are checked for changes when reload.interval
// is not set.
const DefaultReloadInterval = 5 * time.Second

// usable decides whether a compiled rule set may run: it must hold at least one detection
// rule, and with reload.strict no rule may have failed.
func usable(cfg *config.Config, rs *pipeline.Ruleset) error {
	if len(rs.Detect.Rules) == 0 {
		return fmt.Errorf("no detection rule compiled (%d errors); nothing to do", len(rs.Errors()))
	}
	if errs := rs.Errors(); cfg.Reload.Strict && len(errs) > 0 {
		return fmt.Errorf("reload.strict: %d rules failed, the first: %v", len(errs), errs[0])
	}
	return nil
}

func (a *Agent) ruleMetrics(rs *pipeline.Ruleset) {
	a.Metrics.RulesLoaded.WithLabelValues("detection").Set(float64(len(rs.Detect.Rules)))
	a.Metrics.RulesLoaded.WithLabelValues("correlation").Set(float64(len(rs.Set.Correlations)))
	a.Metrics.RuleLoadErrors.Set(float64(len(rs.Errors())))
}

// Reload reads and compiles the configured rules again, off the hot path, and swaps them in when
// usable: batches fetched from then on are evaluated with the new set, stateful stages are told
// in stream order (pipeline.Reloader). When the new set is not usable (see usable) the running
// set stays and the error is returned. why is logged.
func (a *Agent) Reload(why string) error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	if a.runner == nil {
		return errors.New("reload: the agent is not started")
	}
	start := time.Now()
	a.loaded = fingerprint(a.watchedPaths())
	rs, err := CompileRules(a.Config)
	if err == nil {
		err = usable(a.Config, rs)
	}
	if err != nil {
		a.Metrics.Reloads.WithLabelValues("error").Inc()
		if rs != nil {
			for _, e := range rs.Errors() {
				a.Log.Warn("rule failed in rejected reload", "error", e)
			}
		}
		a.Log.Error("rule reload rejected; the previous rules keep running", "trigger", why, "error", err)
		return err
	}
	LogRuleProblems(a.Log, rs)
	a.runner.SetRules(rs)
	a.ruleMetrics(rs)
	a.Metrics.Reloads.WithLabelValues("ok").Inc()
	a.Log.Info("rules reloaded", "trigger", why, "took", time.Since(start).Round(time.Millisecond), "summary", rs.Summary())
	return nil
}

// watchRules reloads on every ReloadRequests receive and, unless reload.watch is false, when the
// rule files change. A change is acted on once the files have been still for one interval, so
// that a file caught half-written is not loaded.
func (a *Agent) watchRules(ctx context.Context) {
	watch := a.Config.Reload.Watch == nil || *a.Config.Reload.Watch
	interval := a.Config.Reload.Interval
	if interval <= 0 {
		interval = DefaultReloadInterval
	}
	var tick <-chan time.Time
	if watch {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	a.reloadMu.Lock()
	seen := a.loaded
	a.reloadMu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-a.ReloadRequests:
			if !ok {
				a.ReloadRequests = nil
				continue
			}
			a.Reload("signal")
		case <-tick:
			now := fingerprint(a.watchedPaths())
			a.reloadMu.Lock()
			changed := now != a.loaded && now == seen
			a.reloadMu.Unlock()
			if changed {
				a.Reload("rule files changed")
			}
			seen = now
		}
	}
}

// watchedPaths are the files a reload reads.
func (a *Agent) watchedPaths() []string {
	return append(append([]string{}, a.Config.Rules...), a.Config.Logsources...)
}

// fingerprint summarises the names, sizes and modification times of every file under paths
// (the embedded starter rules never change).
func fingerprint(paths []string) string {
	var parts []string
	for _, root := range paths {
		if root == BuiltinStarter {
			continue
		}
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				parts = append(parts, p+" "+err.Error())
				return nil
			}
			if d.IsDir() {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				parts = append(parts, p+" "+err.Error())
				return nil
			}
			parts = append(parts, fmt.Sprintf("%s %d %d", p, info.Size(), info.ModTime().UnixNano()))
			return nil
		})
		if err != nil {
			parts = append(parts, root+" "+err.Error())
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, "\n")
}
