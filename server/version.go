package server

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// baseVersion is the version of a build that has no module version (go run, go
// build in the working tree).
const baseVersion = "0.1.0-dev"

// Product is the product name `sysinfo` shows.
const Product = "ecelerity-go"

type buildFacts struct {
	version, revision, date string
	modified                bool
}

var build = sync.OnceValue(func() buildFacts {
	f := buildFacts{version: baseVersion}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return f
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		f.version = v
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			f.revision = s.Value
		case "vcs.time":
			f.date = s.Value
		case "vcs.modified":
			f.modified = s.Value == "true"
		}
	}
	return f
})

// Version returns the server's version: the module version, or baseVersion with the
// commit it was built from.
func Version() string {
	f := build()
	v := f.version
	if f.revision != "" && v == baseVersion {
		v += "+" + f.revision[:min(12, len(f.revision))]
		if f.modified {
			v += ".dirty"
		}
	}
	return v
}

// versionText is the reply of `version`: the version alone on the first line, which
// the console puts in its banner.
func versionText() string {
	return fmt.Sprintf("%s\n%s %s/%s\n", Version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// sysinfoText is the reply of `sysinfo`: version, build date, product, OS release and
// uname.
func sysinfoText() string {
	f := build()
	date := f.date
	if date == "" {
		date = "unknown"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Version: %s\n", Version())
	fmt.Fprintf(&b, "Build Date: %s\n", date)
	fmt.Fprintf(&b, "Product: %s\n", Product)
	fmt.Fprintf(&b, "Go: %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(&b, "OS Release: %s\n", osRelease())
	var u unix.Utsname
	if err := unix.Uname(&u); err == nil {
		fmt.Fprintf(&b, "Uname: %s %s %s %s %s\n", unix.ByteSliceToString(u.Sysname[:]), unix.ByteSliceToString(u.Nodename[:]),
			unix.ByteSliceToString(u.Release[:]), unix.ByteSliceToString(u.Version[:]), unix.ByteSliceToString(u.Machine[:]))
	}
	return b.String()
}

// osRelease returns PRETTY_NAME from os-release, or "unknown".
func osRelease() string {
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for line := range strings.SplitSeq(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				return strings.Trim(v, `"'`)
			}
		}
	}
	return "unknown"
}
