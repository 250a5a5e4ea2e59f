// Package version holds the release version, stamped at build time:
//
//	go build -ldflags "-X github.com/skydns/skydns/internal/version.Version=1.2.3"
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is the release; "dev" for a build without -ldflags.
var Version = "dev"

// String is what `-version` prints: program, version, commit, Go version.
func String(program string) string {
	commit := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				commit = "commit " + s.Value[:12] + ", "
			}
		}
	}
	return fmt.Sprintf("%s %s (%s%s %s/%s)", program, Version, commit,
		runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
