package agent

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Commit and BuildDate are set at build time like Version (the Makefile and the Dockerfile do),
// for builds where the Go toolchain records no VCS information.
var (
	Commit    = ""
	BuildDate = ""
)

// BuildInfo describes the running binary.
type BuildInfo struct {
	Version  string // set with -ldflags "-X github.com/vigil-detect/vigil/agent.Version=..."
	Commit   string // VCS revision the binary was built from
	Time     string // commit time (or build date)
	Modified bool   // built from a tree with uncommitted changes
	Go       string
	Platform string // GOOS/GOARCH
}

// Build reads the binary's build information.
func Build() BuildInfo {
	b := BuildInfo{Version: Version, Commit: Commit, Time: BuildDate, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Commit = s.Value
			case "vcs.time":
				b.Time = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
		if b.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.Version = bi.Main.Version // go install module@version
		}
	}
	return b
}

// String is what `vigil version` prints.
func (b BuildInfo) String() string {
	var s strings.Builder
	fmt.Fprintf(&s, "vigil %s\n", b.Version)
	if b.Commit != "" {
		fmt.Fprintf(&s, "  commit:   %s", b.Commit)
		if b.Modified {
			s.WriteString(" (modified)")
		}
		s.WriteString("\n")
	}
	if b.Time != "" {
		fmt.Fprintf(&s, "  built at: %s\n", b.Time)
	}
	fmt.Fprintf(&s, "  go:       %s %s\n", b.Go, b.Platform)
	return s.String()
}
