package rules

import (
	"embed"
	"io/fs"
)

//go:embed starter/*.yml
var starterFS embed.FS

// Starter returns Vigil's own starter rules (detections and correlations for brute force,
// password spraying and hands-on-keyboard activity), embedded in the binary.
func Starter() fs.FS {
	sub, err := fs.Sub(starterFS, "starter")
	if err != nil {
		panic(err)
	}
	return sub
}

// StarterPrefix names embedded starter rule files in messages and alerts.
const StarterPrefix = "builtin:starter/"
