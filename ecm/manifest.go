package ecm

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors of package ecm. Errors returned by [Parse] and [Scan] wrap one of these.
var (
	// ErrSyntax reports a line that is neither a section header, a key = value pair, a comment
	// nor blank, or a key outside any section.
	ErrSyntax = errors.New("ecm: syntax error")
	// ErrBadProvides reports an msys.provides value that is not a capability path such as
	// config.Global:Binding:Domain.Option.
	ErrBadProvides = errors.New("ecm: malformed msys.provides")
	// ErrBadName reports a section or dependency name that is not a valid module name.
	ErrBadName = errors.New("ecm: bad module name")
	// ErrDuplicate reports a module declared twice in the same file.
	ErrDuplicate = errors.New("ecm: duplicate module")
)

// Pos is a position in a manifest file. Line is 1-based.
type Pos struct {
	File string
	Line int
}

// String formats the position as file:line.
func (p Pos) String() string { return fmt.Sprintf("%s:%d", p.File, p.Line) }

// Error is a problem found in a manifest, with its position. It unwraps to one of the
// package's sentinel errors.
type Error struct {
	Pos Pos
	Msg string
	Err error
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Pos, e.Msg) }
func (e *Error) Unwrap() error { return e.Err }

// Manifest is one module's section of an .ecm file.
type Manifest struct {
	// Name is the module's name as written in the section header ("[name]").
	Name string
	// Pos is where the section header is.
	Pos Pos
	// Requires lists the modules to load before this one, in the order written.
	Requires []string
	// Provides lists the capabilities that load this module implicitly, in the order written.
	Provides []Capability
	// Attrs keeps every other key of the section (lower-cased) with its last value, so that
	// tools can show what the build wrote without this package having to know every key.
	Attrs map[string]string
}

// Capability is one msys.provides entry. For a configuration capability such as
// config.Global:Binding:Domain.MyKey, Kind is "config", Scopes is [Global Binding Domain] and
// Option is "MyKey". Other kinds keep their text in Path.
type Capability struct {
	Kind   string
	Scopes []string
	Option string
	// Path is the capability as written after the kind prefix.
	Path string
	// Auto reports whether the line was written msys.provides:auto.
	Auto bool
	Pos  Pos
}

// String gives the capability back in manifest syntax (without the :auto tag).
func (c Capability) String() string { return c.Kind + "." + c.Path }

// ScopePath gives the scope chain joined with ':' ("Global:Binding:Domain").
func (c Capability) ScopePath() string { return strings.Join(c.Scopes, ":") }
