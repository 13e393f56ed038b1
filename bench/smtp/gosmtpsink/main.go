// Command gosmtpsink is the go-smtp peer of the SMTP benchmark: an SMTP
// server built on github.com/emersion/go-smtp with a backend that reads and
// discards every message. It exists only for bench/smtp/run.sh; the daemon
// never imports go-smtp.
//
//	gosmtpsink -addr 127.0.0.1:2527
package main

import (
	"flag"
	"io"
	"log"
	"time"

	"github.com/emersion/go-smtp"
)

type backend struct{}

func (backend) NewSession(*smtp.Conn) (smtp.Session, error) { return session{}, nil }

// session accepts every envelope and throws the body away once read.
type session struct{}

func (session) Reset()                               {}
func (session) Logout() error                        { return nil }
func (session) Mail(string, *smtp.MailOptions) error { return nil }
func (session) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (session) Data(r io.Reader) error               { _, err := io.Copy(io.Discard, r); return err }

func main() {
	addr := flag.String("addr", "127.0.0.1:2527", "listen address")
	flag.Parse()
	s := smtp.NewServer(backend{})
	s.Addr = *addr
	s.Domain = "gosmtp.bench"
	s.ReadTimeout = time.Minute
	s.WriteTimeout = time.Minute
	s.MaxMessageBytes = 64 << 20
	s.MaxRecipients = 1000
	s.AllowInsecureAuth = true
	log.Fatal(s.ListenAndServe())
}
