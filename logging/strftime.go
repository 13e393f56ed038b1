package logging

import (
	"strconv"
	"strings"
	"time"
)

// DefaultTimestampFormat is Momentum's TimestampFormat default: the prefix of
// foreground log lines on stderr.
const DefaultTimestampFormat = "[%a %d %b %Y %H:%M:%S] "

// consoleFormat is how the console's `paniclog` command shows an entry's time.
const consoleFormat = "[%a %d %b %Y %H:%M:%S]"

// Strftime formats t with the strftime subset that TimestampFormat uses:
//
//	%a %A  weekday, short and long     %b %h %B  month, short and long
//	%d %e  day of month, 0- and space-padded   %j  day of year
//	%m     month number   %y %Y  year, 2 and 4 digits
//	%H %I  hour, 24 and 12   %M %S  minute, second   %p  AM or PM
//	%z %Z  zone offset and name   %s  Unix seconds
//	%F     %Y-%m-%d   %T  %H:%M:%S   %D  %m/%d/%y   %n %t  newline, tab   %%  a percent
//
// Any other conversion is written as is, so a typo shows in the output instead of
// vanishing.
func Strftime(format string, t time.Time) string {
	var b strings.Builder
	b.Grow(len(format) + 16)
	appendStrftime(&b, format, t)
	return b.String()
}

func appendStrftime(b *strings.Builder, format string, t time.Time) {
	pad2 := func(n int) {
		if n < 10 {
			b.WriteByte('0')
		}
		b.WriteString(strconv.Itoa(n))
	}
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 == len(format) {
			b.WriteByte(c)
			continue
		}
		i++
		switch format[i] {
		case 'a':
			b.WriteString(t.Weekday().String()[:3])
		case 'A':
			b.WriteString(t.Weekday().String())
		case 'b', 'h':
			b.WriteString(t.Month().String()[:3])
		case 'B':
			b.WriteString(t.Month().String())
		case 'd':
			pad2(t.Day())
		case 'e':
			if t.Day() < 10 {
				b.WriteByte(' ')
			}
			b.WriteString(strconv.Itoa(t.Day()))
		case 'j':
			d := t.YearDay()
			if d < 100 {
				b.WriteByte('0')
			}
			pad2(d)
		case 'm':
			pad2(int(t.Month()))
		case 'y':
			pad2(t.Year() % 100)
		case 'Y':
			b.WriteString(strconv.Itoa(t.Year()))
		case 'H':
			pad2(t.Hour())
		case 'I':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			pad2(h)
		case 'M':
			pad2(t.Minute())
		case 'S':
			pad2(t.Second())
		case 'p':
			if t.Hour() < 12 {
				b.WriteString("AM")
			} else {
				b.WriteString("PM")
			}
		case 'z':
			b.WriteString(t.Format("-0700"))
		case 'Z':
			name, _ := t.Zone()
			b.WriteString(name)
		case 's':
			b.WriteString(strconv.FormatInt(t.Unix(), 10))
		case 'F':
			appendStrftime(b, "%Y-%m-%d", t)
		case 'T':
			appendStrftime(b, "%H:%M:%S", t)
		case 'D':
			appendStrftime(b, "%m/%d/%y", t)
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(format[i])
		}
	}
}
