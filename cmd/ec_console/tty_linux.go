package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"golang.org/x/sys/unix"
)

// withFd runs fn on f's descriptor without f.Fd(), which would switch the descriptor
// to blocking mode.
func withFd(f *os.File, fn func(fd int) error) error {
	raw, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var fnErr error
	if err := raw.Control(func(fd uintptr) { fnErr = fn(int(fd)) }); err != nil {
		return err
	}
	return fnErr
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	return withFd(f, func(fd int) error {
		_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
		return err
	}) == nil
}

// askSecret prints prompt on the controlling terminal and reads a line from it with
// echo off. It uses /dev/tty rather than stdin so that commands can still be piped in.
// An interrupt while it waits restores the terminal before the process ends.
func askSecret(prompt string) ([]byte, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("no terminal to ask for the secret on (%w); give -secret-file or $%s", err, secretFileEnv)
	}
	defer tty.Close()
	var saved *unix.Termios
	err = withFd(tty, func(fd int) error {
		t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
		if err != nil {
			return os.NewSyscallError("ioctl TCGETS", err)
		}
		saved = t
		quiet := *t
		quiet.Lflag &^= unix.ECHO
		quiet.Lflag |= unix.ICANON | unix.ISIG
		quiet.Iflag |= unix.ICRNL
		return os.NewSyscallError("ioctl TCSETS", unix.IoctlSetTermios(fd, unix.TCSETS, &quiet))
	})
	if err != nil {
		return nil, err
	}
	restore := func() {
		withFd(tty, func(fd int) error { return unix.IoctlSetTermios(fd, unix.TCSETS, saved) })
	}
	defer restore()

	// Leaving with echo off would leave the operator's shell blind.
	interrupted := make(chan os.Signal, 1)
	signal.Notify(interrupted, unix.SIGINT, unix.SIGTERM, unix.SIGHUP)
	defer signal.Stop(interrupted)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-interrupted:
			restore()
			tty.WriteString("\n")
			os.Exit(130)
		case <-done:
		}
	}()

	tty.WriteString(prompt)
	line, err := bufio.NewReader(tty).ReadString('\n')
	tty.WriteString("\n")
	if err != nil {
		return nil, fmt.Errorf("reading the secret: %w", err)
	}
	secret := strings.TrimRight(line, "\r\n")
	if secret == "" {
		return nil, errors.New("empty secret")
	}
	return []byte(secret), nil
}
