package config

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors of the config package. Errors returned by this package wrap
// one of these (errors.Is works through *Error and ErrorList).
var (
	// ErrSyntax reports text that is not valid ecelerity.conf syntax.
	ErrSyntax = errors.New("config: syntax error")
	// ErrInclude reports an include that cannot be read or that forms a cycle.
	ErrInclude = errors.New("config: include failed")
	// ErrUnknownOption reports an option name that no definition matches.
	ErrUnknownOption = errors.New("config: unknown option")
	// ErrUnknownScope reports a scope keyword that is not defined.
	ErrUnknownScope = errors.New("config: unknown scope")
	// ErrMisplaced reports an option or scope used where its definition does not allow it.
	ErrMisplaced = errors.New("config: not valid in this scope")
	// ErrBadValue reports a value that does not parse as the option's type or fails Validate.
	ErrBadValue = errors.New("config: bad value")
	// ErrDuplicate reports a second definition of the same option or scope.
	ErrDuplicate = errors.New("config: already defined")
	// ErrBadDefinition reports an option or scope definition that is itself wrong.
	ErrBadDefinition = errors.New("config: bad definition")
	// ErrConflict reports a commit that lost the race against another commit.
	ErrConflict = errors.New("config: concurrent commit")
	// ErrTxnDone reports use of a transaction after Commit or Rollback.
	ErrTxnDone = errors.New("config: transaction already finished")
	// ErrInTxn reports a command that may not run inside a console transaction.
	ErrInTxn = errors.New("config: not allowed inside a transaction")
	// ErrNoTxn reports commit, rollback or replay without a console transaction.
	ErrNoTxn = errors.New("config: no transaction in progress")
	// ErrReadonly reports an attempt to change or write a read-only file.
	ErrReadonly = errors.New("config: read-only file")
	// ErrRejected reports a transaction vetoed by a participant.
	ErrRejected = errors.New("config: rejected")
	// ErrUsage reports a console command with wrong arguments.
	ErrUsage = errors.New("config: usage")
)

// Pos is a position in a configuration file. Line and Col count from 1; Col
// counts bytes. The zero Pos means "not from a file" (a console change or a
// default).
type Pos struct {
	File string
	Line int
	Col  int
}

// String formats p as file:line:col, or "<console>" for the zero Pos.
func (p Pos) String() string {
	if p.Line == 0 {
		if p.File != "" {
			return p.File
		}
		return "<console>"
	}
	file := p.File
	if file == "" {
		file = "<input>"
	}
	return fmt.Sprintf("%s:%d:%d", file, p.Line, p.Col)
}

// Error is one positioned configuration error. Kind is the sentinel it wraps.
type Error struct {
	Pos  Pos
	Kind error
	Msg  string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// Unwrap returns the sentinel (ErrSyntax, ErrBadValue, ...).
func (e *Error) Unwrap() error { return e.Kind }

func errorf(pos Pos, kind error, format string, args ...any) *Error {
	return &Error{Pos: pos, Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// ErrorList is every error of a rejected parse or transaction, in the order
// they were found. It is never empty when returned as an error.
type ErrorList []error

func (l ErrorList) Error() string {
	if len(l) == 1 {
		return l[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d errors:", len(l))
	for _, e := range l {
		b.WriteString("\n\t")
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap returns the individual errors so that errors.Is and errors.As see
// each of them.
func (l ErrorList) Unwrap() []error { return l }

// err returns l as an error, or nil when l is empty.
func (l ErrorList) err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}
