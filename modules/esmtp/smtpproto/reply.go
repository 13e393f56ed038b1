package smtpproto

import (
	"strconv"
	"strings"
)

// Reply is one SMTP reply: a three-digit code, an optional enhanced status
// code (RFC 3463, "x.y.z") and text, whose lines (separated by '\n') become
// the lines of a multi-line reply.
type Reply struct {
	Code     int
	Enhanced string
	Text     string
}

// Append formats r onto dst; see AppendReply.
func (r Reply) Append(dst []byte, enhanced bool) []byte {
	e := r.Enhanced
	if !enhanced {
		e = ""
	}
	return AppendReply(dst, r.Code, e, r.Text)
}

// AppendReply formats a reply onto dst and returns the extended slice: every
// line but the last as "code-enhanced text\r\n", the last with a space after
// the code. An empty enhanced code is left out. CR and LF inside text only
// separate lines; they never reach the wire unpaired. Any goroutine.
func AppendReply(dst []byte, code int, enhanced, text string) []byte {
	for {
		line, rest, more := strings.Cut(text, "\n")
		line = strings.TrimSuffix(line, "\r")
		dst = strconv.AppendInt(dst, int64(code), 10)
		if more {
			dst = append(dst, '-')
		} else {
			dst = append(dst, ' ')
		}
		if enhanced != "" {
			dst = append(dst, enhanced...)
			if line != "" {
				dst = append(dst, ' ')
			}
		}
		dst = append(dst, line...)
		dst = append(dst, '\r', '\n')
		if !more {
			return dst
		}
		text = rest
	}
}

// Class returns the enhanced status class that goes with a reply code: "2",
// "4" or "5" (RFC 3463 uses the reply's first digit; 3xx replies carry "2").
func Class(code int) byte {
	switch code / 100 {
	case 4:
		return '4'
	case 5:
		return '5'
	}
	return '2'
}
