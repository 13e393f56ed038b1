package logging

import (
	"fmt"
	"log/slog"
	"strings"
)

// Level is a paniclog severity, Momentum's debug levels 0 to 5.
type Level uint8

// The levels, least severe first.
const (
	Debug Level = iota
	Info
	Notice
	Warning
	Error
	Critical
	numLevels
)

var levelNames = [numLevels]string{"DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL"}

// levelWords are the words the console's `paniclog` command shows in brackets; ERROR is
// "serious", as in the reference's example line.
var levelWords = [numLevels]string{"debug", "info", "notice", "warning", "serious", "critical"}

// String returns the level's name as the configuration writes it ("ERROR").
func (l Level) String() string {
	if l < numLevels {
		return levelNames[l]
	}
	return fmt.Sprintf("Level(%d)", uint8(l))
}

// Word returns the lower-case word the console shows for the level ("serious" for
// ERROR).
func (l Level) Word() string {
	if l < numLevels {
		return levelWords[l]
	}
	return l.String()
}

// ParseLevel reads a level name in any case.
func ParseLevel(s string) (Level, error) {
	for i, n := range levelNames {
		if strings.EqualFold(s, n) {
			return Level(i), nil
		}
	}
	return 0, fmt.Errorf("%w: %q (want one of %s)", ErrBadLevel, s, strings.Join(levelNames[:], ", "))
}

// The slog levels that stand for NOTICE and CRITICAL, which log/slog does not name.
// A module writes logger.Log(ctx, logging.SlogNotice, "...") for a NOTICE line.
const (
	SlogNotice   = slog.Level(2)
	SlogCritical = slog.Level(12)
)

// FromSlog maps a slog level to a paniclog level: below Info is DEBUG, Info up to
// SlogNotice is INFO, up to Warn NOTICE, up to Error WARNING, up to SlogCritical ERROR,
// and anything above CRITICAL.
func FromSlog(l slog.Level) Level {
	switch {
	case l < slog.LevelInfo:
		return Debug
	case l < SlogNotice:
		return Info
	case l < slog.LevelWarn:
		return Notice
	case l < slog.LevelError:
		return Warning
	case l < SlogCritical:
		return Error
	default:
		return Critical
	}
}

// ToSlog maps a paniclog level to the slog level that FromSlog maps back to it.
func ToSlog(l Level) slog.Level {
	switch l {
	case Debug:
		return slog.LevelDebug
	case Info:
		return slog.LevelInfo
	case Notice:
		return SlogNotice
	case Warning:
		return slog.LevelWarn
	case Error:
		return slog.LevelError
	default:
		return SlogCritical
	}
}
